/**
 * Where the control plane keeps its state: the tenant registry, the release catalog with its channels, the rollouts.
 * DynamoDB implements them in the vendor account (control-plane/store/); tests use memory.
 */
import type { ChannelPointer, Release } from '../releases/release';
import type { Channel, Tenant } from '../tenants/tenant';
import type { RolloutRecord } from './rollout-record';

export interface TenantRegistry {
  list(): Promise<Tenant[]>;
  get(tenantId: string): Promise<Tenant | undefined>;
  put(tenant: Tenant): Promise<void>;
  /** What a rollout left a tenant with. */
  recordOutcome(tenantId: string, outcome: { currentVersion?: string; lastRollout: NonNullable<Tenant['lastRollout']> }): Promise<void>;
}

export interface ReleaseCatalog {
  get(version: string): Promise<Release | undefined>;
  list(): Promise<Release[]>;
  /** Refuses to replace a published version: a version names one set of digests for good. */
  publish(release: Release): Promise<void>;
  channel(channel: Channel): Promise<ChannelPointer | undefined>;
  channels(): Promise<ChannelPointer[]>;
  setChannel(pointer: ChannelPointer): Promise<void>;
}

export interface RolloutStore {
  get(rolloutId: string): Promise<RolloutRecord | undefined>;
  /** Refuses an id that exists. */
  create(rollout: RolloutRecord): Promise<void>;
  /** Saves `rollout` as revision `rollout.revision`, if the stored one is the revision before; throws otherwise. */
  save(rollout: RolloutRecord): Promise<void>;
  /** Marks the rollout for abort without touching the rest of the record. */
  requestAbort(rolloutId: string, requestedBy: string): Promise<void>;
  list(limit: number): Promise<RolloutRecord[]>;
}
