/**
 * The rollout-step Lambda handler as Step Functions drives it (call, wait the answered seconds, call again until
 * done), on the DynamoDB stores (an in-memory DynamoDB behind aws-sdk-client-mock) and a simulated fleet.
 */
import { AwsFleet } from '../../control-plane/fleet/aws-fleet';
import { rolloutStepHandler, type RolloutStepResult } from '../../control-plane/handlers/rollout-step';
import { RolloutMetric } from '../../control-plane/rollout/rollout-metrics';
import { dynamoStores, documentClient } from '../../control-plane/store/dynamo-stores';
import { TABLES, tableNamesFromEnvironment } from '../../control-plane/store/tables';
import { FakeDynamoDb } from '../support/fake-dynamodb';
import { releaseImage } from '../support/kubernetes-objects';
import { SimulatedFleet } from '../support/simulated-fleet';

const names = { tenants: 'tenants', releases: 'releases', channels: 'channels', rollouts: 'rollouts', audit: 'audit' };
let dynamo: FakeDynamoDb;
let fleet: SimulatedFleet;
let clock: number;

beforeEach(() => {
  clock = Date.parse('2025-06-02T10:00:00Z');
  dynamo = new FakeDynamoDb({
    tenants: { partitionKey: TABLES.tenants.partitionKey },
    releases: { partitionKey: TABLES.releases.partitionKey },
    channels: { partitionKey: TABLES.channels.partitionKey },
    rollouts: { partitionKey: TABLES.rollouts.partitionKey, indexes: { [TABLES.rollouts.listingIndex.name]: TABLES.rollouts.listingIndex } },
    audit: { partitionKey: TABLES.audit.partitionKey, sortKey: TABLES.audit.sortKey, indexes: { [TABLES.audit.tenantIndex.name]: TABLES.audit.tenantIndex } },
  });
  fleet = new SimulatedFleet(() => clock);
});

afterEach(async () => {
  await fleet.stop();
  dynamo.restore();
});

async function setUp(badImages: string[] = []) {
  const stores = dynamoStores(names, documentClient());
  for (const [version, image] of [['1.0.0', releaseImage('1.0.0')], ['1.1.0', releaseImage('1.1.0')]] as const) {
    await stores.catalog.publish({ version, images: { sensor: image, gateway: image }, chartVersion: '0.1.0', publishedAt: '2025-06-01T00:00:00.000Z', publishedBy: 'jane' });
  }
  for (const channel of ['canary', 'stable'] as const) await stores.catalog.setChannel({ channel, version: '1.1.0', updatedAt: 'x', updatedBy: 'jane' });
  for (const tenantId of ['canary-co', 'acme']) {
    await stores.registry.put(await fleet.addTenant({ tenantId, channel: tenantId === 'canary-co' ? 'canary' : 'stable', image: releaseImage('1.0.0'), badImages }));
  }
  return stores;
}

/** Step Functions: Invoke, Choice on done, Wait the answered seconds, Invoke again. */
async function execute(handler: ReturnType<typeof rolloutStepHandler>, rolloutId: string): Promise<RolloutStepResult[]> {
  const start = { request: { kind: 'release' as const, version: '1.1.0' }, startedBy: 'jane@vendor.example' };
  const results: RolloutStepResult[] = [];
  for (let call = 0; call < 1000; call += 1) {
    const result = await handler({ rolloutId, start });
    results.push(result);
    if (result.done) return results;
    expect(result.waitSeconds).toBeGreaterThanOrEqual(1);
    expect(result.waitSeconds).toBeLessThanOrEqual(300);
    clock += result.waitSeconds * 1000;
  }
  throw new Error('the rollout never finished');
}

test('a rollout runs to the end through the handler, its record and audit trail in DynamoDB', async () => {
  const stores = await setUp();
  const published: Array<Record<string, number>> = [];
  const handler = rolloutStepHandler({ ...stores, fleet: new AwsFleet(), now: () => new Date(clock), publish: async (metrics) => void published.push(metrics) });
  const results = await execute(handler, 'r-20250602-1000');
  expect(results.at(-1)).toEqual({ rolloutId: 'r-20250602-1000', done: true, status: 'succeeded', waitSeconds: 0, summary: 'succeeded: 2 succeeded (2 succeeded)' });
  const stored = dynamo.tables.get('rollouts')!.values().next().value;
  expect(stored).toMatchObject({ rolloutId: 'r-20250602-1000', listing: 'rollout', status: 'succeeded', revision: results.length });
  const trail = await stores.audit.of('r-20250602-1000');
  expect(trail[0].action).toBe('rollout.requested');
  expect(trail.at(-1)!.action).toBe('rollout.completed');
  expect(trail.filter((record) => record.action === 'workload.changed')).toHaveLength(4);
  expect((await stores.registry.get('acme'))!.currentVersion).toBe('1.1.0');
  expect(await stores.rollouts.list(5)).toEqual([expect.objectContaining({ rolloutId: 'r-20250602-1000', status: 'succeeded' })]);
  expect(published.filter((metrics) => Object.keys(metrics).length > 0)).toEqual([]);
});

