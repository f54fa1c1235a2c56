/** The pipeline's enrichment stage: resource attributes for the calling process, its container and its pod. */
import type { Attributes, GenAiSpan } from '../../span/gen-ai-span';
import { enrichmentConfigSchema, type EnrichmentConfigInput } from './config';
import { KubernetesMetadata, type EnrichmentLog, type PodContext } from './kubernetes';
import { ProcessContextReader, type ProcessContext } from './process';

/** Who made the call, as the capture stage knows it. */
export interface SpanOrigin {
  pid: number;
  /** The kernel's task name, used when /proc no longer has the process. */
  comm?: string;
}

const WORKLOAD_NAME_ATTRIBUTE: Record<string, string> = {
  Deployment: 'k8s.deployment.name',
  StatefulSet: 'k8s.statefulset.name',
  DaemonSet: 'k8s.daemonset.name',
  Job: 'k8s.job.name',
  CronJob: 'k8s.cronjob.name',
  ReplicaSet: 'k8s.replicaset.name',
};

export interface SpanEnricherOptions {
  processes: ProcessContextReader;
  kubernetes?: KubernetesMetadata;
  /** k8s.cluster.name when the Kubernetes metadata has none. */
  clusterName?: string;
}

/** Processes whose resource is kept for reuse; past this, the table starts afresh (a resource is rebuilt cheaply). */
const MAX_SHARED_RESOURCES = 4096;

interface SharedResource {
  context: ProcessContext | undefined;
  pod: PodContext | undefined;
  comm: string | undefined;
  clusterName: string | undefined;
  resource: Attributes;
}

export class SpanEnricher {
  private readonly sharedResources = new Map<number, SharedResource>();

  constructor(private readonly options: SpanEnricherOptions) {}

  /** Reads the config, finds Kubernetes if there is one and lists this node's pods once before resolving. */
  static async create(config: EnrichmentConfigInput = {}, log?: EnrichmentLog): Promise<SpanEnricher> {
    const parsed = enrichmentConfigSchema.parse(config);
    const processes = new ProcessContextReader({ procRoot: parsed.procRoot, ttlMs: parsed.processCacheSeconds * 1000 });
    const k8s = parsed.kubernetes;
    const kubernetes = k8s.enabled
      ? KubernetesMetadata.fromEnvironment({
        nodeName: k8s.nodeName,
        clusterName: k8s.clusterName,
        kubeconfigPath: k8s.kubeconfig,
        relistIntervalMs: k8s.relistIntervalSeconds * 1000,
        log,
      })
      : undefined;
    await kubernetes?.start();
    return new SpanEnricher({ processes, kubernetes, clusterName: k8s.clusterName });
  }

  stop(): void {
    this.options.kubernetes?.stop();
  }

  /**
   * Reads a process's context while it still runs: a call's span is built when its connection ends, often after
   * a short-lived client (curl) has exited, and the cached context is then still there.
   */
  prefetch(pid: number): void {
    this.options.processes.lookup(pid).catch(() => undefined);
  }

  /**
   * The span with process, container and pod context in a new resource, and `sightline.client` / `sightline.server`
   * added to its attributes in place: the pipeline owns the spans it is given, and copying every attribute of every
   * span cost more than the rest of this stage. The pid comes from `origin`, else from the span's `process.pid`.
   *
   * Spans of one process get one shared resource object while its context and pod stay the same (resources are never
   * modified after this stage): privacy and the exporters then work on a process's resource once, not once per call.
   */
  async enrich(span: GenAiSpan, origin?: SpanOrigin): Promise<GenAiSpan> {
    const pid = pidOf(span, origin);
    const processContext = pid === undefined ? undefined : await this.options.processes.lookup(pid);
    return this.withContext(span, origin, pid, processContext);
  }

