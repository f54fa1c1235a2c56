/** The control plane's stores in memory, with the same contracts as the DynamoDB ones (refusals included). */
import type { AuditRecord, AuditTrail } from '../../control-plane/audit/audit-trail';
import type { ChannelPointer, Release } from '../../control-plane/releases/release';
import type { ReleaseCatalog, RolloutStore, TenantRegistry } from '../../control-plane/rollout/ports';
import type { RolloutRecord } from '../../control-plane/rollout/rollout-record';
import type { Channel, Tenant } from '../../control-plane/tenants/tenant';

export class MemoryTenantRegistry implements TenantRegistry {
  readonly tenants = new Map<string, Tenant>();
  async list(): Promise<Tenant[]> {
    return [...this.tenants.values()].map((tenant) => structuredClone(tenant));
  }
  async get(tenantId: string): Promise<Tenant | undefined> {
    return structuredClone(this.tenants.get(tenantId));
  }
  async put(tenant: Tenant): Promise<void> {
    this.tenants.set(tenant.tenantId, structuredClone(tenant));
  }
  async recordOutcome(tenantId: string, outcome: { currentVersion?: string; lastRollout: NonNullable<Tenant['lastRollout']> }): Promise<void> {
    const tenant = this.tenants.get(tenantId);
    if (tenant === undefined) return;
    if (outcome.currentVersion !== undefined) tenant.currentVersion = outcome.currentVersion;
    tenant.lastRollout = outcome.lastRollout;
  }
}

export class MemoryReleaseCatalog implements ReleaseCatalog {
  readonly releases = new Map<string, Release>();
  readonly pointers = new Map<Channel, ChannelPointer>();
  async get(version: string): Promise<Release | undefined> {
    return structuredClone(this.releases.get(version));
  }
  async list(): Promise<Release[]> {
    return [...this.releases.values()];
  }
  async publish(release: Release): Promise<void> {
    if (this.releases.has(release.version)) throw new Error(`release ${release.version} is already published`);
    this.releases.set(release.version, structuredClone(release));
  }
  async channel(channel: Channel): Promise<ChannelPointer | undefined> {
    return this.pointers.get(channel);
  }
  async channels(): Promise<ChannelPointer[]> {
    return [...this.pointers.values()];
  }
  async setChannel(pointer: ChannelPointer): Promise<void> {
    this.pointers.set(pointer.channel, pointer);
  }
}

export class MemoryRolloutStore implements RolloutStore {
  readonly rollouts = new Map<string, RolloutRecord>();
  readonly aborts = new Map<string, string>();
  async get(rolloutId: string): Promise<RolloutRecord | undefined> {
    const record = this.rollouts.get(rolloutId);
    if (record === undefined) return undefined;
    const copy = structuredClone(record);
    const abort = this.aborts.get(rolloutId);
    return abort === undefined ? copy : { ...copy, abortRequestedBy: abort };
  }
  async create(rollout: RolloutRecord): Promise<void> {
    if (this.rollouts.has(rollout.rolloutId)) throw new Error(`rollout ${rollout.rolloutId} exists`);
    this.rollouts.set(rollout.rolloutId, structuredClone(rollout));
  }
  async save(rollout: RolloutRecord): Promise<void> {
    const stored = this.rollouts.get(rollout.rolloutId);
    if (stored === undefined || stored.revision !== rollout.revision - 1) {
      throw new Error(`rollout ${rollout.rolloutId}: revision ${rollout.revision - 1} was overtaken (stored: ${stored?.revision})`);
    }
    const { abortRequestedBy: _ignored, ...rest } = rollout;
    this.rollouts.set(rollout.rolloutId, structuredClone(rest));
  }
  async requestAbort(rolloutId: string, requestedBy: string): Promise<void> {
    if (!this.rollouts.has(rolloutId)) throw new Error(`no rollout ${rolloutId}`);
    this.aborts.set(rolloutId, requestedBy);
  }
  async list(limit: number): Promise<RolloutRecord[]> {
    return [...this.rollouts.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, limit);
  }
}

export class MemoryAuditTrail implements AuditTrail {
  readonly records: AuditRecord[] = [];
  async record(entry: AuditRecord): Promise<void> {
    this.records.push(structuredClone(entry));
  }
}
