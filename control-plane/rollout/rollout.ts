/**
 * The rollout, one tick at a time: start the next tenants of the current wave, advance every tenant in flight, and
 * judge the wave. A wave with more tenants rolled back than it tolerates halts the rollout: what is in flight is
 * rolled back and nothing further starts. A canary wave must leave a tenant healthy on the release. An abort does the
 * same on request. Each tick returns how long to wait before the next; the orchestrator only loops.
 */
import type { AuditTrail } from '../audit/audit-trail';
import type { Fleet } from '../fleet/fleet';
import type { Tenant } from '../tenants/tenant';
import type { TenantRegistry } from './ports';
import {
  FAILED_PHASES, FINAL_STATUSES, isTerminal, type RolloutRecord, type TenantProgress, type Wave,
} from './rollout-record';
import { TenantStep } from './tenant-step';

export interface RolloutDependencies {
  fleet: Fleet;
  audit: AuditTrail;
  registry: TenantRegistry;
  now: () => Date;
}

export interface TickResult {
  rollout: RolloutRecord;
  done: boolean;
  /** Seconds until the next tick. */
  waitSeconds: number;
}

const IN_FLIGHT = new Set(['waiting-window', 'applying', 'rolling-out', 'baking', 'rolling-back']);
const MAX_WAIT_SECONDS = 300;

function counts(rollout: RolloutRecord, tenantIds: string[]): Record<string, number> {
  const result: Record<string, number> = {};
  for (const id of tenantIds) {
    const phase = rollout.tenants[id].phase;
    result[phase] = (result[phase] ?? 0) + 1;
  }
  return result;
}

/** "3 succeeded, 1 skipped, 1 rolled-back" */
export function summarize(rollout: RolloutRecord, tenantIds = Object.keys(rollout.tenants)): string {
  const byPhase = counts(rollout, tenantIds);
  return Object.entries(byPhase).map(([phase, count]) => `${count} ${phase}`).join(', ') || 'no tenants';
}

async function recordTenantOutcome(rollout: RolloutRecord, progress: TenantProgress, registry: TenantRegistry, at: string): Promise<void> {
  const onRelease = progress.phase === 'succeeded' || progress.phase === 'unchanged';
  await registry.recordOutcome(progress.tenantId, {
    currentVersion: rollout.release !== undefined && onRelease ? rollout.release.version : undefined,
    lastRollout: { rolloutId: rollout.rolloutId, outcome: progress.reason === undefined ? progress.phase : `${progress.phase}: ${progress.reason}`, at },
  });
}

/** Runs `work` over `items`, at most `limit` at a time. */
async function inBatches<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  for (let start = 0; start < items.length; start += limit) await Promise.all(items.slice(start, start + limit).map(work));
}

