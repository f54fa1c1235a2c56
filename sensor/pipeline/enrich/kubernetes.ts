/**
 * Kubernetes context for captured processes: container id -> pod -> workload (owner chain), for the
 * sensor's own node only. Pods are listed with `spec.nodeName=<node>` and re-listed periodically;
 * owners (ReplicaSet -> Deployment, Job -> CronJob) are read from the API once and cached.
 *
 * Uses @kubernetes/client-node 0.22, the last CommonJS line: 1.x/2.x are ESM-only (jest cannot load them)
 * and 2.x needs Node >= 22.19, above this project's Node 20 floor.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig, V1ObjectMeta, V1OwnerReference, V1Pod } from '@kubernetes/client-node';

/** The client weighs ~45 MB once loaded, so it is loaded only where Kubernetes is actually found. */
function kubernetesClient(): typeof import('@kubernetes/client-node') {
  return require('@kubernetes/client-node') as typeof import('@kubernetes/client-node');
}

export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'Job' | 'CronJob' | 'ReplicaSet' | 'Pod' | string;

export interface PodContext {
  podName: string;
  podUid: string;
  namespace: string;
  nodeName?: string;
  containerName?: string;
  /** The pod's direct controller (e.g. the ReplicaSet or Job), when it differs from the workload. */
  controllerKind?: string;
  controllerName?: string;
  /** Top of the owner chain: the Deployment, StatefulSet, DaemonSet, CronJob or Job; the pod itself when unowned. */
  workloadName: string;
  workloadKind: WorkloadKind;
}

/** The subset of a pino logger this module writes to. */
export interface EnrichmentLog {
  warn(message: string): void;
  debug(message: string): void;
}

const silentLog: EnrichmentLog = { warn: () => undefined, debug: () => undefined };

export interface KubernetesMetadataOptions {
  kubeConfig: KubeConfig;
  /** The node this sensor runs on (the downward API's spec.nodeName). */
  nodeName: string;
  clusterName?: string;
  relistIntervalMs?: number;
  /** Shortest gap between two lists triggered by lookups of unknown containers (new pods). */
  minRelistGapMs?: number;
  log?: EnrichmentLog;
  now?: () => number;
}

export interface KubernetesEnvironmentOptions {
  nodeName?: string;
  clusterName?: string;
  /** Kubeconfig file for running outside a cluster; KUBECONFIG and ~/.kube/config are tried when unset. */
  kubeconfigPath?: string;
  relistIntervalMs?: number;
  log?: EnrichmentLog;
  env?: NodeJS.ProcessEnv;
}

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';
const POD_PAGE_SIZE = 500;

interface OwnerRef {
  kind: string;
  name: string;
}

function controllerOf(meta: V1ObjectMeta | undefined): V1OwnerReference | undefined {
  const owners = meta?.ownerReferences ?? [];
  return owners.find((owner) => owner.controller) ?? owners[0];
}

/** `containerd://<id>`, `cri-o://<id>`, `docker://<id>` -> `<id>`. */
export function containerIdFromStatus(containerID: string | undefined): string | undefined {
  if (!containerID) return undefined;
  const scheme = containerID.indexOf('://');
  const id = scheme < 0 ? containerID : containerID.slice(scheme + 3);
  return id.length > 0 ? id.toLowerCase() : undefined;
}

function describeError(error: unknown): string {
  const status = (error as { statusCode?: number; response?: { statusCode?: number } })?.statusCode
    ?? (error as { response?: { statusCode?: number } })?.response?.statusCode;
  const message = error instanceof Error ? error.message : String(error);
  return status === undefined ? message : `HTTP ${status}${message && message !== 'HTTP request failed' ? `: ${message}` : ''}`;
}

export class KubernetesMetadata {
  readonly clusterName?: string;
  readonly nodeName: string;
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly batch: BatchV1Api;
  private readonly relistIntervalMs: number;
  private readonly minRelistGapMs: number;
  private readonly log: EnrichmentLog;
  private readonly now: () => number;

