/**
 * Planning a rollout: which tenants take the release (those whose channel, or pin, points at it), and in which waves:
 * the canary tenants, then a small share of the others, then the rest. The first wave that has tenants tolerates no
 * failure and must leave at least one tenant healthy on the release before anything else changes.
 */
import { createHash } from 'node:crypto';
import { repositoryMismatch, type Release } from '../releases/release';
import { compareVersions, type Tenant } from '../tenants/tenant';
import type { ReleaseCatalog, TenantRegistry } from './ports';
import {
  DEFAULT_ROLLOUT_SETTINGS, type RolloutRecord, type RolloutRequest, type RolloutSettings, type TenantProgress, type Wave,
} from './rollout-record';
import { DEFAULT_SCALING_LIMITS, checkScalingLimits } from '../scaling/scaling-policy';

export interface PlanInput {
  rolloutId: string;
  request: RolloutRequest;
  startedBy: string;
  now: Date;
}

function checkSettings(settings: RolloutSettings): void {
  const problems = [
    settings.bakeSeconds >= 0 ? undefined : 'bakeSeconds must not be negative',
    settings.rolloutTimeoutSeconds > 0 ? undefined : 'rolloutTimeoutSeconds must be positive',
    Number.isInteger(settings.maxInFlight) && settings.maxInFlight >= 1 ? undefined : 'maxInFlight must be a whole number of at least 1',
    Number.isInteger(settings.unreachableAttempts) && settings.unreachableAttempts >= 1 ? undefined : 'unreachableAttempts must be a whole number of at least 1',
    settings.windowWaitSeconds >= 0 ? undefined : 'windowWaitSeconds must not be negative',
    settings.earlyShare > 0 && settings.earlyShare < 1 ? undefined : 'earlyShare must be between 0 and 1',
    settings.maxFailurePercent >= 0 && settings.maxFailurePercent <= 100 ? undefined : 'maxFailurePercent must be from 0 to 100',
  ].filter((problem): problem is string => problem !== undefined);
  if (problems.length > 0) throw new Error(`rollout settings: ${problems.join('; ')}`);
}

/** A spread-out but stable order: the same tenants go early in every rollout, not the alphabetically first ones. */
function spreadOrder(tenants: Tenant[]): Tenant[] {
  const key = (tenant: Tenant) => createHash('sha256').update(tenant.tenantId).digest('hex');
  return [...tenants].sort((a, b) => key(a).localeCompare(key(b)));
}

export function planWaves(eligible: Tenant[], settings: RolloutSettings): Wave[] {
  const canary = eligible.filter((tenant) => tenant.channel === 'canary').map((tenant) => tenant.tenantId).sort();
  const others = spreadOrder(eligible.filter((tenant) => tenant.channel !== 'canary')).map((tenant) => tenant.tenantId);
  const earlyCount = others.length <= 1 ? others.length : Math.max(1, Math.ceil(others.length * settings.earlyShare));
  const waves: Wave[] = [
    { name: 'canary', tenantIds: canary, maxFailures: 0, minHealthy: 0 },
    { name: 'early', tenantIds: others.slice(0, earlyCount), maxFailures: 0, minHealthy: 0 },
    { name: 'rest', tenantIds: others.slice(earlyCount), maxFailures: 0, minHealthy: 0 },
  ];
  let first = true;
  for (const wave of waves) {
    if (wave.tenantIds.length === 0) continue;
    // The first wave with tenants is the canary in effect: no failure tolerated, someone must come through.
    wave.maxFailures = first ? 0 : Math.floor((wave.tenantIds.length * settings.maxFailurePercent) / 100);
    wave.minHealthy = first ? 1 : 0;
    first = false;
  }
  return waves;
}

async function resolveRelease(request: RolloutRequest, catalog: ReleaseCatalog): Promise<Release | undefined> {
  if (request.kind !== 'release') return undefined;
  const release = await catalog.get(request.version);
  if (release === undefined) {
    throw new Error(`rollout: release ${request.version} is not published (sightline-vendor release publish ${request.version} ...)`);
  }
  return release;
}

/** Why `tenant` does not take `release` in this rollout, or undefined when it does. */
async function exclusionOf(tenant: Tenant, release: Release, named: boolean, catalog: ReleaseCatalog): Promise<string | undefined> {
  if (tenant.pinnedVersion !== undefined && tenant.pinnedVersion !== release.version) return `pinned to ${tenant.pinnedVersion}`;
  if (tenant.pinnedVersion === undefined && !named) {
    const pointer = await catalog.channel(tenant.channel);
    if (pointer?.version !== release.version) {
      return `follows the ${tenant.channel} channel, which points at ${pointer?.version ?? 'no release'} (sightline-vendor channel set ${tenant.channel} ${release.version})`;
    }
  }
  for (const cluster of tenant.clusters) {
    if (cluster.chartVersion !== undefined && compareVersions(cluster.chartVersion, release.chartVersion) < 0) {
      return `cluster ${cluster.clusterName} runs Sightline charts ${cluster.chartVersion}; release ${release.version} needs ${release.chartVersion} (the customer deploys it, then re-sends its SightlineOperatorAccess output)`;
    }
    const mismatch = repositoryMismatch(release, cluster.releaseRepository);
    if (mismatch !== undefined) return `cluster ${cluster.clusterName}: ${mismatch}`;
  }
  return undefined;
}

export async function planRollout(input: PlanInput, registry: TenantRegistry, catalog: ReleaseCatalog): Promise<RolloutRecord> {
  const { request } = input;
  const settings: RolloutSettings = { ...DEFAULT_ROLLOUT_SETTINGS, ...request.settings };
  checkSettings(settings);
  if (request.kind === 'scale') checkScalingLimits(request.limits ?? DEFAULT_SCALING_LIMITS);
  const release = await resolveRelease(request, catalog);
  const registered = await registry.list();
  const named = request.tenantIds !== undefined;
  if (named) {
    const unknown = request.tenantIds!.filter((id) => !registered.some((tenant) => tenant.tenantId === id));
    if (unknown.length > 0) throw new Error(`rollout: no tenant named ${unknown.join(', ')} (sightline-vendor tenant list)`);
  }
  const candidates = named ? registered.filter((tenant) => request.tenantIds!.includes(tenant.tenantId)) : registered;
  const eligible: Tenant[] = [];
  const excluded: RolloutRecord['excluded'] = [];
  for (const tenant of candidates) {
    const reason = release === undefined ? undefined : await exclusionOf(tenant, release, named, catalog);
    if (reason === undefined) eligible.push(tenant);
    else excluded.push({ tenantId: tenant.tenantId, reason });
  }
  const at = input.now.toISOString();
  const waves = planWaves(eligible, settings);
  const tenants: Record<string, TenantProgress> = Object.fromEntries(eligible.map((tenant) => [tenant.tenantId, {
    tenantId: tenant.tenantId, phase: 'pending', since: at, stage: 0, attempts: 0, changes: [],
  } satisfies TenantProgress]));
  return {
    rolloutId: input.rolloutId,
    kind: request.kind,
    request,
    startedBy: input.startedBy,
    createdAt: at,
    updatedAt: at,
    release,
    scalingLimits: request.kind === 'scale' ? request.limits ?? DEFAULT_SCALING_LIMITS : undefined,
    settings,
    status: 'running',
    waves,
    waveIndex: 0,
    tenants,
    excluded,
    revision: 0,
  };
}
