import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IIoK8sApiCoreV1ServicePort as IServicePort } from 'kubernetes-models/v1/ServicePort';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IStorageClass } from 'kubernetes-models/storage.k8s.io/v1/StorageClass';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IIoK8sApiCoreV1ResourceRequirements as ResourceRequirements } from 'kubernetes-models/v1/ResourceRequirements';
import type { SightlineConfigInput } from '../../sensor/config/schema';
import { KUBERNETES_NAMESPACE, METRIC_NAMESPACE, SightlinePort, TimestreamTable } from '../../sensor/common/telemetry-contract';
import { componentLabels, componentSelector, defineKubeObject, imageVersion } from './kube-object';
import { CONFIG_FILE_NAME, CONFIG_FILE_PATH, CONFIG_MOUNT_PATH, configChecksumAnnotation, IMAGE_NODE_SELECTOR, renderConfigFile, SPOOL_MOUNT_PATH } from './sightline-config';
import { gatewayCredentials, type GatewayCredentials } from './transport';

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

/** Encoded spans per S3 object: large enough for cheap lifecycle tiering and Athena scans, small enough for memory. */
const S3_OBJECT_BYTES = 32 * 1024 * 1024;

export interface GatewayChartProps {
  /** Sightline container image (entrypoint `node dist/bin/sightline.js`). */
  readonly image: string;
  /** Sinks the gateway exports to. */
  readonly sinks: GatewaySinks;
  /**
   * The gateway's TLS certificate (for the name `gatewayServerName`) and the sensor clusters' tokens: Secrets Manager
   * secrets an init container fetches with the pod's role, or Kubernetes Secrets. The receiver serves HTTPS only and
   * refuses requests without one of the tokens.
   */
  readonly credentials: GatewayCredentials;
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
   * Size of each replica's spool volume (an EBS volume claimed by the StatefulSet) in GiB; it holds batches while a
   * sink is down and is split between the sinks.
   * @default 20
   */
  readonly spoolVolumeGiB?: number;
  /**
   * An existing StorageClass for the spool volumes. When unset the chart defines `sightline-spool`: encrypted gp3
   * through `ebsProvisioner`, bound where the pod is scheduled.
   * @default - the chart's own StorageClass
   */
  readonly spoolStorageClass?: string;
  /**
   * CSI provisioner of the chart's StorageClass: EKS Auto Mode's block storage, or `ebs.csi.aws.com` on a cluster that
   * runs the EBS CSI driver add-on.
   * @default 'ebs.csi.eks.amazonaws.com'
   */
  readonly ebsProvisioner?: string;
  /**
   * On SIGTERM (scale-in, rollout, node drain) how long a replica keeps delivering its spool before it exits. The pod's
   * termination grace period is set above it.
   * @default 45
   */
  readonly drainSeconds?: number;
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
/** The StatefulSet and its HorizontalPodAutoscaler: stable names the vendor control plane scales and upgrades. */
export const GATEWAY_WORKLOAD = 'sightline-gateway';
/**
 * The name the gateway's certificate carries and sensors verify, whatever host their endpoint URL names (a VPC
 * endpoint, the NLB, a private DNS name): the gateway Service's in-cluster name.
 */
export function gatewayServerName(namespace: string = KUBERNETES_NAMESPACE): string {
  return `${GATEWAY_SERVICE}.${namespace}.svc`;
}
/** Headless Service that gives the StatefulSet's pods their stable network identity. */
export const GATEWAY_PODS_SERVICE = 'sightline-gateway-pods';
/** StorageClass the chart defines for the spool volumes. */
export const GATEWAY_SPOOL_STORAGE_CLASS = 'sightline-spool';
/** Seconds the pod keeps serving after Kubernetes marks it terminating, while the NLB stops sending it new connections. */
const DEREGISTRATION_GRACE_SECONDS = 10;

/**
 * The Sightline gateway: OTLP in, S3 / Timestream / CloudWatch out; the only writer to storage. A StatefulSet, so each
 * replica keeps its spool on its own EBS volume: a replaced pod (rollout, node drain) finds its batches again, and a
 * pod removed by scale-in drains its spool before it exits.
 */
export class GatewayChart extends Chart {
  readonly namespaceName: string;
  readonly serviceName = GATEWAY_SERVICE;
  readonly serviceAccountName = GATEWAY_SERVICE_ACCOUNT;
  readonly workloadName = GATEWAY_WORKLOAD;

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
    const spoolVolumeGiB = props.spoolVolumeGiB ?? 20;
    if (!Number.isInteger(spoolVolumeGiB) || spoolVolumeGiB < 1) {
      throw new Error(`gateway chart: spoolVolumeGiB must be a whole number of at least 1, got ${spoolVolumeGiB}`);
    }
    const drainSeconds = props.drainSeconds ?? 45;
    if (!Number.isInteger(drainSeconds) || drainSeconds < 0) {
      throw new Error(`gateway chart: drainSeconds must be a whole number of seconds, got ${drainSeconds}`);
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
    // Each sink spools in its own directory; together they leave a tenth of the volume free.
    const spoolBytesPerSink = Math.floor((spoolVolumeGiB * 1024 ** 3 * 0.9) / sinkCount);
    const transport = gatewayCredentials(props.credentials, props.image, 'config');
    const config = renderConfigFile({
      exporters: {
        // Keys start at `spans/`, where the Glue table and the writer role's PutObject grant expect them. Objects
        // collect a minute of spans or 32 MiB (about 6 MiB gzip), so they stay large at any call rate.
        s3: { enabled: true, bucket: sinks.spanBucketName, prefix: '', region: sinks.region, maxBatchBytes: S3_OBJECT_BYTES, maxWaitSeconds: 60 },
        ...(timestream === undefined ? {} : { timestream }),
        cloudwatch: { enabled: true, namespace: METRIC_NAMESPACE, region: sinks.region },
        spool: { dir: SPOOL_MOUNT_PATH, maxBytes: spoolBytesPerSink },
        drainSeconds,
      },
      metrics: { slaThresholdMs: sinks.slaMs },
      // Both listen beyond loopback (their default): sensors send through the Service, the kubelet probes.
      receiver: { enabled: true, host: '0.0.0.0', port: SightlinePort.otlp, ...transport.receiver },
      server: { host: '0.0.0.0', httpPort: SightlinePort.http },
    }, props.extraConfig, 'gateway');
    defineKubeObject<IConfigMap>(this, 'Config', {
      apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'sightline-gateway-config', namespace, labels },
      data: { [CONFIG_FILE_NAME]: config, ...transport.pod.configFiles },
    });

