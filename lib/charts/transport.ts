/**
 * How the charts give the sensor and the gateway their transport credentials: the gateway's TLS certificate and the
 * clients' tokens, the sensor's gateway CA and token. They always arrive as files named in the config file (the
 * processes read nothing else), from one of two sources:
 *
 * - Kubernetes Secrets, mounted as volumes: for clusters this CDK app does not manage (`cdk8s synth`), where the
 *   operator creates the Secrets (or cert-manager does) and the kubelet swaps rotated values in.
 * - AWS Secrets Manager, fetched by an init container (`sightline credentials`) with the pod's EKS Pod Identity role
 *   into a memory-backed volume: what the CDK stacks deploy. Secret values then never pass through CloudFormation or
 *   the Kubernetes API; only ARNs do.
 *
 * Either way the pod template's volumes and containers stay the same from one release to the next, so an operator
 * that may patch only images and replicas never needs to touch them.
 */
import type { IIoK8sApiCoreV1Container as Container } from 'kubernetes-models/v1/Container';
import type { IIoK8sApiCoreV1Volume as Volume } from 'kubernetes-models/v1/Volume';
import type { IIoK8sApiCoreV1VolumeMount as VolumeMount } from 'kubernetes-models/v1/VolumeMount';
import type { CredentialPlan } from '../../sensor/cli/fetch-credentials';
import { CONFIG_MOUNT_PATH } from './sightline-config';

/** Secrets Manager secrets of the gateway: its certificate, and one token secret per sensor cluster. */
export interface GatewaySecretsManagerCredentials {
  /** JSON secret `{"certificate": "<PEM chain>", "privateKey": "<PEM>"}`. */
  readonly tlsSecretArn: string;
  /** Client name (the sensor cluster) -> ARN of the secret holding its token (the whole secret string). */
  readonly clientTokenSecretArns: Readonly<Record<string, string>>;
}

/** Kubernetes Secrets of the gateway, in its namespace. */
export interface GatewayKubernetesCredentials {
  /** A `kubernetes.io/tls` Secret (`tls.crt`, `tls.key`), e.g. from cert-manager. */
  readonly tlsSecretName: string;
  /** A Secret with one key per client: the key names the client, the value is its token. */
  readonly clientTokensSecretName: string;
}

export type GatewayCredentials = { readonly secretsManager: GatewaySecretsManagerCredentials } | { readonly kubernetes: GatewayKubernetesCredentials };

/** Secrets Manager secrets a sensor reads: its cluster's token and the gateway's CA. */
export interface SensorSecretsManagerCredentials {
  /** The cluster's token secret (the whole secret string is the token). */
  readonly tokenSecretArn: string;
  /** The secret holding the PEM of the CA that signed the gateway's certificate. */
  readonly caSecretArn: string;
}

/** A Kubernetes Secret in the sensor's namespace with the keys `token` and `ca.crt`. */
export interface SensorKubernetesCredentials {
  readonly secretName: string;
}

export type SensorCredentials = { readonly secretsManager: SensorSecretsManagerCredentials } | { readonly kubernetes: SensorKubernetesCredentials };

/** Where the init container writes and the main container reads, on a memory-backed volume. */
const FETCHED_PATH = '/run/sightline/credentials';
const FETCHED_VOLUME = 'credentials';
/** The plan file in the chart's ConfigMap. */
export const CREDENTIAL_PLAN_FILE = 'credentials.json';

/** What a chart adds to its pod and config for one credential source. */
export interface PodCredentials {
  readonly volumes: Volume[];
  readonly mounts: VolumeMount[];
  readonly initContainers: Container[];
  /** Extra ConfigMap entries (the plan), when an init container fetches. */
  readonly configFiles: Record<string, string>;
}

/** The init container: the same image, no privilege, no capability, a read-only root. */
function fetchContainer(image: string, mounts: VolumeMount[]): Container {
  return {
    name: 'credentials',
    image,
    imagePullPolicy: 'IfNotPresent',
    args: ['credentials', '--plan', `${CONFIG_MOUNT_PATH}/${CREDENTIAL_PLAN_FILE}`],
    resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '128Mi' } },
    securityContext: {
      runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: mounts,
  };
}

function fetched(image: string, configVolume: string, plan: CredentialPlan): PodCredentials {
  const mount: VolumeMount = { name: FETCHED_VOLUME, mountPath: FETCHED_PATH };
  return {
    // Memory-backed: the credentials never reach the node's disk.
    volumes: [{ name: FETCHED_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } }],
    mounts: [{ ...mount, readOnly: true }],
    initContainers: [fetchContainer(image, [mount, { name: configVolume, mountPath: CONFIG_MOUNT_PATH, readOnly: true }])],
    configFiles: { [CREDENTIAL_PLAN_FILE]: `${JSON.stringify(plan, null, 2)}\n` },
  };
}