  /**
   * What `enrich` gives, at once, when the process's context is already known (every call of a process after its
   * first); undefined when it must be read first, and `enrich` is the way.
   */
  enrichNow(span: GenAiSpan, origin?: SpanOrigin): GenAiSpan | undefined {
    const pid = pidOf(span, origin);
    if (pid === undefined) return this.withContext(span, origin, pid, undefined);
    const known = this.options.processes.known(pid);
    return known ? this.withContext(span, origin, pid, known.context) : undefined;
  }

  private withContext(span: GenAiSpan, origin: SpanOrigin | undefined, pid: number | undefined, processContext: ProcessContext | undefined): GenAiSpan {
    const pod = processContext ? this.podOf(processContext) : undefined;
    const clusterName = this.options.kubernetes?.clusterName ?? this.options.clusterName;
    const comm = origin?.comm;

    // Only a span that brings no resource of its own (every eBPF span) can share one: a received span's resource is its own.
    const shareable = pid !== undefined && isEmpty(span.resource);
    const cached = shareable ? this.sharedResources.get(pid) : undefined;
    let resource: Attributes;
    if (cached && cached.context === processContext && cached.pod === pod && cached.comm === comm && cached.clusterName === clusterName) {
      resource = cached.resource;
    } else {
      resource = { ...span.resource };
      if (pid !== undefined) resource['process.pid'] = pid;
      if (processContext) addProcess(resource, processContext);
      else if (comm) resource['process.executable.name'] ??= comm;
      if (pod) addPod(resource, pod);
      if (pod && clusterName) resource['k8s.cluster.name'] = clusterName;
      if (shareable) {
        if (this.sharedResources.size >= MAX_SHARED_RESOURCES) this.sharedResources.clear();
        this.sharedResources.set(pid, { context: processContext, pod, comm, clusterName, resource });
      }
    }

    const attributes = span.attributes;
    const client = pod?.workloadName ?? stringOf(resource['process.executable.name']);
    if (client) attributes['sightline.client'] = client;
    const server = stringOf(attributes['server.address']);
    if (server) attributes['sightline.server'] = server;
    return { ...span, resource };
  }

  private podOf(context: ProcessContext): PodContext | undefined {
    const kubernetes = this.options.kubernetes;
    if (!kubernetes) return undefined;
    const byContainer = context.containerId ? kubernetes.podForContainer(context.containerId) : undefined;
    return byContainer ?? (context.podUid ? kubernetes.podForUid(context.podUid) : undefined);
  }
}

function pidOf(span: GenAiSpan, origin: SpanOrigin | undefined): number | undefined {
  return origin?.pid ?? (typeof span.resource['process.pid'] === 'number' ? span.resource['process.pid'] : undefined);
}

function isEmpty(attributes: Attributes): boolean {
  for (const _ in attributes) return false;
  return true;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function addProcess(resource: Attributes, context: ProcessContext): void {
  resource['process.executable.name'] = context.executableName;
  if (context.executablePath) resource['process.executable.path'] = context.executablePath;
  if (context.commandLine) resource['process.command_line'] = context.commandLine;
  if (context.containerId) resource['container.id'] = context.containerId;
}

function addPod(resource: Attributes, pod: PodContext): void {
  resource['k8s.pod.name'] = pod.podName;
  resource['k8s.pod.uid'] = pod.podUid;
  resource['k8s.namespace.name'] = pod.namespace;
  if (pod.nodeName) resource['k8s.node.name'] = pod.nodeName;
  if (pod.containerName) resource['k8s.container.name'] = pod.containerName;
  if (pod.controllerKind && pod.controllerName && WORKLOAD_NAME_ATTRIBUTE[pod.controllerKind]) {
    resource[WORKLOAD_NAME_ATTRIBUTE[pod.controllerKind]] = pod.controllerName;
  }
  const workloadAttribute = WORKLOAD_NAME_ATTRIBUTE[pod.workloadKind];
  if (workloadAttribute) resource[workloadAttribute] = pod.workloadName;
  resource['sightline.workload'] = pod.workloadName;
  resource['sightline.workload.kind'] = pod.workloadKind;
}
