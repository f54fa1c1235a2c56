import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import type { IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import type { IPriorityClass } from 'kubernetes-models/scheduling.k8s.io/v1/PriorityClass';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IIoK8sApiNetworkingV1NetworkPolicyPeer as NetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IIoK8sApiCoreV1ResourceRequirements as ResourceRequirements } from 'kubernetes-models/v1/ResourceRequirements';
import type { IIoK8sApiCoreV1Toleration as Toleration } from 'kubernetes-models/v1/Toleration';
import type { SightlineConfigInput } from '../../sensor/config/schema';
import { KUBERNETES_NAMESPACE, SightlinePort } from '../../sensor/common/telemetry-contract';
import { componentLabels, componentSelector, defineKubeObject, imageVersion } from './kube-object';
import { gatewayServerName } from './gateway-chart';
import { CONFIG_FILE_NAME, CONFIG_FILE_PATH, CONFIG_MOUNT_PATH, configChecksumAnnotation, IMAGE_NODE_SELECTOR, renderConfigFile, SPOOL_MOUNT_PATH } from './sightline-config';
import { sensorCredentials, type SensorCredentials } from './transport';

/** The Service through which apps reach the sensor of their own node. */
export const SENSOR_OTLP_SERVICE = 'sightline-sensor-otlp';

/**
 * Linux capabilities the sensor needs. SYS_ADMIN: since Linux 6.16 (and the stable kernels it was backported to)
 * only CAP_SYS_ADMIN may create uprobes; BPF and PERFMON for kernels before that; SYS_PTRACE and DAC_READ_SEARCH to
 * read other processes' maps and libraries; SYS_RESOURCE for the ring buffer's locked memory on older kernels.
 */
export const SENSOR_CAPABILITIES = ['SYS_ADMIN', 'BPF', 'PERFMON', 'SYS_PTRACE', 'SYS_RESOURCE', 'DAC_READ_SEARCH'] as const;

export interface SensorChartProps {
  /** Sightline container image (entrypoint `node dist/bin/sightline.js`). */
  readonly image: string;
  /** OTLP/HTTPS endpoint of the Sightline gateway the sensor ships spans to, e.g. `https://vpce-....amazonaws.com:4318`. */
  readonly gatewayEndpoint: string;
  /**
   * The CA that signed the gateway's certificate and this cluster's token: Secrets Manager secrets an init container
   * fetches with the sensor's Pod Identity role, or a Kubernetes Secret (`token`, `ca.crt`).
   */
  readonly gatewayCredentials: SensorCredentials;
  /**
   * Name the gateway's certificate carries, verified whatever host the endpoint names.
   * @default 'sightline-gateway.sightline.svc'
   */
  readonly gatewayServerName?: string;
  /**
   * Who may send OTLP to the sensors' node receiver (port 4318), as NetworkPolicy peers. Apps reach their own node's
   * sensor through the Service `sightline-sensor-otlp` (`internalTrafficPolicy: Local`).
   * @default - every pod of the cluster (`namespaceSelector: {}`); nothing from outside the cluster's pods
   */
  readonly nodeReceiverClients?: NetworkPolicyPeer[];
  /**
   * A Secret (in the sensor's namespace) of tokens the node receiver requires from apps, one key per app or team:
   * apps then send `Authorization: Bearer <token>`.
   * @default - no token: the NetworkPolicy alone decides
   */
  readonly nodeReceiverTokensSecret?: string;
  /**
   * Who may scrape the sensors' `/metrics` (port 9464), as NetworkPolicy peers (e.g. your Prometheus namespace).
   * The kubelet's probes come from the node, which NetworkPolicy always admits.
   * @default - nobody but the node
   */
  readonly metricsScrapers?: NetworkPolicyPeer[];
  /**
   * Cluster name written on every span (`cluster` column, `k8s.cluster.name`).
   * @default - the sensor config leaves it unset
   */
  readonly clusterName?: string;
  /**
   * Namespace the sensor runs in.
   * @default 'sightline'
   */
  readonly namespace?: string;
  /**
   * Whether the chart creates the namespace. Turn off when another chart (the gateway's) already does.
   * @default true
   */
  readonly createNamespace?: boolean;
  /**
   * Run the container privileged (as uid 0) instead of with the listed capabilities: for nodes whose SELinux policy
   * confines unprivileged containers (Bottlerocket, EKS Auto Mode), and locked-down kernels.
   * @default false
   */
  readonly privileged?: boolean;
  /**
   * Host directory of the on-disk spool that keeps spans while the gateway is unreachable.
   * @default '/var/lib/sightline/spool'
   */
  readonly spoolHostPath?: string;
  /**
   * Container resources.
   * @default - requests 100m CPU / 256Mi, limit 512Mi memory
   */
  readonly resources?: ResourceRequirements;
  /**
   * Tolerations; the default runs the sensor on every node, tainted or not, so no workload escapes capture.
   * @default - tolerate everything
   */
  readonly tolerations?: Toleration[];
  /**
   * Extra sensor configuration (privacy, capture limits, ...) under the chart's own settings; validated at synth.
   * @default - none
   */
  readonly extraConfig?: SightlineConfigInput;
}

