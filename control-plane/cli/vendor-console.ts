/**
 * What the vendor does with the control plane, as the `sightline-vendor` commands do it: register tenants from the
 * customers' SightlineOperatorAccess outputs, publish releases and move channels, start, watch and abort rollouts,
 * and look at the fleet. Every change is recorded in the audit trail under the caller's name.
 */
import { randomBytes } from 'node:crypto';
import type { AuditRecord, AuditTrail } from '../audit/audit-trail';
import { parseRelease, type Release } from '../releases/release';
import type { ReleaseCatalog, RolloutStore, TenantRegistry } from '../rollout/ports';
import { summarize } from '../rollout/rollout';
import { FINAL_STATUSES, type RolloutRecord, type RolloutRequest, type RolloutSettings } from '../rollout/rollout-record';
import type { RolloutStart } from '../rollout/rollout-tick';
import { CHANNELS, parseTenant, tenantClusterSchema, type Channel, type Tenant, type TenantCluster } from '../tenants/tenant';

export interface RolloutStarter {
  /** Starts the orchestration of rollout `rolloutId` (a Step Functions execution of that name). */
  start(rolloutId: string, start: RolloutStart): Promise<void>;
}

export interface VendorConsoleDependencies {
  registry: TenantRegistry;
  catalog: ReleaseCatalog;
  rollouts: RolloutStore;
  audit: AuditTrail & { of(subject: string): Promise<AuditRecord[]> };
  starter: RolloutStarter;
  /** Who is calling: becomes the source identity in customer accounts and the actor in the audit trail. */
  actor: () => Promise<string>;
  now: () => Date;
  out: (line: string) => void;
  sleep: (seconds: number) => Promise<void>;
}

/** Columns padded to their widest cell. */
export function table(rows: string[][]): string[] {
  const widths = rows[0].map((_cell, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]))).join('  ').trimEnd());
}

const clusterKey = (cluster: Pick<TenantCluster, 'accountId' | 'region' | 'clusterName'>) => `${cluster.accountId}/${cluster.region}/${cluster.clusterName}`;

function parseAccess(text: string): TenantCluster {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`--access: not JSON: pass the SightlineOperatorAccess output of the customer's stack as it is (${text.slice(0, 40)}...)`);
  }
  const parsed = tenantClusterSchema.safeParse(json);
  if (!parsed.success) throw new Error(parsed.error.issues.map((issue) => `--access ${issue.path.join('.')}: ${issue.message}`).join('\n'));
  return parsed.data as TenantCluster;
}

export interface RegisterTenantOptions {
  tenantId: string;
  externalId?: string;
  access: string[];
  channel?: Channel;
  pinnedVersion?: string | null;
  maintenanceWindow?: string | null;
  displayName?: string;
}

export interface StartRolloutOptions {
  version?: string;
  scale?: boolean;
  tenantIds?: string[];
  settings?: Partial<RolloutSettings>;
}

export class VendorConsole {
  constructor(private readonly dependencies: VendorConsoleDependencies) {}

  private async record(action: AuditRecord['action'], fields: Partial<AuditRecord>): Promise<void> {
    await this.dependencies.audit.record({ at: this.dependencies.now().toISOString(), actor: await this.dependencies.actor(), action, result: 'ok', ...fields });
  }