test('a halted rollout publishes what the vendor alarms watch; an abort request survives the ticks\' saves', async () => {
  const stores = await setUp([releaseImage('1.1.0')]);
  const published: Array<Record<string, number>> = [];
  const handler = rolloutStepHandler({ ...stores, fleet: new AwsFleet(), now: () => new Date(clock), publish: async (metrics) => void published.push(metrics) });
  const results = await execute(handler, 'r-bad');
  expect(results.at(-1)!.status).toBe('halted');
  const total = (name: string) => published.reduce((sum, metrics) => sum + (metrics[name] ?? 0), 0);
  expect([total(RolloutMetric.rolloutsHalted), total(RolloutMetric.tenantsRolledBack), total(RolloutMetric.tenantsSkipped), total(RolloutMetric.rollbackFailures)]).toEqual([1, 1, 1, 0]);

  await stores.rollouts.requestAbort('r-bad', 'sam');
  const record = (await stores.rollouts.get('r-bad'))!;
  expect(record.abortRequestedBy).toBe('sam');
  await stores.rollouts.save({ ...record, revision: record.revision + 1 });
  expect((await stores.rollouts.get('r-bad'))!.abortRequestedBy).toBe('sam');
  await expect(stores.rollouts.save({ ...record, revision: record.revision + 1 })).rejects.toThrow(/was overtaken by another tick/);
  await expect(stores.rollouts.requestAbort('r-none', 'sam')).rejects.toThrow('no rollout r-none (sightline-vendor rollout list)');
});

test('the stores refuse what would rewrite history, and the handler its bad input', async () => {
  const stores = await setUp();
  await expect(stores.catalog.publish({ version: '1.1.0', images: { sensor: releaseImage('x'), gateway: releaseImage('x') }, chartVersion: '0.1.0', publishedAt: 'x', publishedBy: 'x' }))
    .rejects.toThrow('release 1.1.0 is already published: a version names one set of digests for good; publish the change as a new version');
  await expect(stores.catalog.setChannel({ channel: 'stable', version: '3.0.0', updatedAt: 'x', updatedBy: 'x' })).rejects.toThrow('channel stable: release 3.0.0 is not published');
  await expect(stores.catalog.publish({ version: '1.2.0', images: { sensor: 'public.ecr.aws/acme/sightline:latest', gateway: releaseImage('x') }, chartVersion: '0.1.0', publishedAt: 'x', publishedBy: 'x' }))
    .rejects.toThrow('release images.sensor: must be an image pinned by digest');
  const handler = rolloutStepHandler({ ...stores, fleet: new AwsFleet(), publish: async () => undefined });
  await expect(handler({ rolloutId: '' })).rejects.toThrow('rollout-step: the event needs a rolloutId');
  await expect(handler({ rolloutId: 'r-unknown' })).rejects.toThrow('rollout r-unknown does not exist and no start request came with it');
  expect(() => tableNamesFromEnvironment({ SIGHTLINE_TENANTS_TABLE: 't' })).toThrow('SIGHTLINE_RELEASES_TABLE is not set: the control plane needs the name of its releases table');
});

test('a rollout of 2,000 tenants fits in one item (400 KB): the record is stored gzipped', async () => {
  const stores = await setUp();
  const handler = rolloutStepHandler({ ...stores, fleet: new AwsFleet(), now: () => new Date(clock), publish: async () => undefined });
  await execute(handler, 'r-size');
  const finished = (await stores.rollouts.get('r-size'))!;
  // Every tenant as the finished ones look, each with its own ids, accounts and clusters.
  const template = Object.values(finished.tenants);
  const tenants: typeof finished.tenants = {};
  for (let index = 0; index < 2000; index += 1) {
    const tenantId = `tenant-${index.toString(36)}-${(index * 7919).toString(16)}`;
    const account = String(100000000000 + index * 104729);
    const at = new Date(Date.parse('2025-06-02T10:00:00Z') + index * 37_013).toISOString();
    const text = JSON.stringify(template[index % template.length]).replace(/"tenantId":"[^"]+"/, `"tenantId":"${tenantId}"`).replace(/\d{12}/g, account)
      .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, at).replace(/\b\d{1,3} s\b/g, `${index % 600} s`);
    tenants[tenantId] = JSON.parse(text);
  }
  const big = { ...finished, rolloutId: 'r-big', tenants, waves: [{ name: 'rest' as const, tenantIds: Object.keys(tenants), maxFailures: 100, minHealthy: 0 }], revision: 0 };
  await stores.rollouts.create(big);
  const item = dynamo.tables.get('rollouts')!.get(JSON.stringify(['r-big', null]))!;
  const bytes = Object.entries(item).reduce((sum, [key, value]) => sum + key.length + (value instanceof Uint8Array ? value.length : String(value).length), 0);
  expect(JSON.stringify(big).length).toBeGreaterThan(400 * 1024);
  expect(bytes).toBeLessThan(400 * 1024);
  expect((await stores.rollouts.get('r-big'))!.tenants).toEqual(tenants);
  process.stdout.write(`rollout record of 2,000 tenants: ${Math.round(JSON.stringify(big).length / 1024)} KiB JSON, ${Math.round(bytes / 1024)} KiB stored\n`);
});
