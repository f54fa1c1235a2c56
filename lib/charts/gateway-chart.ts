import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IIoK8sApiCoreV1ResourceRequirements as ResourceRequirements } from 'kubernetes-models/v1/ResourceRequirements';
import type { SightlineConfigInput } from '../../sensor/config/schema';
import { KUBERNETES_NAMESPACE, METRIC_NAMESPACE, SightlinePort, TimestreamTable } from '../../sensor/common/telemetry-contract';
import { componentLabels, componentSelector, defineKubeObject, imageVersion } from './kube-object';
import { CONFIG_FILE_NAME, CONFIG_FILE_PATH, CONFIG_MOUNT_PATH, configChecksumAnnotation, IMAGE_NODE_SELECTOR, renderConfigFile, SPOOL_MOUNT_PATH } from './sightline-config';

/** Where the gateway writes; the names come from the data-plane stack or from the operator. */
export interface GatewaySinks {
  /** AWS region of the sinks. */
  readonly region: string;
  /** Bucket for span and payload objects; its default encryption (SSE-KMS) encrypts every object the gateway puts. */
  readonly spanBucketName: string;
  /** Timestream database (the gateway writes its `llm_calls` table); `undefined` when the account runs CloudWatch-only. */
  readonly timestreamDatabaseName?: string;
  /** Latency SLA per call, counted into the `SlaBreaches` metric. */
  readonly slaMs: number;
}

export interface GatewayChartProps {
  /** Sightline container image (entrypoint `node dist/bin/sightline.js`). */
  readonly image: string;
  /** Sinks the gateway exports to. */
  readonly sinks: GatewaySinks;
  /**
   * Namespace the gateway runs in.
   * @default 'sightline'
   */
  readonly namespace?: string;
  /**
   * Whether the chart creates the namespace.
   * @default true
   */
  readonly createNamespace?: boolean;
  /**
   * Fewest replicas; two keep OTLP ingestion up during a node drain.
   * @default 2
   */
  readonly minReplicas?: number;
  /**
   * Most replicas the autoscaler may run.
   * @default 10
   */
  readonly maxReplicas?: number;
  /**
   * Average CPU utilisation the autoscaler aims for, in percent of the request.
   * @default 70
   */
  readonly targetCpuUtilization?: number;
  /**
   * Container resources.
   * @default - requests 250m CPU / 512Mi, limit 1Gi memory
   */
  readonly resources?: ResourceRequirements;
  /**
   * Size of the per-pod spool volume, in MiB, that holds batches while a sink is down; shared by the sinks.
   * @default 4096
   */
  readonly spoolSizeMiB?: number;
  /**
   * Extra gateway configuration (privacy, pricing, batching, ...) under the chart's own settings; validated at synth.
   * @default - none
   */
  readonly extraConfig?: SightlineConfigInput;
}

/** Service account name the write-only Pod Identity role is associated with. */
export const GATEWAY_SERVICE_ACCOUNT = 'sightline-gateway';
/** Name of the in-cluster Service that receives OTLP. */
export const GATEWAY_SERVICE = 'sightline-gateway';

/** The Sightline gateway: OTLP in, S3 / Timestream / CloudWatch out; the only writer to storage. */
export class GatewayChart extends Chart {
  readonly namespaceName: string;
  readonly serviceName = GATEWAY_SERVICE;
  readonly serviceAccountName = GATEWAY_SERVICE_ACCOUNT;