  /** Adds a tenant, or adds clusters to it and updates what is given; clusters are matched by account, region and name. */
  async registerTenant(options: RegisterTenantOptions): Promise<Tenant> {
    const existing = await this.dependencies.registry.get(options.tenantId);
    if (existing === undefined && options.externalId === undefined) {
      throw new Error(`tenant ${options.tenantId} is new: give --external-id (the one you issued the customer for sightline:externalId)`);
    }
    const clusters = new Map((existing?.clusters ?? []).map((cluster) => [clusterKey(cluster), cluster] as const));
    for (const text of options.access) {
      const cluster = parseAccess(text);
      clusters.set(clusterKey(cluster), cluster);
    }
    const tenant = parseTenant({
      ...existing,
      tenantId: options.tenantId,
      displayName: options.displayName ?? existing?.displayName,
      externalId: options.externalId ?? existing?.externalId,
      channel: options.channel ?? existing?.channel ?? 'stable',
      pinnedVersion: options.pinnedVersion === null ? undefined : options.pinnedVersion ?? existing?.pinnedVersion,
      maintenanceWindow: options.maintenanceWindow === null ? undefined : options.maintenanceWindow ?? existing?.maintenanceWindow,
      clusters: [...clusters.values()],
      registeredAt: existing?.registeredAt ?? this.dependencies.now().toISOString(),
      registeredBy: existing?.registeredBy ?? await this.dependencies.actor(),
    });
    await this.dependencies.registry.put(tenant);
    const { externalId: _secretEnough, ...visible } = tenant;
    await this.record('tenant.registered', { tenantId: tenant.tenantId, before: existing === undefined ? undefined : { ...existing, externalId: undefined }, after: visible });
    this.dependencies.out(`${existing === undefined ? 'registered' : 'updated'} tenant ${tenant.tenantId}: ${tenant.channel} channel${tenant.pinnedVersion ? `, pinned to ${tenant.pinnedVersion}` : ''}`
      + `${tenant.maintenanceWindow ? `, window ${tenant.maintenanceWindow}` : ''}`);
    for (const line of table([['cluster', 'runs', 'operator role', 'health alarms'], ...tenant.clusters.map((cluster) => [
      clusterKey(cluster), cluster.workloads.join('+'), cluster.operatorRoleArn, String(cluster.healthAlarmNames.length),
    ])])) this.dependencies.out(`  ${line}`);
    return tenant;
  }

  async listTenants(): Promise<void> {
    const tenants = await this.dependencies.registry.list();
    if (tenants.length === 0) {
      this.dependencies.out('no tenants yet: sightline-vendor tenant register <id> --external-id <id> --access <SightlineOperatorAccess output>');
      return;
    }
    for (const line of table([['tenant', 'channel', 'pinned', 'window', 'clusters'], ...tenants.map((tenant) => [
      tenant.tenantId, tenant.channel, tenant.pinnedVersion ?? '-', tenant.maintenanceWindow ?? 'any time', tenant.clusters.map((cluster) => cluster.clusterName).join(', '),
    ])])) this.dependencies.out(line);
  }

  async publishRelease(fields: Omit<Release, 'publishedAt' | 'publishedBy'>): Promise<Release> {
    const release = parseRelease({ ...fields, publishedAt: this.dependencies.now().toISOString(), publishedBy: await this.dependencies.actor() });
    await this.dependencies.catalog.publish(release);
    await this.record('release.published', { after: release });
    this.dependencies.out(`published ${release.version}: gateway ${release.images.gateway}, sensor ${release.images.sensor}, needs charts ${release.chartVersion}`);
    return release;
  }

  async listReleases(): Promise<void> {
    const [releases, pointers] = await Promise.all([this.dependencies.catalog.list(), this.dependencies.catalog.channels()]);
    const channelsOf = (version: string) => pointers.filter((pointer) => pointer.version === version).map((pointer) => pointer.channel).join(', ');
    for (const line of table([['version', 'channels', 'charts', 'published', 'gateway image'], ...releases
      .sort((a, b) => b.publishedAt.localeCompare(a.publishedAt))
      .map((release) => [release.version, channelsOf(release.version) || '-', release.chartVersion, `${release.publishedAt.slice(0, 16)} ${release.publishedBy}`, release.images.gateway])])) {
      this.dependencies.out(line);
    }
  }

