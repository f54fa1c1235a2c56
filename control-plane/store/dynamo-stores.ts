/**
 * The control plane's state in DynamoDB (vendor account): the tenant registry, the release catalog and its channels,
 * the rollouts and the audit trail. Items are validated on the way out, so a hand-edited item fails loudly.
 */
import { randomUUID } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, ScanCommand, UpdateCommand, type QueryCommandInput, type ScanCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { AuditRecord, AuditTrail } from '../audit/audit-trail';
import { channelPointerSchema, parseRelease, type ChannelPointer, type Release } from '../releases/release';
import type { ReleaseCatalog, RolloutStore, TenantRegistry } from '../rollout/ports';
import type { RolloutRecord } from '../rollout/rollout-record';
import { parseTenant, type Channel, type Tenant } from '../tenants/tenant';
import { TABLES, type TableName } from './tables';

export function documentClient(client = new DynamoDBClient({})): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true } });
}

const conditionFailed = (error: unknown) => (error as { name?: string }).name === 'ConditionalCheckFailedException';

async function everyPage<T>(documents: DynamoDBDocumentClient, input: ScanCommandInput | QueryCommandInput, query = false): Promise<T[]> {
  const items: T[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = query
      ? await documents.send(new QueryCommand({ ...input, ExclusiveStartKey } as QueryCommandInput))
      : await documents.send(new ScanCommand({ ...input, ExclusiveStartKey } as ScanCommandInput));
    items.push(...((page.Items ?? []) as T[]));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey !== undefined);
  return items;
}

export class DynamoTenantRegistry implements TenantRegistry {
  constructor(private readonly documents: DynamoDBDocumentClient, private readonly table: string) {}

  async list(): Promise<Tenant[]> {
    return (await everyPage<unknown>(this.documents, { TableName: this.table })).map(parseTenant).sort((a, b) => a.tenantId.localeCompare(b.tenantId));
  }

  async get(tenantId: string): Promise<Tenant | undefined> {
    const { Item } = await this.documents.send(new GetCommand({ TableName: this.table, Key: { [TABLES.tenants.partitionKey]: tenantId } }));
    return Item === undefined ? undefined : parseTenant(Item);
  }

  async put(tenant: Tenant): Promise<void> {
    await this.documents.send(new PutCommand({ TableName: this.table, Item: parseTenant(tenant) }));
  }

  async recordOutcome(tenantId: string, outcome: { currentVersion?: string; lastRollout: NonNullable<Tenant['lastRollout']> }): Promise<void> {
    try {
      await this.documents.send(new UpdateCommand({
        TableName: this.table,
        Key: { [TABLES.tenants.partitionKey]: tenantId },
        UpdateExpression: outcome.currentVersion === undefined ? 'SET lastRollout = :last' : 'SET lastRollout = :last, currentVersion = :version',
        ConditionExpression: 'attribute_exists(tenantId)',
        ExpressionAttributeValues: { ':last': outcome.lastRollout, ...(outcome.currentVersion === undefined ? {} : { ':version': outcome.currentVersion }) },
      }));
    } catch (error) {
      // A tenant deregistered during the rollout keeps no record.
      if (!conditionFailed(error)) throw error;
    }
  }
}

export class DynamoReleaseCatalog implements ReleaseCatalog {
  constructor(private readonly documents: DynamoDBDocumentClient, private readonly releasesTable: string, private readonly channelsTable: string) {}

  async get(version: string): Promise<Release | undefined> {
    const { Item } = await this.documents.send(new GetCommand({ TableName: this.releasesTable, Key: { [TABLES.releases.partitionKey]: version } }));
    return Item === undefined ? undefined : parseRelease(Item);
  }

  async list(): Promise<Release[]> {
    return (await everyPage<unknown>(this.documents, { TableName: this.releasesTable })).map(parseRelease);
  }

  async publish(release: Release): Promise<void> {
    try {
      await this.documents.send(new PutCommand({ TableName: this.releasesTable, Item: parseRelease(release), ConditionExpression: 'attribute_not_exists(version)' }));
    } catch (error) {
      if (conditionFailed(error)) {
        throw new Error(`release ${release.version} is already published: a version names one set of digests for good; publish the change as a new version`);
      }
      throw error;
    }
  }

  async channel(channel: Channel): Promise<ChannelPointer | undefined> {
    const { Item } = await this.documents.send(new GetCommand({ TableName: this.channelsTable, Key: { [TABLES.channels.partitionKey]: channel } }));
    return Item === undefined ? undefined : channelPointerSchema.parse(Item);
  }

  async channels(): Promise<ChannelPointer[]> {
    return (await everyPage<unknown>(this.documents, { TableName: this.channelsTable })).map((item) => channelPointerSchema.parse(item));
  }

  async setChannel(pointer: ChannelPointer): Promise<void> {
    if (await this.get(pointer.version) === undefined) throw new Error(`channel ${pointer.channel}: release ${pointer.version} is not published`);
    await this.documents.send(new PutCommand({ TableName: this.channelsTable, Item: channelPointerSchema.parse(pointer) }));
  }
}

interface RolloutItem {
  rolloutId: string;
  listing: 'rollout';
  createdAt: string;
  updatedAt: string;
  status: string;
  revision: number;
  /** The record as gzip JSON: one attribute, read and written whole (an item holds at most 400 KB). */
  record: Uint8Array;
  abortRequestedBy?: string;
}

