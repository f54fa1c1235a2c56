/**
 * The fleet as the rollout sees it: open a tenant's cluster as the operator, read and change its Sightline workloads,
 * read its health alarms. AWS (STS, EKS, CloudWatch) and the Kubernetes API sit behind this interface, so the rollout's
 * decisions are tested against a simulated fleet.
 */
import type { WorkloadComponent } from '../contract';
import type { TenantCluster } from '../tenants/tenant';

export interface ResourceRequirements {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

/** How far a workload's rollout has come. */
export interface RolloutProgress {
  /** `metadata.generation`, and the generation the controller has acted on. */
  generation: number;
  observedGeneration: number;
  /** Pods the workload should run (replicas, or nodes for a DaemonSet), how many run the current template, how many are available. */
  desired: number;
  updated: number;
  available: number;
}

export interface AutoscalerBounds {
  minReplicas: number;
  maxReplicas: number;
}

export interface WorkloadState {
  component: WorkloadComponent;
  /** Image of the Sightline container. */
  image: string;
  resources?: ResourceRequirements;
  progress: RolloutProgress;
  /** The gateway's HorizontalPodAutoscaler, with the replicas it runs now. */
  autoscaler?: AutoscalerBounds & { currentReplicas: number };
}

/** What the control plane sets on a workload; anything left out stays as it is. */
export interface WorkloadSettings {
  image?: string;
  resources?: ResourceRequirements;
  autoscaler?: AutoscalerBounds;
}

export type AlarmValue = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

export interface AlarmReading {
  name: string;
  state: AlarmValue;
}

/** Who acts, carried into every customer account: the source identity CloudTrail records, and the session name. */
export interface OperatorSession {
  sourceIdentity: string;
  sessionName: string;
  externalId: string;
}

/** One tenant cluster, opened as the operator. */
export interface ClusterHandle {
  readonly cluster: TenantCluster;
  read(component: WorkloadComponent): Promise<WorkloadState>;
  /** Changes the workload from `current` to `settings`; refuses (RefusedError) if it changed since `current` was read. */
  apply(component: WorkloadComponent, settings: WorkloadSettings, current: WorkloadState): Promise<void>;
  /** States of the cluster's health alarms (none for a workload cluster). */
  readAlarms(): Promise<AlarmReading[]>;
}

export interface Fleet {
  open(cluster: TenantCluster, session: OperatorSession): Promise<ClusterHandle>;
}

/** The cluster could not be reached as the operator: role not assumable (revoked?), API unreachable, not authenticated. */
export class UnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnreachableError';
  }
}

/** The cluster refused a change: the admission policy, RBAC, or a change made by someone else in between. */
export class RefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RefusedError';
  }
}

export function rolloutComplete(progress: RolloutProgress): boolean {
  return progress.observedGeneration >= progress.generation && progress.updated >= progress.desired && progress.available >= progress.desired;
}

export function describeProgress(progress: RolloutProgress): string {
  const observed = progress.observedGeneration >= progress.generation ? '' : ', change not yet observed by the controller';
  return `${progress.updated}/${progress.desired} updated, ${progress.available}/${progress.desired} available${observed}`;
}

/** Canonical JSON: keys sorted, undefined left out, so equal settings compare equal whoever built them. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>).filter(([, item]) => item !== undefined).sort(([a], [b]) => a.localeCompare(b))
      .map(([key, item]) => `${JSON.stringify(key)}:${canonical(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Whether two resource requirements (or any settings) say the same, regardless of key order. */
export function sameValue(a: unknown, b: unknown): boolean {
  return canonical(a ?? {}) === canonical(b ?? {});
}