  async setChannel(channel: string, version: string): Promise<void> {
    if (!(CHANNELS as readonly string[]).includes(channel)) throw new Error(`channel "${channel}": the channels are ${CHANNELS.join(' and ')}`);
    const before = await this.dependencies.catalog.channel(channel as Channel);
    const pointer = { channel: channel as Channel, version, updatedAt: this.dependencies.now().toISOString(), updatedBy: await this.dependencies.actor() };
    await this.dependencies.catalog.setChannel(pointer);
    await this.record('channel.moved', { before, after: pointer });
    this.dependencies.out(`${channel} now points at ${version}${before === undefined ? '' : ` (was ${before.version})`}: start a rollout to move its tenants`);
  }

  async startRollout(options: StartRolloutOptions): Promise<string> {
    if ((options.version === undefined) === (options.scale !== true)) throw new Error('rollout start: give either --version <version> or --scale');
    const request: RolloutRequest = options.scale
      ? { kind: 'scale', tenantIds: options.tenantIds, settings: options.settings }
      : { kind: 'release', version: options.version!, tenantIds: options.tenantIds, settings: options.settings };
    if (request.kind === 'release' && await this.dependencies.catalog.get(request.version) === undefined) {
      throw new Error(`rollout start: release ${request.version} is not published (sightline-vendor release list)`);
    }
    const now = this.dependencies.now();
    const rolloutId = `r-${now.toISOString().replace(/[-:]/g, '').slice(0, 15).replace('T', '-')}-${randomBytes(2).toString('hex')}`;
    const startedBy = await this.dependencies.actor();
    await this.dependencies.starter.start(rolloutId, { request, startedBy });
    this.dependencies.out(`started ${rolloutId} (${request.kind === 'release' ? `release ${request.version}` : 'scaling'}) as ${startedBy}; follow it with: sightline-vendor rollout watch ${rolloutId}`);
    return rolloutId;
  }

  /** Follows a rollout until it ends, one line per change; true when it succeeded. */
  async watch(rolloutId: string, intervalSeconds = 15): Promise<boolean> {
    const seen = new Map<string, string>();
    let lastStatus = '';
    let lastWave = -1;
    for (;;) {
      const rollout = await this.dependencies.rollouts.get(rolloutId);
      if (rollout === undefined) {
        if (!seen.has('')) this.dependencies.out(`${rolloutId}: waiting for the first tick...`);
        seen.set('', 'waiting');
      } else {
        this.report(rollout, seen, lastWave, lastStatus);
        lastWave = rollout.waveIndex;
        lastStatus = rollout.status;
        if (FINAL_STATUSES.has(rollout.status)) return rollout.status === 'succeeded';
      }
      await this.dependencies.sleep(intervalSeconds);
    }
  }

  private report(rollout: RolloutRecord, seen: Map<string, string>, lastWave: number, lastStatus: string): void {
    const out = this.dependencies.out;
    const time = rollout.updatedAt.slice(11, 19);
    if (lastWave === -1) {
      out(`${rollout.rolloutId}: ${rollout.kind === 'release' ? `release ${rollout.release?.version}` : 'scaling'}, started by ${rollout.startedBy}; `
        + `waves ${rollout.waves.map((wave) => `${wave.name} (${wave.tenantIds.length})`).join(', ')}`);
      for (const { tenantId, reason } of rollout.excluded) out(`  excluded ${tenantId}: ${reason}`);
    }
    const wave = rollout.waves[rollout.waveIndex];
    const tenantLines = (inWave: boolean) => {
      for (const progress of Object.values(rollout.tenants)) {
        if (progress.phase === 'pending' || (wave?.tenantIds.includes(progress.tenantId) ?? false) !== inWave) continue;
        const line = `${progress.phase}${progress.reason === undefined ? '' : `: ${progress.reason}`}${progress.detail === undefined ? '' : ` (${progress.detail})`}`;
        if (seen.get(progress.tenantId) === line) continue;
        seen.set(progress.tenantId, line);
        out(`${time}   ${progress.tenantId.padEnd(16)} ${line}`);
      }
    };
    // The wave that ended, then the one that starts.
    tenantLines(false);
    if (rollout.waveIndex !== lastWave && wave !== undefined && wave.tenantIds.length > 0) out(`${time} wave ${wave.name}: ${wave.tenantIds.join(', ')}`);
    tenantLines(true);
    if (rollout.status !== lastStatus && rollout.status !== 'running') {
      out(`${time} ${rollout.status}: ${summarize(rollout)}${rollout.reason === undefined || rollout.status === 'succeeded' ? '' : ` (${rollout.reason})`}`);
    }
  }

