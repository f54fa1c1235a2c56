/**
 * A rollout as it is stored between ticks: what was asked, the waves it was planned into, and where every tenant
 * stands. The orchestrator (Step Functions, or the local driver) only carries the rollout id; everything else lives
 * here, so a tick can run anywhere and `sightline-vendor rollout watch` reads the same record.
 */
import type { AlarmValue, WorkloadSettings } from '../fleet/fleet';
import type { WorkloadComponent } from '../contract';
import type { Release } from '../releases/release';
import type { ScalingLimits } from '../scaling/scaling-policy';

export type RolloutKind = 'release' | 'scale';

export interface RolloutSettings {
  /** How long a tenant must stay healthy after its workloads rolled out. */
  bakeSeconds: number;
  /** How long one stage of a tenant (gateway, then sensors) may take to roll out before it counts as failed. */
  rolloutTimeoutSeconds: number;
  /** Tenants changed at once within a wave. */
  maxInFlight: number;
  /** Attempts to reach a tenant (one per tick) before it is skipped, or, mid-change, rolled back. */
  unreachableAttempts: number;
  /** How long a tenant waits for its maintenance window to open before it is skipped. */
  windowWaitSeconds: number;
  /** Share of the remaining tenants in the second wave. */
  earlyShare: number;
  /** Failures (rolled back) the later waves tolerate, in percent of their tenants (the canary wave tolerates none). */
  maxFailurePercent: number;
}

export const DEFAULT_ROLLOUT_SETTINGS: RolloutSettings = {
  bakeSeconds: 600,
  rolloutTimeoutSeconds: 900,
  maxInFlight: 10,
  unreachableAttempts: 3,
  windowWaitSeconds: 12 * 3600,
  earlyShare: 0.1,
  maxFailurePercent: 5,
};

export type RolloutRequest =
  | { kind: 'release'; version: string; tenantIds?: string[]; settings?: Partial<RolloutSettings> }
  | { kind: 'scale'; tenantIds?: string[]; settings?: Partial<RolloutSettings>; limits?: ScalingLimits };

export type TenantPhase =
  | 'pending' | 'waiting-window' | 'applying' | 'rolling-out' | 'baking' | 'rolling-back'
  | 'succeeded' | 'unchanged' | 'skipped' | 'rolled-back' | 'rollback-failed';

export const TERMINAL_PHASES: ReadonlySet<TenantPhase> = new Set(['succeeded', 'unchanged', 'skipped', 'rolled-back', 'rollback-failed']);
/** Outcomes that count against a wave's failure threshold. */
export const FAILED_PHASES: ReadonlySet<TenantPhase> = new Set(['rolled-back', 'rollback-failed']);

/** One workload the rollout changed, with what to put back. */
export interface AppliedChange {
  /** `<account>/<region>/<cluster>`. */
  cluster: string;
  component: WorkloadComponent;
  before: WorkloadSettings;
  after: WorkloadSettings;
  reverted?: boolean;
}

export interface TenantProgress {
  tenantId: string;
  phase: TenantPhase;
  /** When the phase began (ISO). */
  since: string;
  /** 0: the gateway workloads, 1: the sensors. */
  stage: number;
  /** Consecutive failed attempts to reach the tenant. */
  attempts: number;
  /** Why it was skipped or rolled back. */
  reason?: string;
  /** Latest progress, for people watching. */
  detail?: string;
  /** Health alarm states before the change. */
  baseline?: Record<string, AlarmValue>;
  changes: AppliedChange[];
  rollbackApplied?: boolean;
  /** Until when it may wait for its maintenance window (ISO). */
  windowDeadline?: string;
}

export interface Wave {
  name: 'canary' | 'early' | 'rest';
  tenantIds: string[];
  /** Tenants rolled back before the wave halts the rollout. */
  maxFailures: number;
  /** Tenants that must end up on the release (succeeded or already there) for the rollout to go on. */
  minHealthy: number;
}

export type RolloutStatus = 'running' | 'halting' | 'aborting' | 'succeeded' | 'halted' | 'aborted';
export const FINAL_STATUSES: ReadonlySet<RolloutStatus> = new Set(['succeeded', 'halted', 'aborted']);

export interface RolloutRecord {
  rolloutId: string;
  kind: RolloutKind;
  request: RolloutRequest;
  /** The person or schedule that started it: the source identity of every call into customer accounts. */
  startedBy: string;
  createdAt: string;
  updatedAt: string;
  release?: Release;
  scalingLimits?: ScalingLimits;
  settings: RolloutSettings;
  status: RolloutStatus;
  reason?: string;
  /** Set by `rollout abort`; the next tick rolls back what is in flight. */
  abortRequestedBy?: string;
  waves: Wave[];
  waveIndex: number;
  tenants: Record<string, TenantProgress>;
  /** Tenants left out at planning, and why (pinned to another version, following another channel). */
  excluded: Array<{ tenantId: string; reason: string }>;
  /** Incremented on every save; a save that finds another revision was overtaken. */
  revision: number;
}

export function isTerminal(progress: TenantProgress): boolean {
  return TERMINAL_PHASES.has(progress.phase);
}