export class DynamoRolloutStore implements RolloutStore {
  constructor(private readonly documents: DynamoDBDocumentClient, private readonly table: string) {}

  private static toRecord(item: RolloutItem): RolloutRecord {
    const record = JSON.parse(gunzipSync(item.record).toString('utf8')) as RolloutRecord;
    return item.abortRequestedBy === undefined ? record : { ...record, abortRequestedBy: item.abortRequestedBy };
  }

  async get(rolloutId: string): Promise<RolloutRecord | undefined> {
    const { Item } = await this.documents.send(new GetCommand({ TableName: this.table, Key: { [TABLES.rollouts.partitionKey]: rolloutId }, ConsistentRead: true }));
    return Item === undefined ? undefined : DynamoRolloutStore.toRecord(Item as RolloutItem);
  }

  private item(rollout: RolloutRecord): RolloutItem {
    const { abortRequestedBy: _kept, ...record } = rollout;
    return {
      rolloutId: rollout.rolloutId, listing: 'rollout', createdAt: rollout.createdAt, updatedAt: rollout.updatedAt, status: rollout.status,
      revision: rollout.revision, record: gzipSync(JSON.stringify(record)),
    };
  }

  async create(rollout: RolloutRecord): Promise<void> {
    try {
      await this.documents.send(new PutCommand({ TableName: this.table, Item: this.item(rollout), ConditionExpression: 'attribute_not_exists(rolloutId)' }));
    } catch (error) {
      if (conditionFailed(error)) throw new Error(`rollout ${rollout.rolloutId} already exists: start it under another id`);
      throw error;
    }
  }

  async save(rollout: RolloutRecord): Promise<void> {
    const item = this.item(rollout);
    try {
      // Everything but the abort request, which `rollout abort` may set at any time.
      await this.documents.send(new UpdateCommand({
        TableName: this.table,
        Key: { [TABLES.rollouts.partitionKey]: rollout.rolloutId },
        UpdateExpression: 'SET #record = :record, revision = :revision, #status = :status, updatedAt = :updatedAt',
        ConditionExpression: 'revision = :previous',
        ExpressionAttributeNames: { '#record': 'record', '#status': 'status' },
        ExpressionAttributeValues: { ':record': item.record, ':revision': item.revision, ':status': item.status, ':updatedAt': item.updatedAt, ':previous': rollout.revision - 1 },
      }));
    } catch (error) {
      if (conditionFailed(error)) throw new Error(`rollout ${rollout.rolloutId}: revision ${rollout.revision - 1} was overtaken by another tick; this tick's result is dropped`);
      throw error;
    }
  }

  async requestAbort(rolloutId: string, requestedBy: string): Promise<void> {
    try {
      await this.documents.send(new UpdateCommand({
        TableName: this.table,
        Key: { [TABLES.rollouts.partitionKey]: rolloutId },
        UpdateExpression: 'SET abortRequestedBy = :by',
        ConditionExpression: 'attribute_exists(rolloutId)',
        ExpressionAttributeValues: { ':by': requestedBy },
      }));
    } catch (error) {
      if (conditionFailed(error)) throw new Error(`no rollout ${rolloutId} (sightline-vendor rollout list)`);
      throw error;
    }
  }

  async list(limit: number): Promise<RolloutRecord[]> {
    const { name, partitionKey } = TABLES.rollouts.listingIndex;
    const { Items = [] } = await this.documents.send(new QueryCommand({
      TableName: this.table, IndexName: name, KeyConditionExpression: `${partitionKey} = :listing`,
      ExpressionAttributeValues: { ':listing': 'rollout' }, ScanIndexForward: false, Limit: limit,
    }));
    return (Items as RolloutItem[]).map(DynamoRolloutStore.toRecord);
  }
}

/** `subject`: the rollout, or `registry` for tenant, release and channel changes. */
export class DynamoAuditTrail implements AuditTrail {
  /** Orders the records of one tick (one millisecond) as they were made. */
  private counter = 0;

  constructor(private readonly documents: DynamoDBDocumentClient, private readonly table: string) {}

  async record(entry: AuditRecord): Promise<void> {
    await this.documents.send(new PutCommand({
      TableName: this.table,
      // Sorted by time, then by the order this process made them; the random part keeps two processes apart.
      Item: { subject: entry.rolloutId ?? 'registry', sequence: `${entry.at}#${String(this.counter += 1).padStart(9, '0')}#${randomUUID().slice(0, 8)}`, ...entry },
    }));
  }

  /** The trail of one rollout (or of the registry), oldest first. */
  async of(subject: string): Promise<AuditRecord[]> {
    return everyPage<AuditRecord>(this.documents, {
      TableName: this.table, KeyConditionExpression: `${TABLES.audit.partitionKey} = :subject`, ExpressionAttributeValues: { ':subject': subject },
    }, true);
  }
}

/** Every store, on the tables named in `names`. */
export function dynamoStores(names: Record<TableName, string>, documents = documentClient()) {
  return {
    registry: new DynamoTenantRegistry(documents, names.tenants),
    catalog: new DynamoReleaseCatalog(documents, names.releases, names.channels),
    rollouts: new DynamoRolloutStore(documents, names.rollouts),
    audit: new DynamoAuditTrail(documents, names.audit),
  };
}