  constructor(scope: Construct, id: string, props: GatewayChartProps) {
    super(scope, id);
    const namespace = props.namespace ?? KUBERNETES_NAMESPACE;
    this.namespaceName = namespace;
    const labels = componentLabels('gateway', imageVersion(props.image));
    const selector = componentSelector('gateway');
    const minReplicas = props.minReplicas ?? 2;
    const maxReplicas = props.maxReplicas ?? 10;
    if (minReplicas < 1 || maxReplicas < minReplicas) {
      throw new Error(`gateway chart: need 1 <= minReplicas (${minReplicas}) <= maxReplicas (${maxReplicas})`);
    }
    const spoolSizeMiB = props.spoolSizeMiB ?? 4096;
    if (!Number.isInteger(spoolSizeMiB) || spoolSizeMiB < 64) {
      throw new Error(`gateway chart: spoolSizeMiB must be a whole number of at least 64, got ${spoolSizeMiB}`);
    }

    if (props.createNamespace ?? true) {
      defineKubeObject<INamespace>(this, 'Namespace', {
        apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'app.kubernetes.io/part-of': 'sightline' } },
      });
    }

    // EKS Pod Identity binds the write-only IAM role to this account; no annotation is needed on it.
    defineKubeObject<IServiceAccount>(this, 'ServiceAccount', {
      apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: GATEWAY_SERVICE_ACCOUNT, namespace, labels },
      automountServiceAccountToken: false,
    });

    const { sinks } = props;
    const timestream = sinks.timestreamDatabaseName === undefined
      ? undefined
      : { enabled: true, database: sinks.timestreamDatabaseName, table: TimestreamTable.llmCalls, region: sinks.region };
    const sinkCount = timestream === undefined ? 2 : 3;
    // Each sink spools in its own directory; together they stay under the volume's limit, which would evict the pod.
    const spoolBytesPerSink = Math.floor((spoolSizeMiB * 1024 * 1024 * 0.9) / sinkCount);
    const config = renderConfigFile({
      exporters: {
        // Keys start at `spans/`, where the Glue table and the writer role's PutObject grant expect them.
        s3: { enabled: true, bucket: sinks.spanBucketName, prefix: '', region: sinks.region },
        ...(timestream === undefined ? {} : { timestream }),
        cloudwatch: { enabled: true, namespace: METRIC_NAMESPACE, region: sinks.region },
        spool: { dir: SPOOL_MOUNT_PATH, maxBytes: spoolBytesPerSink },
      },
      metrics: { slaThresholdMs: sinks.slaMs },
      // Both listen beyond loopback (their default): sensors send through the Service, the kubelet probes.
      receiver: { enabled: true, host: '0.0.0.0', port: SightlinePort.otlp },
      server: { host: '0.0.0.0', httpPort: SightlinePort.http },
    }, props.extraConfig, 'gateway');
    defineKubeObject<IConfigMap>(this, 'Config', {
      apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'sightline-gateway-config', namespace, labels },
      data: { [CONFIG_FILE_NAME]: config },
    });

    defineKubeObject<IDeployment>(this, 'Deployment', {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'sightline-gateway', namespace, labels },
      spec: {
        replicas: minReplicas,
        selector: { matchLabels: selector },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: { labels, annotations: configChecksumAnnotation(config) },
          spec: {
            serviceAccountName: GATEWAY_SERVICE_ACCOUNT,
            // Pod Identity injects credentials through the projected token, not the API token.
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: 60,
            nodeSelector: IMAGE_NODE_SELECTOR, // an x86-64 image, like the sensor's
            securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
            topologySpreadConstraints: [{
              maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selector },
            }],
            containers: [{
              name: 'gateway',
              image: props.image,
              imagePullPolicy: 'IfNotPresent',
              // Ports, sinks and spool all come from the config file.
              args: ['gateway', '--config', CONFIG_FILE_PATH],
              env: [{ name: 'AWS_REGION', value: sinks.region }],
              ports: [
                { name: 'otlp', containerPort: SightlinePort.otlp, protocol: 'TCP' },
                { name: 'http', containerPort: SightlinePort.http, protocol: 'TCP' },
              ],
              readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, initialDelaySeconds: 5, periodSeconds: 10 },
              livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, initialDelaySeconds: 15, periodSeconds: 20 },
              resources: props.resources ?? { requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '1Gi' } },
              securityContext: {
                allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [
                { name: 'config', mountPath: CONFIG_MOUNT_PATH, readOnly: true },
                { name: 'spool', mountPath: SPOOL_MOUNT_PATH },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            }],
            volumes: [
              { name: 'config', configMap: { name: 'sightline-gateway-config' } },
              { name: 'spool', emptyDir: { sizeLimit: `${spoolSizeMiB}Mi` } },
              { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
            ],
          },
        },
      },
    });

    defineKubeObject<IService>(this, 'Service', {
      apiVersion: 'v1', kind: 'Service', metadata: { name: GATEWAY_SERVICE, namespace, labels },
      spec: {
        type: 'ClusterIP',
        selector,
        ports: [
          { name: 'otlp', port: SightlinePort.otlp, targetPort: 'otlp', protocol: 'TCP' },
          { name: 'http', port: SightlinePort.http, targetPort: 'http', protocol: 'TCP' },
        ],
      },
    });

    defineKubeObject<IHorizontalPodAutoscaler>(this, 'Autoscaler', {
      apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'sightline-gateway', namespace, labels },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'sightline-gateway' },
        minReplicas,
        maxReplicas,
        metrics: [{
          type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: props.targetCpuUtilization ?? 70 } },
        }],
        // Scale in slowly: a pod leaving drains its spool, which takes longer than a burst of traffic.
        behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
      },
    });

    defineKubeObject<IPodDisruptionBudget>(this, 'DisruptionBudget', {
      apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'sightline-gateway', namespace, labels },
      spec: { minAvailable: 1, selector: { matchLabels: selector } },
    });
  }

  /** In-cluster OTLP endpoint, for sensors running in the same cluster as the gateway. */
  get inClusterEndpoint(): string {
    return `http://${GATEWAY_SERVICE}.${this.namespaceName}.svc.cluster.local:${SightlinePort.otlp}`;
  }
}