  private podsByContainer = new Map<string, PodContext>();
  private podsByUid = new Map<string, PodContext>();
  private readonly owners = new Map<string, Promise<OwnerRef | undefined>>();
  private lastListStartMs = Number.NEGATIVE_INFINITY;
  private listing?: Promise<void>;
  private timer?: NodeJS.Timeout;
  /** Operations ('list', 'owners') currently failing, to warn once per outage. */
  private readonly failing = new Set<string>();

  constructor(options: KubernetesMetadataOptions) {
    this.nodeName = options.nodeName;
    this.clusterName = options.clusterName;
    const client = kubernetesClient();
    this.core = options.kubeConfig.makeApiClient(client.CoreV1Api);
    this.apps = options.kubeConfig.makeApiClient(client.AppsV1Api);
    this.batch = options.kubeConfig.makeApiClient(client.BatchV1Api);
    this.relistIntervalMs = options.relistIntervalMs ?? 30_000;
    this.minRelistGapMs = options.minRelistGapMs ?? 5_000;
    this.log = options.log ?? silentLog;
    this.now = options.now ?? Date.now;
  }

  /**
   * Metadata for the cluster this process runs in, or undefined when there is no Kubernetes here
   * (no in-cluster service account, no kubeconfig) or the node name is unknown. Never throws.
   */
  static fromEnvironment(options: KubernetesEnvironmentOptions = {}): KubernetesMetadata | undefined {
    const env = options.env ?? process.env;
    const log = options.log ?? silentLog;
    const inCluster = Boolean(env.KUBERNETES_SERVICE_HOST) && fs.existsSync(SERVICE_ACCOUNT_TOKEN);
    const kubeconfigPath = options.kubeconfigPath
      ?? env.KUBECONFIG?.split(path.delimiter).find((candidate) => candidate && fs.existsSync(candidate))
      ?? path.join(env.HOME ?? os.homedir(), '.kube', 'config');
    if (!inCluster && !fs.existsSync(kubeconfigPath)) {
      log.debug('kubernetes: no in-cluster service account and no kubeconfig; enriching with process context only');
      return undefined;
    }
    const nodeName = options.nodeName ?? env.NODE_NAME;
    if (!nodeName) {
      // Without the node name every pod of the cluster would be listed; refuse instead.
      (inCluster ? log.warn : log.debug).call(log,
        'kubernetes: enrichment.kubernetes.nodeName is not set and NODE_NAME is empty; set NODE_NAME from the downward API (spec.nodeName) to get pod context');
      return undefined;
    }
    const kubeConfig = new (kubernetesClient().KubeConfig)();
    try {
      if (inCluster) kubeConfig.loadFromCluster();
      else kubeConfig.loadFromFile(kubeconfigPath);
    } catch (error) {
      log.warn(`kubernetes: cannot load ${inCluster ? 'the in-cluster config' : kubeconfigPath} (${describeError(error)}); enriching with process context only`);
      return undefined;
    }
    return new KubernetesMetadata({
      kubeConfig,
      nodeName,
      clusterName: options.clusterName ?? env.SIGHTLINE_CLUSTER_NAME ?? env.CLUSTER_NAME,
      relistIntervalMs: options.relistIntervalMs,
      log,
    });
  }

  /** Lists once, then re-lists every relist interval until stop(). Resolves after the first list, even when it failed. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.relistIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The pod running this container, from the last list. An unknown id triggers a (rate-limited) re-list for later calls. */
  podForContainer(containerId: string): PodContext | undefined {
    const pod = this.podsByContainer.get(containerId.toLowerCase());
    if (!pod) this.relistSoon();
    return pod;
  }

  /** The pod with this UID (from the cgroup path), for containers not yet in the pod's status. */
  podForUid(podUid: string): PodContext | undefined {
    const pod = this.podsByUid.get(podUid);
    if (!pod) this.relistSoon();
    return pod;
  }

  /** Lists this node's pods and rebuilds the index; concurrent calls share one list. Never rejects. */
  refresh(): Promise<void> {
    this.listing ??= this.listPods().finally(() => {
      this.listing = undefined;
    });
    return this.listing;
  }

  private relistSoon(): void {
    if (this.listing === undefined && this.now() - this.lastListStartMs >= this.minRelistGapMs) void this.refresh();
  }

