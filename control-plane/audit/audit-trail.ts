/**
 * The audit trail: every action of the control plane, in the vendor account. Who (the source identity carried into
 * the customer account), which tenant and cluster, what, the state before and after, and the result.
 */

export type AuditAction =
  | 'tenant.registered' | 'release.published' | 'channel.moved'
  | 'rollout.requested' | 'rollout.planned' | 'rollout.wave-started' | 'rollout.wave-completed' | 'rollout.abort-requested'
  | 'rollout.halting' | 'rollout.aborting' | 'rollout.completed' | 'rollout.halted' | 'rollout.aborted'
  | 'tenant.deferred' | 'tenant.skipped' | 'tenant.unchanged' | 'tenant.health-baseline' | 'workload.changed' | 'workload.change-refused'
  | 'workload.rolled-out' | 'tenant.unhealthy' | 'workload.rolled-back' | 'tenant.rollback-failed' | 'tenant.rolled-back' | 'tenant.succeeded'
  | 'tenant.unreachable';

export type AuditResult = 'ok' | 'refused' | 'failed' | 'skipped' | 'unhealthy';

export interface AuditRecord {
  /** ISO time of the action. */
  at: string;
  /** Who: the person (or schedule) behind it, the source identity every customer account records too. */
  actor: string;
  action: AuditAction;
  result: AuditResult;
  rolloutId?: string;
  tenantId?: string;
  /** `<account>/<region>/<cluster> <Kind> <name>` for actions on a workload. */
  target?: string;
  before?: unknown;
  after?: unknown;
  detail?: string;
}

export interface AuditTrail {
  record(entry: AuditRecord): Promise<void>;
}