  async abort(rolloutId: string): Promise<void> {
    const rollout = await this.dependencies.rollouts.get(rolloutId);
    if (rollout === undefined) throw new Error(`no rollout ${rolloutId} (sightline-vendor rollout list)`);
    if (FINAL_STATUSES.has(rollout.status)) throw new Error(`rollout ${rolloutId} already ended (${rollout.status}): nothing to abort`);
    const actor = await this.dependencies.actor();
    await this.dependencies.rollouts.requestAbort(rolloutId, actor);
    await this.record('rollout.abort-requested', { rolloutId });
    this.dependencies.out(`abort requested: the next tick rolls back the tenants in flight of ${rolloutId} and starts nothing new`);
  }

  async listRollouts(limit = 20): Promise<void> {
    const rollouts = await this.dependencies.rollouts.list(limit);
    if (rollouts.length === 0) {
      this.dependencies.out('no rollouts yet');
      return;
    }
    for (const line of table([['rollout', 'what', 'status', 'started', 'tenants'], ...rollouts.map((rollout) => [
      rollout.rolloutId, rollout.kind === 'release' ? `release ${rollout.release?.version}` : 'scaling', rollout.status,
      `${rollout.createdAt.slice(0, 16)} ${rollout.startedBy}`, summarize(rollout),
    ])])) this.dependencies.out(line);
  }

  async fleetStatus(): Promise<void> {
    const [tenants, pointers] = await Promise.all([this.dependencies.registry.list(), this.dependencies.catalog.channels()]);
    this.dependencies.out(`channels: ${pointers.map((pointer) => `${pointer.channel} -> ${pointer.version}`).join(', ') || 'none set'}`);
    const target = (tenant: Tenant) => tenant.pinnedVersion ?? pointers.find((pointer) => pointer.channel === tenant.channel)?.version;
    for (const line of table([['tenant', 'channel', 'runs', 'should run', 'last rollout'], ...tenants.map((tenant) => [
      tenant.tenantId, tenant.pinnedVersion ? `${tenant.channel} (pinned)` : tenant.channel, tenant.currentVersion ?? 'unknown', target(tenant) ?? '-',
      tenant.lastRollout === undefined ? '-' : `${tenant.lastRollout.rolloutId} ${tenant.lastRollout.outcome}`,
    ])])) this.dependencies.out(line);
    const behind = tenants.filter((tenant) => target(tenant) !== undefined && tenant.currentVersion !== target(tenant));
    this.dependencies.out(`${tenants.length} tenant(s), ${behind.length} not on their channel's release${behind.length === 0 ? '' : `: ${behind.map((tenant) => tenant.tenantId).join(', ')}`}`);
  }

  async auditTrail(rolloutId: string): Promise<void> {
    for (const record of await this.dependencies.audit.of(rolloutId)) {
      const change = record.before === undefined && record.after === undefined ? '' : ` ${JSON.stringify(record.before ?? null)} -> ${JSON.stringify(record.after ?? null)}`;
      this.dependencies.out(`${record.at} ${record.actor} ${record.action} ${record.result}${record.tenantId ? ` ${record.tenantId}` : ''}${record.target ? ` ${record.target}` : ''}${record.detail ? `: ${record.detail}` : ''}${change}`);
    }
  }
}
