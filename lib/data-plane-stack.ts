import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { GatewayCluster } from './constructs/gateway-cluster';
import { GatewayWriterRole } from './constructs/gateway-writer-role';
import { LlmMonitoring } from './constructs/llm-monitoring';
import { MetricStore } from './constructs/metric-store';
import { SpanBucket } from './constructs/span-bucket';
import { SpanCatalog } from './constructs/span-catalog';
import { sightlineImageUri } from './constructs/sightline-image';

export interface DataPlaneStackProps extends StackProps {
  /**
   * Sightline container image URI.
   * @default - built from the repository Dockerfile as an image asset
   */
  readonly image?: string;
  /**
   * Create the Timestream for LiveAnalytics database; off means CloudWatch-only metrics.
   * @default true
   */
  readonly timestream?: boolean;
  /**
   * Latency SLA per LLM call in milliseconds.
   * @default 1000
   */
  readonly slaMs?: number;
  /**
   * Tokens per hour above which the budget alarm fires.
   * @default 5_000_000
   */
  readonly tokenBudgetPerHour?: number;
  /**
   * Address subscribed to the alarm topic.
   * @default - none
   */
  readonly alarmEmail?: string;
  /**
   * Accounts whose workload VPCs may connect to the gateway endpoint service.
   * @default - none
   */
  readonly workloadAccounts?: string[];
  /**
   * CIDR ranges that may reach the cluster API publicly.
   * @default - private API only
   */
  readonly apiAccessCidrs?: string[];
  /**
   * Removal policy of the stateful resources (key, buckets, Timestream).
   * @default RemovalPolicy.RETAIN
   */
  readonly dataRemovalPolicy?: RemovalPolicy;
}

/**
 * Everything that lives in the data-plane account: the stores, the catalog, the dashboard and alarms, and the
 * cluster running the gateway. It defines no cross-account role; an operator stack targets it from outside.
 */
export class DataPlaneStack extends Stack {
  readonly encryptionKey: kms.Key;
  readonly spans: SpanBucket;
  readonly catalog: SpanCatalog;
  readonly metricStore?: MetricStore;
  readonly monitoring: LlmMonitoring;
  readonly writer: GatewayWriterRole;
  readonly gateway: GatewayCluster;
  readonly image: string;

  constructor(scope: Construct, id: string, props: DataPlaneStackProps = {}) {
    super(scope, id, props);
    const removalPolicy = props.dataRemovalPolicy ?? RemovalPolicy.RETAIN;
    const slaMs = props.slaMs ?? 1000;

    this.encryptionKey = new kms.Key(this, 'DataKey', {
      description: 'Sightline data plane: spans, payloads, metrics and alarms',
      enableKeyRotation: true,
      removalPolicy,
    });
    this.spans = new SpanBucket(this, 'Spans', { encryptionKey: this.encryptionKey, removalPolicy });
    this.catalog = new SpanCatalog(this, 'Catalog', { bucket: this.spans.bucket, encryptionKey: this.encryptionKey, slaMs });
    if (props.timestream ?? true) {
      this.metricStore = new MetricStore(this, 'Timestream', { encryptionKey: this.encryptionKey, removalPolicy });
    }
    this.monitoring = new LlmMonitoring(this, 'Monitoring', {
      encryptionKey: this.encryptionKey,
      slaMs,
      tokenBudgetPerHour: props.tokenBudgetPerHour ?? 5_000_000,
      alarmEmail: props.alarmEmail,
    });
    this.writer = new GatewayWriterRole(this, 'GatewayWriter', {
      spanBucket: this.spans.bucket,
      encryptionKey: this.encryptionKey,
      // The gateway writes call records only; sensor health goes to CloudWatch.
      timestreamTableArns: this.metricStore ? [this.metricStore.tables.llmCalls.attrArn] : undefined,
    });
    this.image = sightlineImageUri(this, props.image);
    this.gateway = new GatewayCluster(this, 'Gateway', {
      image: this.image,
      writerRole: this.writer.role,
      secretsKey: this.encryptionKey,
      workloadAccounts: props.workloadAccounts,
      apiAccessCidrs: props.apiAccessCidrs,
      sinks: {
        region: this.region,
        spanBucketName: this.spans.bucket.bucketName,
        timestreamDatabaseName: this.metricStore?.databaseName,
        slaMs,
      },
    });

    new CfnOutput(this, 'SpanBucketName', { value: this.spans.bucket.bucketName });
    new CfnOutput(this, 'AthenaWorkGroup', { value: this.catalog.workGroup.ref });
    new CfnOutput(this, 'DashboardUrl', { value: this.monitoring.dashboardUrl });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.monitoring.alarmTopic.topicArn });
    new CfnOutput(this, 'GatewayWriterRoleArn', { value: this.writer.role.roleArn });
  }
}
