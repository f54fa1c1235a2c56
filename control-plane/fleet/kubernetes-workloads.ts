/**
 * The Sightline workloads of one cluster through the Kubernetes API (@kubernetes/client-node), as the operator: read
 * the gateway StatefulSet and its HPA or the sensor DaemonSet, and change them with JSON patches that first test what
 * they replace, so a change someone made since the read is refused instead of overwritten.
 */
import type { AppsV1Api, AutoscalingV2Api, KubeConfig, V1DaemonSet, V1StatefulSet, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { SIGHTLINE_NAMESPACE, SIGHTLINE_WORKLOADS, type WorkloadComponent } from '../contract';
import { RefusedError, UnreachableError, sameValue, type WorkloadSettings, type WorkloadState } from './fleet';

/** Every call gives up after this long, so an unreachable cluster costs one timeout per attempt. */
const REQUEST_TIMEOUT_MS = 10_000;
const JSON_PATCH = { headers: { 'Content-Type': 'application/json-patch+json' } };
/** Named in managedFields, so the customer sees who changed what. */
const FIELD_MANAGER = 'sightline-control-plane';

interface PatchOperation {
  op: 'test' | 'replace' | 'add';
  path: string;
  value: unknown;
}

function kubernetesClient(): typeof import('@kubernetes/client-node') {
  return require('@kubernetes/client-node') as typeof import('@kubernetes/client-node');
}

/** Kubernetes API failures as the rollout needs them: refused (admission, RBAC, conflict) or unreachable. */
function classify(error: unknown, what: string): Error {
  const status = (error as { statusCode?: number }).statusCode ?? (error as { response?: { statusCode?: number } }).response?.statusCode;
  const body = (error as { body?: { message?: string } }).body;
  const detail = body?.message ?? (error as Error).message ?? String(error);
  if (status === 401) return new UnreachableError(`${what}: not authenticated by the cluster (401): its access entry may have been removed`);
  if (status === 403 || status === 409 || status === 422) return new RefusedError(`${what}: refused (${status}): ${detail}`);
  if (status !== undefined) return new UnreachableError(`${what}: the API answered ${status}: ${detail}`);
  return new UnreachableError(`${what}: ${detail}`);
}

function containerIndex(workload: V1StatefulSet | V1DaemonSet, component: WorkloadComponent): number {
  const name = SIGHTLINE_WORKLOADS[component].container;
  const index = workload.spec?.template.spec?.containers.findIndex((container) => container.name === name) ?? -1;
  if (index < 0) throw new RefusedError(`${SIGHTLINE_WORKLOADS[component].kind} ${SIGHTLINE_WORKLOADS[component].name} has no container "${name}"`);
  return index;
}

/**
 * The patch from `workload` to `settings` (image and resources of the Sightline container), each change guarded by a
 * test. Init containers that run the same image (the one that fetches the pod's credentials) move to the new image
 * with it, so a pod never starts half on the previous release.
 */
export function containerPatch(workload: V1StatefulSet | V1DaemonSet, component: WorkloadComponent, settings: WorkloadSettings): PatchOperation[] {
  const index = containerIndex(workload, component);
  const container = workload.spec!.template.spec!.containers[index];
  const path = `/spec/template/spec/containers/${index}`;
  const operations: PatchOperation[] = [];
  if (settings.image !== undefined && settings.image !== container.image) {
    operations.push({ op: 'test', path: `${path}/image`, value: container.image }, { op: 'replace', path: `${path}/image`, value: settings.image });
    (workload.spec!.template.spec!.initContainers ?? []).forEach((init, initIndex) => {
      if (init.image !== container.image) return;
      const initPath = `/spec/template/spec/initContainers/${initIndex}`;
      operations.push(
        { op: 'test', path: `${initPath}/name`, value: init.name },
        { op: 'test', path: `${initPath}/image`, value: init.image },
        { op: 'replace', path: `${initPath}/image`, value: settings.image },
      );
    });
  }
  if (settings.resources !== undefined && !sameValue(settings.resources, container.resources)) {
    operations.push(container.resources === undefined
      ? { op: 'add', path: `${path}/resources`, value: settings.resources }
      : { op: 'replace', path: `${path}/resources`, value: settings.resources });
  }
  if (operations.length === 0) return [];
  return [{ op: 'test', path: `${path}/name`, value: container.name }, ...operations];
}

/** The patch of the HPA bounds, guarded by tests of the bounds it replaces. */
export function autoscalerPatch(autoscaler: V2HorizontalPodAutoscaler, bounds: { minReplicas: number; maxReplicas: number }): PatchOperation[] {
  const spec = autoscaler.spec!;
  const operations: PatchOperation[] = [];
  if (spec.minReplicas !== bounds.minReplicas) {
    if (spec.minReplicas === undefined) operations.push({ op: 'add', path: '/spec/minReplicas', value: bounds.minReplicas });
    else operations.push({ op: 'test', path: '/spec/minReplicas', value: spec.minReplicas }, { op: 'replace', path: '/spec/minReplicas', value: bounds.minReplicas });
  }
  if (spec.maxReplicas !== bounds.maxReplicas) {
    operations.push({ op: 'test', path: '/spec/maxReplicas', value: spec.maxReplicas }, { op: 'replace', path: '/spec/maxReplicas', value: bounds.maxReplicas });
  }
  return operations;
}

function stateOf(component: WorkloadComponent, workload: V1StatefulSet | V1DaemonSet, autoscaler?: V2HorizontalPodAutoscaler): WorkloadState {
  const container = workload.spec!.template.spec!.containers[containerIndex(workload, component)];
  const generation = workload.metadata?.generation ?? 0;
  const progress = component === 'gateway'
    ? (() => {
      const status = (workload as V1StatefulSet).status;
      return {
        generation, observedGeneration: status?.observedGeneration ?? 0, desired: (workload as V1StatefulSet).spec?.replicas ?? 1,
        updated: status?.updatedReplicas ?? 0, available: status?.availableReplicas ?? 0,
      };
    })()
    : (() => {
      const status = (workload as V1DaemonSet).status;
      return {
        generation, observedGeneration: status?.observedGeneration ?? 0, desired: status?.desiredNumberScheduled ?? 0,
        updated: status?.updatedNumberScheduled ?? 0, available: status?.numberAvailable ?? 0,
      };
    })();
  return {
    component,
    image: container.image ?? '',
    resources: container.resources as WorkloadState['resources'],
    progress,
    autoscaler: autoscaler === undefined ? undefined : {
      minReplicas: autoscaler.spec?.minReplicas ?? 1, maxReplicas: autoscaler.spec!.maxReplicas, currentReplicas: autoscaler.status?.currentReplicas ?? 0,
    },
  };
}

export class KubernetesWorkloads {
  private readonly apps: AppsV1Api;
  private readonly autoscaling: AutoscalingV2Api;

  constructor(kubeConfig: KubeConfig, private readonly namespace = SIGHTLINE_NAMESPACE) {
    const k8s = kubernetesClient();
    this.apps = kubeConfig.makeApiClient(k8s.AppsV1Api);
    this.autoscaling = kubeConfig.makeApiClient(k8s.AutoscalingV2Api);
    for (const api of [this.apps, this.autoscaling]) {
      api.addInterceptor((options) => {
        options.timeout = REQUEST_TIMEOUT_MS;
      });
    }
  }

  private async fetch(component: WorkloadComponent): Promise<{ workload: V1StatefulSet | V1DaemonSet; autoscaler?: V2HorizontalPodAutoscaler }> {
    const { name, kind } = SIGHTLINE_WORKLOADS[component];
    try {
      if (component === 'gateway') {
        const [workload, autoscaler] = await Promise.all([
          this.apps.readNamespacedStatefulSet(name, this.namespace),
          this.autoscaling.readNamespacedHorizontalPodAutoscaler(name, this.namespace),
        ]);
        return { workload: workload.body, autoscaler: autoscaler.body };
      }
      return { workload: (await this.apps.readNamespacedDaemonSet(name, this.namespace)).body };
    } catch (error) {
      throw classify(error, `reading ${kind} ${this.namespace}/${name}`);
    }
  }

  async read(component: WorkloadComponent): Promise<WorkloadState> {
    const { workload, autoscaler } = await this.fetch(component);
    return stateOf(component, workload, autoscaler);
  }

  async apply(component: WorkloadComponent, settings: WorkloadSettings, current: WorkloadState): Promise<void> {
    const { name, kind } = SIGHTLINE_WORKLOADS[component];
    const { workload, autoscaler } = await this.fetch(component);
    if (stateOf(component, workload, autoscaler).image !== current.image) {
      throw new RefusedError(`${kind} ${this.namespace}/${name} changed since it was read (image ${current.image} is now ${stateOf(component, workload, autoscaler).image})`);
    }
    const operations = containerPatch(workload, component, settings);
    try {
      if (operations.length > 0) {
        if (component === 'gateway') await this.apps.patchNamespacedStatefulSet(name, this.namespace, operations, undefined, undefined, FIELD_MANAGER, undefined, undefined, JSON_PATCH);
        else await this.apps.patchNamespacedDaemonSet(name, this.namespace, operations, undefined, undefined, FIELD_MANAGER, undefined, undefined, JSON_PATCH);
      }
    } catch (error) {
      throw classify(error, `patching ${kind} ${this.namespace}/${name}`);
    }
    if (settings.autoscaler !== undefined && autoscaler !== undefined) {
      const bounds = autoscalerPatch(autoscaler, settings.autoscaler);
      if (bounds.length === 0) return;
      try {
        await this.autoscaling.patchNamespacedHorizontalPodAutoscaler(name, this.namespace, bounds, undefined, undefined, FIELD_MANAGER, undefined, undefined, JSON_PATCH);
      } catch (error) {
        throw classify(error, `patching HorizontalPodAutoscaler ${this.namespace}/${name}`);
      }
    }
  }
}