/** The sensor DaemonSet with its RBAC, config, and priority; deployable with `cdk8s synth` or through CDK. */
export class SensorChart extends Chart {
  readonly namespaceName: string;
  readonly daemonSetName = 'sightline-sensor';
  readonly serviceAccountName = 'sightline-sensor';

  constructor(scope: Construct, id: string, props: SensorChartProps) {
    super(scope, id);
    const namespace = props.namespace ?? KUBERNETES_NAMESPACE;
    this.namespaceName = namespace;
    const labels = componentLabels('sensor', imageVersion(props.image));
    const selector = componentSelector('sensor');
    const serviceAccountName = this.serviceAccountName;
    const priorityClassName = 'sightline-node-critical';
    if (!props.gatewayEndpoint.startsWith('https://')) {
      throw new Error(`sensor chart: gatewayEndpoint must be https:// (spans carry prompts and the cluster token): got ${props.gatewayEndpoint}`);
    }

    if (props.createNamespace ?? true) {
      defineKubeObject<INamespace>(this, 'Namespace', {
        apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'app.kubernetes.io/part-of': 'sightline' } },
      });
    }

    defineKubeObject<IServiceAccount>(this, 'ServiceAccount', {
      apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: serviceAccountName, namespace, labels },
      // The sensor needs no AWS credentials and no API token beyond its read-only RBAC below.
      automountServiceAccountToken: true,
    });

    // Enrichment walks a pod's owner chain up to its workload, for pods of this node only.
    defineKubeObject<IClusterRole>(this, 'ClusterRole', {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'sightline-sensor', labels },
      rules: [
        { apiGroups: [''], resources: ['pods', 'namespaces', 'nodes'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['apps'], resources: ['replicasets', 'deployments', 'statefulsets', 'daemonsets'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: ['get', 'list', 'watch'] },
      ],
    });
    defineKubeObject<IClusterRoleBinding>(this, 'ClusterRoleBinding', {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'sightline-sensor', labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'sightline-sensor' },
      subjects: [{ kind: 'ServiceAccount', name: serviceAccountName, namespace }],
    });

    // The node name comes from NODE_NAME (downward API, below), which the Kubernetes enrichment reads by default.
    const transport = sensorCredentials(props.gatewayCredentials, props.image, 'config');
    const nodeTokensDir = '/etc/sightline-node-tokens';
    const config = renderConfigFile({
      enrichment: { kubernetes: { enabled: true, clusterName: props.clusterName } },
      exporters: {
        otlp: {
          enabled: true,
          endpoint: props.gatewayEndpoint,
          tls: { ...transport.otlp.tls, serverName: props.gatewayServerName ?? gatewayServerName() },
          auth: transport.otlp.auth,
        },
        spool: { dir: SPOOL_MOUNT_PATH },
      },
      // Both listen beyond loopback (their default): pods of the node send OTLP, the kubelet probes, Prometheus scrapes.
      receiver: {
        enabled: true,
        host: '0.0.0.0',
        port: SightlinePort.otlp,
        ...(props.nodeReceiverTokensSecret === undefined ? {} : { auth: { tokensDir: nodeTokensDir } }),
      },
      server: { host: '0.0.0.0', httpPort: SightlinePort.http },
    }, props.extraConfig, 'sensor');
    defineKubeObject<IConfigMap>(this, 'Config', {
      apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'sightline-sensor-config', namespace, labels },
      data: { [CONFIG_FILE_NAME]: config, ...transport.pod.configFiles },
    });
    const nodeTokenVolumes = props.nodeReceiverTokensSecret === undefined
      ? { volumes: [], mounts: [] }
      : {
        volumes: [{ name: 'node-tokens', secret: { secretName: props.nodeReceiverTokensSecret, defaultMode: 0o400 } }],
        mounts: [{ name: 'node-tokens', mountPath: nodeTokensDir, readOnly: true }],
      };

    // Apps reach the sensor of their own node: with `Local`, kube-proxy sends Service traffic only to an endpoint on
    // the sending pod's node, so spans never cross nodes and no port opens on the node's own address (no hostPort).
    defineKubeObject<IService>(this, 'OtlpService', {
      apiVersion: 'v1', kind: 'Service', metadata: { name: SENSOR_OTLP_SERVICE, namespace, labels },
      spec: {
        type: 'ClusterIP',
        selector,
        internalTrafficPolicy: 'Local',
        ports: [{ name: 'otlp', port: SightlinePort.otlp, targetPort: 'otlp', protocol: 'TCP' }],
      },
    });
    // NetworkPolicy cannot say "pods of the same node"; it can say "pods of this cluster, nothing else": no host in
    // the VPC, no peered network, no load balancer. A pod elsewhere in the cluster that targets a sensor's pod IP gains
    // nothing its own node's sensor would not take; the optional tokens narrow it to apps that hold one.
    defineKubeObject<INetworkPolicy>(this, 'NetworkPolicy', {
      apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'sightline-sensor', namespace, labels },
      spec: {
        podSelector: { matchLabels: selector },
        policyTypes: ['Ingress'],
        ingress: [
          { from: props.nodeReceiverClients ?? [{ namespaceSelector: {} }], ports: [{ protocol: 'TCP', port: SightlinePort.otlp }] },
          ...(props.metricsScrapers === undefined || props.metricsScrapers.length === 0
            ? []
            : [{ from: props.metricsScrapers, ports: [{ protocol: 'TCP' as const, port: SightlinePort.http }] }]),
        ],
      },
    });

    // Losing the sensor on a busy node loses capture there, so it outranks ordinary workloads.
    defineKubeObject<IPriorityClass>(this, 'PriorityClass', {
      apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: priorityClassName, labels },
      value: 1_000_000, globalDefault: false, preemptionPolicy: 'PreemptLowerPriority',
      description: 'Sightline sensor: one per node, captures LLM calls of every pod on the node.',
    });

    const capabilities = [...SENSOR_CAPABILITIES];
    defineKubeObject<IDaemonSet>(this, 'DaemonSet', {
      apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: this.daemonSetName, namespace, labels },
      spec: {
        selector: { matchLabels: selector },
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '10%' } },
        template: {
          metadata: { labels, annotations: configChecksumAnnotation(config + Object.values(transport.pod.configFiles).join('')) },
          spec: {
            serviceAccountName,
            priorityClassName,
            // Uprobes attach to libraries of processes in every container; with the host PID namespace the
            // container's own /proc lists them all, so no host /proc mount is needed.
            hostPID: true,
            terminationGracePeriodSeconds: 30,
            // The image is built for x86-64 (lib/constructs/sightline-image.ts): on an arm64 node it could only crash-loop.
            nodeSelector: IMAGE_NODE_SELECTOR,
            tolerations: props.tolerations ?? [{ operator: 'Exists' }],
            initContainers: transport.pod.initContainers,
            containers: [{
              name: 'sensor',
              image: props.image,
              imagePullPolicy: 'IfNotPresent',
              // Ports, gateway endpoint and spool all come from the config file.
              args: ['sensor', '--config', CONFIG_FILE_PATH],
              env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
              ports: [
                { name: 'otlp', containerPort: SightlinePort.otlp, protocol: 'TCP' },
                { name: 'http', containerPort: SightlinePort.http, protocol: 'TCP' },
              ],
              readinessProbe: {
                httpGet: { path: '/readyz', port: 'http' }, initialDelaySeconds: 5, periodSeconds: 10, failureThreshold: 3,
              },
              livenessProbe: {
                httpGet: { path: '/healthz', port: 'http' }, initialDelaySeconds: 15, periodSeconds: 20, failureThreshold: 3,
              },
              resources: props.resources ?? {
                requests: { cpu: '100m', memory: '256Mi' },
                limits: { memory: '512Mi' },
              },
              securityContext: props.privileged
                // Still uid 0: the image's user (10001) would hold none of a privileged container's capabilities.
                ? { privileged: true, runAsUser: 0 }
                : {
                  privileged: false,
                  // Loading BPF programs needs uid 0 in the host user namespace even with the capabilities.
                  runAsUser: 0,
                  readOnlyRootFilesystem: true,
                  allowPrivilegeEscalation: false,
                  capabilities: { drop: ['ALL'], add: capabilities },
                  // Older runtime-default seccomp profiles refuse bpf() and perf_event_open() without CAP_SYS_ADMIN.
                  seccompProfile: { type: 'Unconfined' },
                },
              volumeMounts: [
                { name: 'btf', mountPath: '/sys/kernel/btf', readOnly: true },
                { name: 'spool', mountPath: SPOOL_MOUNT_PATH },
                { name: 'config', mountPath: CONFIG_MOUNT_PATH, readOnly: true },
                { name: 'tmp', mountPath: '/tmp' },
                ...transport.pod.mounts,
                ...nodeTokenVolumes.mounts,
              ],
            }],
            volumes: [
              { name: 'btf', hostPath: { path: '/sys/kernel/btf', type: 'Directory' } },
              { name: 'spool', hostPath: { path: props.spoolHostPath ?? '/var/lib/sightline/spool', type: 'DirectoryOrCreate' } },
              { name: 'config', configMap: { name: 'sightline-sensor-config' } },
              { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
              ...transport.pod.volumes,
              ...nodeTokenVolumes.volumes,
            ],
          },
        },
      },
    });
  }
}
