import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { TABLES, type TableName } from '../../control-plane/store/tables';

export interface ControlPlaneTablesProps {
  /**
   * What happens to the tables (tenants, releases, rollouts, audit trail) when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The control plane's state: the tenant registry, the releases and channels, the rollouts and the audit trail. On
 * demand, with point-in-time recovery; the audit trail and the registry are retained with the stack's data.
 */
export class ControlPlaneTables extends Construct {
  readonly tables: Record<TableName, dynamodb.Table>;

  constructor(scope: Construct, id: string, props: ControlPlaneTablesProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const table = (name: string, partitionKey: string, sortKey?: string) => new dynamodb.Table(this, name, {
      partitionKey: { name: partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: sortKey === undefined ? undefined : { name: sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: removalPolicy !== RemovalPolicy.DESTROY,
      removalPolicy,
    });
    const rollouts = table('Rollouts', TABLES.rollouts.partitionKey);
    const { listingIndex } = TABLES.rollouts;
    rollouts.addGlobalSecondaryIndex({
      indexName: listingIndex.name,
      partitionKey: { name: listingIndex.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: listingIndex.sortKey, type: dynamodb.AttributeType.STRING },
    });
    const audit = table('Audit', TABLES.audit.partitionKey, TABLES.audit.sortKey);
    const { tenantIndex } = TABLES.audit;
    audit.addGlobalSecondaryIndex({
      indexName: tenantIndex.name,
      partitionKey: { name: tenantIndex.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: tenantIndex.sortKey, type: dynamodb.AttributeType.STRING },
    });
    this.tables = {
      tenants: table('Tenants', TABLES.tenants.partitionKey),
      releases: table('Releases', TABLES.releases.partitionKey),
      channels: table('Channels', TABLES.channels.partitionKey),
      rollouts,
      audit,
    };
  }

  /** The environment variables that name the tables to the code in control-plane/. */
  get environment(): Record<string, string> {
    return Object.fromEntries((Object.entries(this.tables) as Array<[TableName, dynamodb.Table]>).map(([name, table]) => [TABLES[name].env, table.tableName]));
  }

  /**
   * What a rollout tick needs: read and write rollouts, read the registry and the catalog, record tenants' outcomes,
   * append to the audit trail (never rewrite or delete it).
   */
  grantRolloutAccess(grantee: iam.IGrantable): void {
    this.tables.rollouts.grantReadWriteData(grantee);
    this.tables.releases.grantReadData(grantee);
    this.tables.channels.grantReadData(grantee);
    this.tables.tenants.grantReadData(grantee);
    this.tables.tenants.grant(grantee, 'dynamodb:UpdateItem');
    this.tables.audit.grant(grantee, 'dynamodb:PutItem');
  }
}