/** The gateway's receiver settings and pod additions. */
export function gatewayCredentials(credentials: GatewayCredentials, image: string, configVolume: string): { receiver: { tls: { certFile: string; keyFile: string }; auth: { tokensDir: string } }; pod: PodCredentials } {
  if ('kubernetes' in credentials) {
    const { tlsSecretName, clientTokensSecretName } = credentials.kubernetes;
    return {
      receiver: { tls: { certFile: '/etc/sightline-tls/tls.crt', keyFile: '/etc/sightline-tls/tls.key' }, auth: { tokensDir: '/etc/sightline-tokens' } },
      pod: {
        volumes: [
          { name: 'tls', secret: { secretName: tlsSecretName, defaultMode: 0o440 } },
          { name: 'client-tokens', secret: { secretName: clientTokensSecretName, defaultMode: 0o440 } },
        ],
        mounts: [
          { name: 'tls', mountPath: '/etc/sightline-tls', readOnly: true },
          { name: 'client-tokens', mountPath: '/etc/sightline-tokens', readOnly: true },
        ],
        initContainers: [],
        configFiles: {},
      },
    };
  }
  const { tlsSecretArn, clientTokenSecretArns } = credentials.secretsManager;
  // No client yet is a valid start: the gateway then refuses every request until a cluster is added.
  const clients = Object.keys(clientTokenSecretArns).sort();
  for (const client of clients) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(client)) throw new Error(`gateway chart: client name "${client}" must be a cluster name (letters, digits, "-", "_")`);
  }
  const tokensDir = `${FETCHED_PATH}/tokens`;
  const plan: CredentialPlan = {
    directories: [tokensDir],
    files: [
      { secretId: tlsSecretArn, jsonKey: 'certificate', path: `${FETCHED_PATH}/tls/tls.crt`, versionStage: 'AWSCURRENT', optional: false },
      { secretId: tlsSecretArn, jsonKey: 'privateKey', path: `${FETCHED_PATH}/tls/tls.key`, versionStage: 'AWSCURRENT', optional: false },
      ...clients.flatMap((client) => [
        { secretId: clientTokenSecretArns[client], path: `${tokensDir}/${client}`, versionStage: 'AWSCURRENT', optional: false },
        // The token a rotation replaced stays accepted until the next rotation, so sensors not yet restarted keep sending.
        { secretId: clientTokenSecretArns[client], path: `${tokensDir}/${client}.previous`, versionStage: 'AWSPREVIOUS', optional: true },
      ]),
    ],
  };
  return {
    receiver: { tls: { certFile: `${FETCHED_PATH}/tls/tls.crt`, keyFile: `${FETCHED_PATH}/tls/tls.key` }, auth: { tokensDir } },
    pod: fetched(image, configVolume, plan),
  };
}

/** The sensor's exporter settings and pod additions. */
export function sensorCredentials(credentials: SensorCredentials, image: string, configVolume: string): { otlp: { tls: { caFile: string }; auth: { tokenFile: string } }; pod: PodCredentials } {
  if ('kubernetes' in credentials) {
    return {
      otlp: { tls: { caFile: '/etc/sightline-gateway/ca.crt' }, auth: { tokenFile: '/etc/sightline-gateway/token' } },
      pod: {
        volumes: [{ name: 'gateway-credentials', secret: { secretName: credentials.kubernetes.secretName, defaultMode: 0o400 } }],
        mounts: [{ name: 'gateway-credentials', mountPath: '/etc/sightline-gateway', readOnly: true }],
        initContainers: [],
        configFiles: {},
      },
    };
  }
  const { tokenSecretArn, caSecretArn } = credentials.secretsManager;
  const plan: CredentialPlan = {
    directories: [],
    files: [
      { secretId: caSecretArn, path: `${FETCHED_PATH}/ca.crt`, versionStage: 'AWSCURRENT', optional: false },
      { secretId: tokenSecretArn, path: `${FETCHED_PATH}/token`, versionStage: 'AWSCURRENT', optional: false },
    ],
  };
  return {
    otlp: { tls: { caFile: `${FETCHED_PATH}/ca.crt` }, auth: { tokenFile: `${FETCHED_PATH}/token` } },
    pod: fetched(image, configVolume, plan),
  };
}
