/**
 * One tick of a stored rollout, as the orchestrator runs it: plan it on the first tick (from the start request), then
 * advance it and save it as the next revision. Step Functions calls this through the rollout-step Lambda in a loop
 * with a Wait state; `driveRollout` is the same loop in one process (tests, local runs).
 */
import type { ReleaseCatalog, RolloutStore } from './ports';
import { planRollout } from './rollout-plan';
import type { RolloutRequest } from './rollout-record';
import { advanceRollout, summarize, type RolloutDependencies, type TickResult } from './rollout';

export interface RolloutStart {
  request: RolloutRequest;
  /** The person or schedule starting it; becomes the source identity in every customer account. */
  startedBy: string;
}

export interface TickDependencies extends RolloutDependencies {
  rollouts: RolloutStore;
  catalog: ReleaseCatalog;
}

export async function rolloutTick(rolloutId: string, start: RolloutStart | undefined, dependencies: TickDependencies): Promise<TickResult> {
  let record = await dependencies.rollouts.get(rolloutId);
  if (record === undefined) {
    if (start === undefined) throw new Error(`rollout ${rolloutId} does not exist and no start request came with it`);
    const now = dependencies.now();
    const at = now.toISOString();
    record = await planRollout({ rolloutId, request: start.request, startedBy: start.startedBy, now }, dependencies.registry, dependencies.catalog);
    await dependencies.rollouts.create(record);
    const target = start.request.kind === 'release' ? `release ${start.request.version}` : 'scaling';
    await dependencies.audit.record({ at, actor: record.startedBy, action: 'rollout.requested', result: 'ok', rolloutId, after: start.request, detail: target });
    await dependencies.audit.record({
      at, actor: record.startedBy, action: 'rollout.planned', result: 'ok', rolloutId,
      after: { waves: record.waves.map((wave) => ({ name: wave.name, tenants: wave.tenantIds })), excluded: record.excluded },
      detail: `${Object.keys(record.tenants).length} tenant(s) in ${record.waves.filter((wave) => wave.tenantIds.length > 0).length} wave(s), ${record.excluded.length} excluded`,
    });
  }
  const result = await advanceRollout(record, dependencies);
  result.rollout.revision = record.revision + 1;
  await dependencies.rollouts.save(result.rollout);
  return result;
}

export interface DriveOptions {
  /** Waits between ticks (a fake clock in tests). */
  sleep: (seconds: number) => Promise<void>;
  onTick?: (result: TickResult) => void;
  /** Gives up (throws) after this many ticks: a rollout that never ends is a bug, not something to wait out. */
  maxTicks?: number;
}

export async function driveRollout(rolloutId: string, start: RolloutStart | undefined, dependencies: TickDependencies, options: DriveOptions): Promise<TickResult> {
  const maxTicks = options.maxTicks ?? 10_000;
  for (let tick = 1; tick <= maxTicks; tick += 1) {
    const result = await rolloutTick(rolloutId, tick === 1 ? start : undefined, dependencies);
    options.onTick?.(result);
    if (result.done) return result;
    await options.sleep(result.waitSeconds);
  }
  const last = await dependencies.rollouts.get(rolloutId);
  throw new Error(`rollout ${rolloutId} did not finish in ${maxTicks} ticks (${last === undefined ? 'no record' : summarize(last)})`);
}
