/**
 * What the vendor's control plane and the customer's operator access agree on: role names, the Kubernetes group the
 * operator acts as, the workloads it may touch, and the description a customer stack prints for the vendor to
 * register. Both sides import it; a rename here breaks every connected tenant.
 */
import { KUBERNETES_NAMESPACE } from '../sensor/common/telemetry-contract';

/** The role in each customer account the control plane assumes (the prefix, when a stack adds a suffix). */
export const OPERATOR_ROLE_NAME = 'sightline-operator';

/**
 * The control plane's own role in the vendor account: the only principal customer trust policies name. A fixed name,
 * because customers write it into their trust policy before the vendor's stack can tell them its generated one.
 */
export const CONTROL_PLANE_ROLE_NAME = 'sightline-control-plane';

/** Kubernetes group the operator's access entry maps to; the namespaced Role and the admission policy key on it. */
export const OPERATOR_KUBERNETES_GROUP = 'sightline-operators';

/** Namespace of every Sightline workload. */
export const SIGHTLINE_NAMESPACE = KUBERNETES_NAMESPACE;

export type WorkloadComponent = 'gateway' | 'sensor';

/** A Sightline workload as the control plane addresses it. */
export interface WorkloadRef {
  readonly component: WorkloadComponent;
  readonly kind: 'StatefulSet' | 'DaemonSet';
  /** Its name, and the HorizontalPodAutoscaler's for the gateway. */
  readonly name: string;
  /** The container whose image a release replaces. */
  readonly container: string;
}

/** The two workloads, named as the charts in lib/charts name them (a test keeps them equal). */
export const SIGHTLINE_WORKLOADS: Readonly<Record<WorkloadComponent, WorkloadRef>> = {
  gateway: { component: 'gateway', kind: 'StatefulSet', name: 'sightline-gateway', container: 'gateway' },
  sensor: { component: 'sensor', kind: 'DaemonSet', name: 'sightline-sensor', container: 'sensor' },
};

/**
 * One cluster a customer stack opened to the control plane, as its `SightlineOperatorAccess` output prints it (JSON).
 * The customer hands it to the vendor, who registers it with the tenant.
 */
export interface OperatorAccessDescriptor {
  readonly accountId: string;
  readonly region: string;
  readonly clusterName: string;
  readonly operatorRoleArn: string;
  /** What Sightline runs in that cluster. */
  readonly workloads: WorkloadComponent[];
  /** Health alarms the operator role may read (data-plane stacks only). */
  readonly healthAlarmNames: string[];
  /** Image repository the cluster's admission policy accepts images from, by digest only. */
  readonly releaseRepository: string;
  /** Version of the Sightline charts the stack deployed; a release that needs newer charts skips the cluster. */
  readonly chartVersion?: string;
}

/**
 * Alarms about Sightline's own health (heartbeats, exports, gateway pods), as opposed to alarms about the customer's
 * LLM usage (SLA, error rate, token budget), whose state reasons carry usage figures the vendor must not read.
 */
export function isHealthAlarm(alarmName: string): boolean {
  return /-(Health|Gateway)-/.test(alarmName);
}

/** A container image pinned by digest: `<repository>@sha256:<64 hex>`. */
export const IMAGE_BY_DIGEST = /^([a-z0-9]+(?:[._-][a-z0-9]+)*(?::\d+)?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)+)@sha256:[0-9a-f]{64}$/;

/** The repository of an image reference: `repo@sha256:...`, `repo:tag` or `repo` give `repo`. */
export function imageRepository(image: string): string {
  const at = image.indexOf('@');
  if (at >= 0) return image.slice(0, at);
  const lastSlash = image.lastIndexOf('/');
  const colon = image.indexOf(':', lastSlash + 1);
  return colon >= 0 ? image.slice(0, colon) : image;
}
