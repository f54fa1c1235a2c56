import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as timestream from 'aws-cdk-lib/aws-timestream';
import { Construct } from 'constructs';
import { TimestreamTable } from '../../sensor/common/telemetry-contract';

export interface MetricStoreProps {
  /** Key that encrypts the database. */
  readonly encryptionKey: kms.IKey;
  /**
   * How long records stay in the fast memory store.
   * @default Duration.hours(24)
   */
  readonly memoryRetention?: Duration;
  /**
   * How long records stay in the magnetic store.
   * @default Duration.days(365)
   */
  readonly magneticRetention?: Duration;
  /**
   * What happens to the database and tables when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** Timestream for LiveAnalytics database with the per-call and sensor-health tables the gateway writes. */
export class MetricStore extends Construct {
  readonly database: timestream.CfnDatabase;
  readonly tables: Record<keyof typeof TimestreamTable, timestream.CfnTable>;

  constructor(scope: Construct, id: string, props: MetricStoreProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.database = new timestream.CfnDatabase(this, 'Database', { kmsKeyId: props.encryptionKey.keyArn });
    this.database.applyRemovalPolicy(removalPolicy);

    const retentionProperties = {
      MemoryStoreRetentionPeriodInHours: String((props.memoryRetention ?? Duration.hours(24)).toHours()),
      MagneticStoreRetentionPeriodInDays: String((props.magneticRetention ?? Duration.days(365)).toDays()),
    };
    const table = (logicalId: string, tableName: string): timestream.CfnTable => {
      const created = new timestream.CfnTable(this, logicalId, {
        databaseName: this.databaseName,
        tableName,
        retentionProperties,
        // Spans replayed from a spool after an outage can be older than the memory store window.
        magneticStoreWriteProperties: { EnableMagneticStoreWrites: true },
      });
      created.applyRemovalPolicy(removalPolicy);
      created.addResourceDependency(this.database);
      return created;
    };
    // Timestream for LiveAnalytics is closed to new customers; it stays the default by design and one flag turns it off.
    Validations.of(this).acknowledge({
      id: 'CloudFormation-Validate::W3697',
      reason: 'Timestream for LiveAnalytics is the designed metric store; sightline:timestream=false switches to CloudWatch-only.',
    });
    this.tables = {
      llmCalls: table('LlmCalls', TimestreamTable.llmCalls),
      sensorHealth: table('SensorHealth', TimestreamTable.sensorHealth),
    };
  }

  get databaseName(): string {
    return this.database.ref;
  }

  get tableArns(): string[] {
    return Object.values(this.tables).map((table) => table.attrArn);
  }
}
