/**
 * What a tick changed that the vendor's alarms watch: rollouts that halted or were aborted, tenants rolled back,
 * rollbacks that failed (a tenant left half-changed: a person must look), tenants skipped.
 */
import type { RolloutRecord } from './rollout-record';

export const CONTROL_PLANE_NAMESPACE = 'SightlineControlPlane';

export const RolloutMetric = {
  rolloutsHalted: 'RolloutsHalted',
  rolloutsAborted: 'RolloutsAborted',
  tenantsRolledBack: 'TenantsRolledBack',
  rollbackFailures: 'RollbackFailures',
  tenantsSkipped: 'TenantsSkipped',
} as const;

export type RolloutMetricName = (typeof RolloutMetric)[keyof typeof RolloutMetric];

/** Counts of what became true between two revisions of a rollout. */
export function rolloutMetrics(before: RolloutRecord | undefined, after: RolloutRecord): Partial<Record<RolloutMetricName, number>> {
  const metrics: Partial<Record<RolloutMetricName, number>> = {};
  const add = (name: RolloutMetricName, count: number) => {
    if (count > 0) metrics[name] = (metrics[name] ?? 0) + count;
  };
  if (after.status !== before?.status) {
    if (after.status === 'halted') add(RolloutMetric.rolloutsHalted, 1);
    if (after.status === 'aborted') add(RolloutMetric.rolloutsAborted, 1);
  }
  const became = (phase: string) => Object.values(after.tenants).filter((progress) => progress.phase === phase && before?.tenants[progress.tenantId]?.phase !== phase).length;
  add(RolloutMetric.tenantsRolledBack, became('rolled-back'));
  add(RolloutMetric.rollbackFailures, became('rollback-failed'));
  add(RolloutMetric.tenantsSkipped, became('skipped'));
  return metrics;
}