export async function advanceRollout(record: RolloutRecord, dependencies: RolloutDependencies): Promise<TickResult> {
  const rollout = structuredClone(record);
  const now = dependencies.now();
  const at = now.toISOString();
  const audit = (action: Parameters<AuditTrail['record']>[0]['action'], result: Parameters<AuditTrail['record']>[0]['result'], detail?: string) =>
    dependencies.audit.record({ at, actor: rollout.startedBy, action, result, rolloutId: rollout.rolloutId, detail });
  if (FINAL_STATUSES.has(rollout.status)) return { rollout, done: true, waitSeconds: 0 };

  const tenants = new Map<string, Tenant>((await dependencies.registry.list()).map((tenant) => [tenant.tenantId, tenant]));
  /** Nothing new starts; what was changed is put back; the rest is skipped with `reason`. */
  const stop = async (reason: string) => {
    for (const progress of Object.values(rollout.tenants)) {
      const changed = progress.changes.some((change) => !change.reverted);
      if (progress.phase === 'pending' || (IN_FLIGHT.has(progress.phase) && progress.phase !== 'rolling-back' && !changed)) {
        Object.assign(progress, { phase: 'skipped', since: at, reason, attempts: 0 });
        await dependencies.audit.record({ at, actor: rollout.startedBy, action: 'tenant.skipped', result: 'skipped', rolloutId: rollout.rolloutId, tenantId: progress.tenantId, detail: reason });
        if (tenants.has(progress.tenantId)) await recordTenantOutcome(rollout, progress, dependencies.registry, at);
      } else if (IN_FLIGHT.has(progress.phase) && progress.phase !== 'rolling-back') {
        Object.assign(progress, { phase: 'rolling-back', since: at, reason, rollbackApplied: false, attempts: 0 });
      }
    }
  };

  if (rollout.abortRequestedBy !== undefined && rollout.status === 'running') {
    rollout.status = 'aborting';
    rollout.reason = `aborted by ${rollout.abortRequestedBy}`;
    await audit('rollout.aborting', 'ok', rollout.reason);
    await stop(rollout.reason);
  }

  const wave: Wave | undefined = rollout.waves[rollout.waveIndex];
  if (wave !== undefined) {
    const waveTenants = wave.tenantIds.map((id) => rollout.tenants[id]);
    const inFlight = waveTenants.filter((progress) => IN_FLIGHT.has(progress.phase));
    let starting: TenantProgress[] = [];
    if (rollout.status === 'running') {
      if (waveTenants.length > 0 && waveTenants.every((progress) => progress.phase === 'pending')) {
        await audit('rollout.wave-started', 'ok', `wave ${wave.name}: ${wave.tenantIds.join(', ')}`);
      }
      // The next tenants of the wave, up to the limit in flight; their step takes them out of pending.
      const room = Math.max(0, rollout.settings.maxInFlight - inFlight.length);
      starting = waveTenants.filter((progress) => progress.phase === 'pending').slice(0, room);
    }
    const active = [...inFlight, ...starting];
    await inBatches(active, rollout.settings.maxInFlight, async (progress) => {
      const tenant = tenants.get(progress.tenantId);
      let advanced: TenantProgress;
      if (tenant === undefined) {
        advanced = { ...progress, phase: 'skipped', since: at, reason: 'no longer registered' };
      } else {
        advanced = await new TenantStep(progress, { rollout, tenant, fleet: dependencies.fleet, audit: dependencies.audit, now }).advance();
      }
      rollout.tenants[progress.tenantId] = advanced;
      if (isTerminal(advanced) && !isTerminal(progress)) await recordTenantOutcome(rollout, advanced, dependencies.registry, at);
    });

    const after = wave.tenantIds.map((id) => rollout.tenants[id]);
    const failed = after.filter((progress) => FAILED_PHASES.has(progress.phase));
    if (rollout.status === 'running' && failed.length > wave.maxFailures) {
      rollout.status = 'halting';
      rollout.reason = `wave ${wave.name}: ${failed.length} tenant(s) rolled back (tolerated: ${wave.maxFailures}): `
        + failed.map((progress) => `${progress.tenantId} (${progress.reason})`).join('; ');
      await audit('rollout.halting', 'failed', rollout.reason);
      await stop(`rollout halted: ${rollout.reason}`);
    }

    if (after.every(isTerminal)) {
      if (rollout.status === 'running') {
        const healthy = after.filter((progress) => progress.phase === 'succeeded' || progress.phase === 'unchanged').length;
        await audit('rollout.wave-completed', 'ok', `wave ${wave.name}: ${summarize(rollout, wave.tenantIds)}`);
        if (healthy < wave.minHealthy) {
          rollout.status = 'halting';
          rollout.reason = `wave ${wave.name}: no tenant came through healthy on the release (${summarize(rollout, wave.tenantIds)}); nothing further is changed`;
          await audit('rollout.halting', 'failed', rollout.reason);
          await stop(`rollout halted: ${rollout.reason}`);
        } else {
          rollout.waveIndex += 1;
        }
      }
    }
  }

  const everything = Object.values(rollout.tenants);
  const nothingInFlight = everything.every((progress) => !IN_FLIGHT.has(progress.phase));
  if (rollout.status === 'running' && rollout.waveIndex >= rollout.waves.length) {
    rollout.status = 'succeeded';
    rollout.reason = summarize(rollout);
    await audit('rollout.completed', 'ok', `${rollout.reason}${rollout.excluded.length === 0 ? '' : `; ${rollout.excluded.length} excluded`}`);
  } else if ((rollout.status === 'halting' || rollout.status === 'aborting') && nothingInFlight) {
    rollout.status = rollout.status === 'halting' ? 'halted' : 'aborted';
    await audit(rollout.status === 'halted' ? 'rollout.halted' : 'rollout.aborted', 'failed', `${rollout.reason}; ${summarize(rollout)}`);
  }
  rollout.updatedAt = at;
  const done = FINAL_STATUSES.has(rollout.status);
  const waits = everything.filter((progress) => IN_FLIGHT.has(progress.phase)).map((progress) => TenantStep.waitSeconds(progress, { rollout, now }));
  const waveMoved = rollout.waveIndex !== record.waveIndex;
  const waitSeconds = done ? 0 : waveMoved || waits.length === 0 ? 1 : Math.min(MAX_WAIT_SECONDS, ...waits);
  return { rollout, done, waitSeconds };
}