    const storageClassName = props.spoolStorageClass ?? GATEWAY_SPOOL_STORAGE_CLASS;
    if (props.spoolStorageClass === undefined) {
      defineKubeObject<IStorageClass>(this, 'SpoolStorageClass', {
        apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: GATEWAY_SPOOL_STORAGE_CLASS, labels },
        provisioner: props.ebsProvisioner ?? 'ebs.csi.eks.amazonaws.com',
        parameters: { type: 'gp3', encrypted: 'true' },
        // The volume is created in the zone the scheduler picked for the pod.
        volumeBindingMode: 'WaitForFirstConsumer',
        allowVolumeExpansion: true,
        reclaimPolicy: 'Delete',
      });
    }

    defineKubeObject<IStatefulSet>(this, 'StatefulSet', {
      apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: GATEWAY_WORKLOAD, namespace, labels },
      spec: {
        replicas: minReplicas,
        serviceName: GATEWAY_PODS_SERVICE,
        selector: { matchLabels: selector },
        // Replicas are interchangeable (any one takes any span): start and stop them together, not one by one.
        podManagementPolicy: 'Parallel',
        // One replica at a time, each draining before the next stops (the StatefulSet default, spelled out).
        updateStrategy: { type: 'RollingUpdate' },
        // A replica removed by scale-in keeps its volume: what it could not drain is sent when that ordinal returns.
        persistentVolumeClaimRetentionPolicy: { whenScaled: 'Retain', whenDeleted: 'Retain' },
        template: {
          metadata: { labels, annotations: configChecksumAnnotation(config + Object.values(transport.pod.configFiles).join('')) },
          spec: {
            serviceAccountName: GATEWAY_SERVICE_ACCOUNT,
            // Pod Identity injects credentials through the projected token, not the API token.
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: DEREGISTRATION_GRACE_SECONDS + drainSeconds + 15,
            nodeSelector: IMAGE_NODE_SELECTOR, // an x86-64 image, like the sensor's
            securityContext: {
              runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, fsGroupChangePolicy: 'OnRootMismatch',
              seccompProfile: { type: 'RuntimeDefault' },
            },
            topologySpreadConstraints: [{
              maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selector },
            }],
            initContainers: transport.pod.initContainers,
            containers: [{
              name: 'gateway',
              image: props.image,
              imagePullPolicy: 'IfNotPresent',
              // Ports, sinks, spool and drain all come from the config file.
              args: ['gateway', '--config', CONFIG_FILE_PATH],
              env: [{ name: 'AWS_REGION', value: sinks.region }],
              ports: [
                { name: 'otlp', containerPort: SightlinePort.otlp, protocol: 'TCP' },
                { name: 'http', containerPort: SightlinePort.http, protocol: 'TCP' },
              ],
              readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, initialDelaySeconds: 5, periodSeconds: 10 },
              livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, initialDelaySeconds: 15, periodSeconds: 20 },
              // Keep taking spans while the load balancer deregisters the pod; then SIGTERM starts the drain.
              lifecycle: { preStop: { sleep: { seconds: DEREGISTRATION_GRACE_SECONDS } } },
              resources: props.resources ?? { requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '1Gi' } },
              securityContext: {
                allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [
                { name: 'config', mountPath: CONFIG_MOUNT_PATH, readOnly: true },
                { name: 'spool', mountPath: SPOOL_MOUNT_PATH },
                { name: 'tmp', mountPath: '/tmp' },
                ...transport.pod.mounts,
              ],
            }],
            volumes: [
              { name: 'config', configMap: { name: 'sightline-gateway-config' } },
              { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
              ...transport.pod.volumes,
            ],
          },
        },
        volumeClaimTemplates: [{
          metadata: { name: 'spool', labels },
          spec: { accessModes: ['ReadWriteOnce'], storageClassName, resources: { requests: { storage: `${spoolVolumeGiB}Gi` } } },
        }],
      },
    });

    // OTLP is HTTPS end to end: the NLB passes the TCP stream through, the gateway terminates TLS itself.
    const servicePorts: IServicePort[] = [
      { name: 'otlp', port: SightlinePort.otlp, targetPort: 'otlp', protocol: 'TCP' },
      { name: 'http', port: SightlinePort.http, targetPort: 'http', protocol: 'TCP' },
    ];
    defineKubeObject<IService>(this, 'Service', {
      apiVersion: 'v1', kind: 'Service', metadata: { name: GATEWAY_SERVICE, namespace, labels },
      spec: { type: 'ClusterIP', selector, ports: servicePorts },
    });
    defineKubeObject<IService>(this, 'PodsService', {
      apiVersion: 'v1', kind: 'Service', metadata: { name: GATEWAY_PODS_SERVICE, namespace, labels },
      spec: { clusterIP: 'None', selector, ports: servicePorts, publishNotReadyAddresses: false },
    });

    defineKubeObject<IHorizontalPodAutoscaler>(this, 'Autoscaler', {
      apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: GATEWAY_WORKLOAD, namespace, labels },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: GATEWAY_WORKLOAD },
        minReplicas,
        maxReplicas,
        metrics: [{
          type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: props.targetCpuUtilization ?? 70 } },
        }],
        // Scale in slowly and one replica at a time: each leaving replica drains its spool first.
        behavior: { scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: 'Pods', value: 1, periodSeconds: 120 }] } },
      },
    });

    defineKubeObject<IPodDisruptionBudget>(this, 'DisruptionBudget', {
      apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'sightline-gateway', namespace, labels },
      spec: { minAvailable: 1, selector: { matchLabels: selector } },
    });
  }

  /** In-cluster OTLP endpoint, for sensors running in the same cluster as the gateway. */
  get inClusterEndpoint(): string {
    return `https://${GATEWAY_SERVICE}.${this.namespaceName}.svc.cluster.local:${SightlinePort.otlp}`;
  }

  /** The name the gateway's certificate must carry, and sensors verify. */
  get serverName(): string {
    return gatewayServerName(this.namespaceName);
  }
}