  private async listPods(): Promise<void> {
    this.lastListStartMs = this.now();
    const fieldSelector = `spec.nodeName=${this.nodeName}`;
    const pods: V1Pod[] = [];
    try {
      let continueToken: string | undefined;
      do {
        const { body } = await this.core.listPodForAllNamespaces(undefined, continueToken, fieldSelector, undefined, POD_PAGE_SIZE);
        pods.push(...body.items);
        continueToken = body.metadata?._continue || undefined;
      } while (continueToken);
    } catch (error) {
      this.reportFailure('list', `kubernetes: listing pods on node ${this.nodeName} failed (${describeError(error)}); keeping the previous pod list`);
      return;
    }
    if (this.failing.delete('list')) this.log.warn(`kubernetes: listing pods on node ${this.nodeName} works again`);

    const byContainer = new Map<string, PodContext>();
    const byUid = new Map<string, PodContext>();
    const referencedOwners = new Set<string>();
    await Promise.all(pods.map(async (pod) => {
      const meta = pod.metadata;
      if (!meta?.name || !meta.uid || !meta.namespace) return;
      const { workload, controller } = await this.workloadOf(meta, referencedOwners);
      const base: PodContext = {
        podName: meta.name,
        podUid: meta.uid,
        namespace: meta.namespace,
        nodeName: pod.spec?.nodeName,
        workloadName: workload.name,
        workloadKind: workload.kind,
      };
      if (controller) {
        base.controllerKind = controller.kind;
        base.controllerName = controller.name;
      }
      byUid.set(meta.uid, base);
      const statuses = [
        ...(pod.status?.containerStatuses ?? []),
        ...(pod.status?.initContainerStatuses ?? []),
        ...(pod.status?.ephemeralContainerStatuses ?? []),
      ];
      for (const status of statuses) {
        const id = containerIdFromStatus(status.containerID);
        if (id) byContainer.set(id, { ...base, containerName: status.name });
      }
    }));
    this.podsByContainer = byContainer;
    this.podsByUid = byUid;
    for (const key of this.owners.keys()) if (!referencedOwners.has(key)) this.owners.delete(key);
  }

  private reportFailure(operation: string, message: string): void {
    // One warning per outage; the rest of it goes to debug so a broken API server does not flood the log.
    if (this.failing.has(operation)) this.log.debug(message);
    else this.log.warn(message);
    this.failing.add(operation);
  }

  private async workloadOf(meta: V1ObjectMeta, referenced: Set<string>): Promise<{ workload: OwnerRef; controller?: OwnerRef }> {
    const owner = controllerOf(meta);
    if (!owner) return { workload: { kind: 'Pod', name: meta.name! } };
    const controller = { kind: owner.kind, name: owner.name };
    if (owner.kind !== 'ReplicaSet' && owner.kind !== 'Job') return { workload: controller };
    const key = `${meta.namespace}/${owner.kind}/${owner.name}`;
    referenced.add(key);
    let lookup = this.owners.get(key);
    if (!lookup) {
      lookup = this.readOwnerOf(owner.kind, owner.name, meta.namespace!);
      this.owners.set(key, lookup);
    }
    const parent = await lookup;
    if (parent === undefined) this.owners.delete(key); // retry on the next list
    const workload = parent ?? controller;
    return workload.kind === controller.kind ? { workload } : { workload, controller };
  }

  /** The controller of a ReplicaSet or Job (a Deployment or CronJob), else the ReplicaSet or Job itself. */
  private async readOwnerOf(kind: 'ReplicaSet' | 'Job', name: string, namespace: string): Promise<OwnerRef | undefined> {
    try {
      const { body } = kind === 'ReplicaSet'
        ? await this.apps.readNamespacedReplicaSet(name, namespace)
        : await this.batch.readNamespacedJob(name, namespace);
      this.failing.delete('owners');
      const parent = controllerOf(body.metadata);
      return parent ? { kind: parent.kind, name: parent.name } : { kind, name };
    } catch (error) {
      this.reportFailure('owners', `kubernetes: reading ${kind} ${namespace}/${name} failed (${describeError(error)}); using the ${kind} as the workload`);
      return undefined;
    }
  }
}
