import { Annotations, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { DataKey } from './constructs/data-key';
import { GatewayCluster } from './constructs/gateway-cluster';
import { GatewayWriterRole } from './constructs/gateway-writer-role';
import { LlmMonitoring } from './constructs/llm-monitoring';
import { MetricStore } from './constructs/metric-store';
import { OperatorAccess, type OperatorAccessOptions } from './constructs/operator-access';
import { SpanBucket } from './constructs/span-bucket';
import { SpanCatalog } from './constructs/span-catalog';
import { TransportSecrets, type SensorCluster } from './constructs/transport-secrets';
import { gatewayServerName } from './charts/gateway-chart';
import { KUBERNETES_NAMESPACE } from '../sensor/common/telemetry-contract';
import { sightlineImageUri } from './constructs/sightline-image';
import { deploymentNames } from './deployment-names';
import { retainFunctionLogs } from './log-retention';

export interface DataPlaneStackProps extends StackProps {
  /**
   * Sightline container image URI, best pinned by digest (`repo@sha256:...`).
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
   * @default - none (a synth warning and the AlarmSubscription output say so)
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
   * Networks besides the data-plane VPC (peered VPCs, Transit Gateway) whose sensors reach the NLB directly.
   * @default - none
   */
  readonly gatewayClientCidrs?: string[];
  /**
   * Availability Zones of the data-plane VPC.
   * @default 2
   */
  readonly maxAzs?: number;
  /**
   * One NAT gateway per Availability Zone.
   * @default false
   */
  readonly natGatewayPerAz?: boolean;
  /**
   * Interface endpoints for CloudWatch, EKS Pod Identity and Timestream.
   * @default false
   */
  readonly interfaceEndpoints?: boolean;
  /**
   * Timestream ingest cell for its interface endpoint (`cell1`, ...).
   * @default - none
   */
  readonly timestreamIngestCell?: string;
  /**
   * S3 Object Lock (governance mode) on the span bucket for this long after each write.
   * @default - no Object Lock
   */
  readonly objectLockRetention?: Duration;
  /**
   * Largest scan of one Athena query in the workgroup, in GiB.
   * @default 10
   */
  readonly athenaScanLimitGiB?: number;
  /**
   * Name that sets this deployment apart from others in the same account and region (Glue database, Athena
   * workgroup, alarm names).
   * @default - the default names (`sightline`, `Sightline-...`)
   */
  readonly deployment?: string;
  /**
   * Workload clusters whose sensors ship to this gateway: each gets a bearer token its account may read.
   * @default - none
   */
  readonly sensorClusters?: SensorCluster[];
  /**
   * A sensor on the data-plane cluster itself (all-in-one): its cluster gets a token too.
   * @default false
   */
  readonly sensorOnGatewayCluster?: boolean;
  /**
   * Raise it to issue the gateway a new TLS certificate (same CA; sensors need nothing new).
   * @default 1
   */
  readonly gatewayCertificateGeneration?: number;
  /**
   * Removal policy of the stateful resources (data key, buckets, Timestream).
   * @default RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE (kept on delete and replacement; removed if the first create fails)
   */
  readonly dataRemovalPolicy?: RemovalPolicy;
  /**
   * Lets the vendor's control plane upgrade and scale the gateway (and, all-in-one, the sensor) through the
   * `sightline-operator` role, denied every data read here and in the bucket and key policies.
   * @default - no vendor access
   */
  readonly operatorAccess?: OperatorAccessOptions;
}

/**
 * Everything that lives in the data-plane account: the stores, the catalog, the dashboard and alarms, and the
 * cluster running the gateway. Its only cross-account role is the vendor's operator role, and only when asked for.
 */
export class DataPlaneStack extends Stack {
  /** Encrypts the customer's data: span objects, Timestream records, Athena results. */
  readonly dataKey: kms.Key;
  /** Encrypts the platform: EKS secrets and the alarm topics. */
  readonly platformKey: kms.Key;
  readonly spans: SpanBucket;
  readonly catalog: SpanCatalog;
  readonly metricStore?: MetricStore;
  readonly monitoring: LlmMonitoring;
  readonly writer: GatewayWriterRole;
  /** The gateway's certificate and CA, and the sensor clusters' tokens. */
  readonly transport: TransportSecrets;
  readonly gateway: GatewayCluster;
  readonly image: string;
  readonly operatorAccess?: OperatorAccess;

  constructor(scope: Construct, id: string, props: DataPlaneStackProps = {}) {
    super(scope, id, props);
    const removalPolicy = props.dataRemovalPolicy ?? RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE;
    const slaMs = props.slaMs ?? 1000;
    const names = deploymentNames(props.deployment);

    this.dataKey = new DataKey(this, 'DataKey', { removalPolicy }).key;
    this.platformKey = new kms.Key(this, 'PlatformKey', {
      description: 'Sightline platform: EKS secrets and alarm topics (no customer data)',
      enableKeyRotation: true,
      removalPolicy,
    });
    this.spans = new SpanBucket(this, 'Spans', { encryptionKey: this.dataKey, removalPolicy, objectLockRetention: props.objectLockRetention });
    this.catalog = new SpanCatalog(this, 'Catalog', {
      bucket: this.spans.bucket,
      encryptionKey: this.dataKey,
      slaMs,
      databaseName: names.glueDatabase,
      workGroupName: names.athenaWorkGroup,
      bytesScannedCutoffPerQuery: Math.round((props.athenaScanLimitGiB ?? 10) * 1024 ** 3),
    });
    if (props.timestream ?? true) {
      this.metricStore = new MetricStore(this, 'Timestream', { encryptionKey: this.dataKey, removalPolicy });
    }
    this.monitoring = new LlmMonitoring(this, 'Monitoring', {
      encryptionKey: this.platformKey,
      slaMs,
      tokenBudgetPerHour: props.tokenBudgetPerHour ?? 5_000_000,
      alarmEmail: props.alarmEmail,
      alarmNamePrefix: names.alarmPrefix,
    });
    this.writer = new GatewayWriterRole(this, 'GatewayWriter', {
      spanBucket: this.spans.bucket,
      encryptionKey: this.dataKey,
      // The gateway writes call records only; sensor health goes to CloudWatch.
      timestreamTableArns: this.metricStore ? [this.metricStore.tables.llmCalls.attrArn] : undefined,
    });
    this.image = sightlineImageUri(this, props.image);
    const gatewayClusterName = GatewayCluster.clusterNameOf(this);
    this.transport = new TransportSecrets(this, 'Transport', {
      sensorClusters: [
        ...(props.sensorOnGatewayCluster ? [{ name: gatewayClusterName }] : []),
        ...(props.sensorClusters ?? []),
      ],
      serverNames: [gatewayServerName(KUBERNETES_NAMESPACE), `${gatewayServerName(KUBERNETES_NAMESPACE)}.cluster.local`],
      certificateGeneration: props.gatewayCertificateGeneration,
      removalPolicy,
    });
    this.transport.grantGatewayRead(this.writer.role);
    const replicas = { min: 2, max: 10 };
    this.gateway = new GatewayCluster(this, 'Gateway', {
      image: this.image,
      writerRole: this.writer.role,
      transport: { credentials: { secretsManager: this.transport.gatewayCredentials }, ready: this.transport.certificate },
      secretsKey: this.platformKey,
      workloadAccounts: props.workloadAccounts,
      apiAccessCidrs: props.apiAccessCidrs,
      gatewayClientCidrs: props.gatewayClientCidrs,
      maxAzs: props.maxAzs,
      natGatewayPerAz: props.natGatewayPerAz,
      interfaceEndpoints: props.interfaceEndpoints,
      timestreamIngestCell: props.timestreamIngestCell,
      replicas,
      sinks: {
        region: this.region,
        spanBucketName: this.spans.bucket.bucketName,
        timestreamDatabaseName: this.metricStore?.databaseName,
        slaMs,
      },
    });
    this.monitoring.monitorGateway({ loadBalancer: this.gateway.loadBalancer, targetGroup: this.gateway.targetGroup, minReplicas: replicas.min });
    if (props.operatorAccess !== undefined) {
      this.operatorAccess = new OperatorAccess(this, 'OperatorAccess', {
        workloads: ['gateway'],
        ...props.operatorAccess,
        roleName: names.operatorRoleName,
        cluster: this.gateway.cluster,
        clusterName: this.gateway.clusterName,
        namespaceCreatedBy: this.gateway.manifest,
        alarmNames: this.monitoring.alarmNames,
        dataResources: { spanBucket: this.spans.bucket, dataKey: this.dataKey },
      });
    }
    retainFunctionLogs(this, logs.RetentionDays.ONE_MONTH);
    if (this.metricStore !== undefined) this.createTimestreamFirst(this.metricStore);

    new CfnOutput(this, 'SpanBucketName', { value: this.spans.bucket.bucketName });
    new CfnOutput(this, 'AthenaWorkGroup', { value: this.catalog.workGroup.ref });
    new CfnOutput(this, 'GlueDatabase', { value: this.catalog.databaseName });
    new CfnOutput(this, 'DashboardUrl', { value: this.monitoring.dashboardUrl });
    new CfnOutput(this, 'AlarmTopicArn', { description: 'ALARM notifications: subscribe people here', value: this.monitoring.alarmTopic.topicArn });
    new CfnOutput(this, 'AlarmRecoveryTopicArn', { description: 'Back-to-OK notifications, kept apart from the alarm topic', value: this.monitoring.okTopic.topicArn });
    new CfnOutput(this, 'AlarmNames', { description: 'Every Sightline alarm of this deployment', value: this.monitoring.alarmNames.join(',') });
    new CfnOutput(this, 'GatewayWriterRoleArn', { value: this.writer.role.roleArn });
    new CfnOutput(this, 'GatewayCaSecretArn', {
      description: 'Secret with the CA of the gateway certificate: sensor stacks take it as sightline:gatewayCaSecretArn',
      value: this.transport.caSecret.secretArn,
    });
    for (const [cluster, token] of this.transport.clientTokens) {
      new CfnOutput(this, `SensorTokenSecretArn${cluster.replace(/[^A-Za-z0-9]/g, '')}`, {
        description: `Token secret of the sensors of cluster ${cluster}: its sensor stack takes it as sightline:gatewayTokenSecretArn`,
        value: token.secretArn,
      });
    }
    new CfnOutput(this, 'DataKeyArn', { description: 'Decrypts span objects, Timestream records and Athena results: its key policy says who may', value: this.dataKey.keyArn });
  }

  /**
   * Timestream for LiveAnalytics is closed to new AWS customers since 2025-06-20: an account that never used it cannot
   * create the database. Everything but the data key waits for the database, so such an account fails on it first,
   * before anything else exists, and the rollback removes the key too (retained only once created).
   */
  private createTimestreamFirst(metricStore: MetricStore): void {
    Annotations.of(this).addWarningV2('sightline:timestream-new-accounts',
      'Timestream for LiveAnalytics is closed to new AWS customers since 2025-06-20. If this account never used it (a new sub-account, say), '
      + 'deploy with -c sightline:timestream=false (CloudWatch-only metrics); otherwise the deploy stops at the Timestream database, before anything else is created.');
    const first = new Set([metricStore.node, this.dataKey.node.scope!.node]);
    for (const child of this.node.children) {
      if (first.has(child.node) || child instanceof CfnOutput) continue;
      child.node.addDependency(metricStore.database);
    }
  }
}
