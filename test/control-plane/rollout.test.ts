/**
 * The rollout against a simulated fleet: fake Kubernetes API servers on loopback (the charts' StatefulSet, HPA and
 * DaemonSet, EKS token authentication, the operator Role, the admission policy's CEL, rolling updates), STS, EKS and
 * CloudWatch through aws-sdk-client-mock, and the real AwsFleet in between. Time is a fake clock the driver advances.
 */
import { AwsFleet } from '../../control-plane/fleet/aws-fleet';
import type { Release } from '../../control-plane/releases/release';
import { driveRollout, rolloutTick, type TickDependencies } from '../../control-plane/rollout/rollout-tick';
import type { RolloutRecord } from '../../control-plane/rollout/rollout-record';
import { MemoryAuditTrail, MemoryReleaseCatalog, MemoryRolloutStore, MemoryTenantRegistry } from '../support/control-plane-memory';
import { releaseImage } from '../support/kubernetes-objects';
import { SimulatedFleet, type SimulatedTenantOptions } from '../support/simulated-fleet';

const OLD = releaseImage('1.0.0');
const NEW = releaseImage('1.1.0');
const BAD = releaseImage('1.1.0-bad');
const BAD_SENSOR = releaseImage('1.2.1-sensor');
const VENDOR_PERSON = 'jane@vendor.example';

const release = (version: string, image: string): Release => ({
  version, images: { sensor: image, gateway: image }, chartVersion: '0.1.0', publishedAt: '2025-06-01T00:00:00.000Z', publishedBy: VENDOR_PERSON,
});

let fleet: SimulatedFleet;
let registry: MemoryTenantRegistry;
let catalog: MemoryReleaseCatalog;
let rollouts: MemoryRolloutStore;
let audit: MemoryAuditTrail;
let clock: number;
let dependencies: TickDependencies;

beforeEach(async () => {
  fleet = new SimulatedFleet(() => clock);
  registry = new MemoryTenantRegistry();
  catalog = new MemoryReleaseCatalog();
  rollouts = new MemoryRolloutStore();
  audit = new MemoryAuditTrail();
  clock = Date.parse('2025-06-02T10:00:00Z'); // a Monday
  dependencies = { fleet: new AwsFleet(), audit, registry, rollouts, catalog, now: () => new Date(clock) };
  for (const [version, image] of [['1.0.0', OLD], ['1.1.0', NEW], ['1.2.0', BAD]] as const) await catalog.publish(release(version, image));
  // A release whose gateway is fine and whose sensor never becomes ready.
  await catalog.publish({ ...release('1.2.1', NEW), images: { gateway: NEW, sensor: BAD_SENSOR } });
});

afterEach(async () => {
  await fleet.stop();
});

async function tenants(...options: Array<Partial<SimulatedTenantOptions> & { tenantId: string }>): Promise<void> {
  for (const option of options) await registry.put(await fleet.addTenant({ image: OLD, ...option }));
}

async function pointChannels(version: string): Promise<void> {
  for (const channel of ['canary', 'stable'] as const) await catalog.setChannel({ channel, version, updatedAt: '2025-06-02T09:00:00.000Z', updatedBy: VENDOR_PERSON });
}

function run(version: string, rolloutId = 'r-1', settings = {}): Promise<RolloutRecord> {
  return driveRollout(rolloutId, { request: { kind: 'release', version, settings }, startedBy: VENDOR_PERSON }, dependencies, {
    sleep: async (seconds) => {
      clock += seconds * 1000;
    },
    maxTicks: 2000,
  }).then((result) => result.rollout);
}

const images = (tenantId: string) => fleet.clustersOf(tenantId).flatMap((cluster) => cluster.options.workloads.map((component) => cluster.imageOf(component).template));
const patches = (tenantId: string) => fleet.clustersOf(tenantId).flatMap((cluster) => cluster.requests.filter((request) => request.method === 'PATCH'));
const auditOf = (tenantId: string) => audit.records.filter((record) => record.tenantId === tenantId).map((record) => record.action);

test('a good release goes canary first, then a small share, then the rest, gateway before sensors, each tenant baked and healthy', async () => {
  await tenants({ tenantId: 'canary-co', channel: 'canary', workloadClusters: 0 }, ...['acme', 'globex', 'initech', 'umbrella', 'hooli'].map((tenantId) => ({ tenantId, workloadClusters: 2 })));
  await pointChannels('1.1.0');
  const rollout = await run('1.1.0');

  expect(rollout.status).toBe('succeeded');
  expect(rollout.waves.map((wave) => [wave.name, wave.tenantIds.length])).toEqual([['canary', 1], ['early', 1], ['rest', 4]]);
  for (const tenantId of Object.keys(rollout.tenants)) {
    expect([tenantId, rollout.tenants[tenantId].phase]).toEqual([tenantId, 'succeeded']);
    expect(images(tenantId).every((image) => image === NEW)).toBe(true);
    for (const cluster of fleet.clustersOf(tenantId)) for (const component of cluster.options.workloads) expect(cluster.healthy(component)).toBe(true);
    expect((await registry.get(tenantId))!.currentVersion).toBe('1.1.0');
  }

  // Waves in order: no tenant of a later wave was touched before every tenant of the wave before it had baked.
  const changedAt = (tenantId: string) => audit.records.findIndex((record) => record.tenantId === tenantId && record.action === 'workload.changed');
  const succeededAt = (tenantId: string) => audit.records.findIndex((record) => record.tenantId === tenantId && record.action === 'tenant.succeeded');
  const [canary, early, rest] = rollout.waves;
  for (const later of [...early.tenantIds, ...rest.tenantIds]) expect(changedAt(later)).toBeGreaterThan(succeededAt(canary.tenantIds[0]));
  for (const later of rest.tenantIds) expect(changedAt(later)).toBeGreaterThan(succeededAt(early.tenantIds[0]));

  // Per tenant: baseline, gateway changed and rolled out, then the sensors, then success; before and after recorded.
  const acme = audit.records.filter((record) => record.tenantId === 'acme');
  expect(acme.map((record) => record.action)).toEqual([
    'tenant.health-baseline', 'workload.changed', 'workload.rolled-out', 'workload.changed', 'workload.changed', 'workload.rolled-out', 'workload.rolled-out', 'tenant.succeeded',
  ]);
  const changes = acme.filter((record) => record.action === 'workload.changed');
  expect(changes[0]).toMatchObject({ actor: VENDOR_PERSON, rolloutId: 'r-1', result: 'ok', before: { image: OLD }, after: { image: NEW } });
  expect(changes[0].target).toMatch(/\/eu-west-1\/SightlineDataPlane-gateway StatefulSet sightline-gateway$/);
  expect(changes.slice(1).map((record) => record.target)).toEqual([expect.stringMatching(/workloads-1 DaemonSet sightline-sensor$/), expect.stringMatching(/workloads-2 DaemonSet sightline-sensor$/)]);
  expect(audit.records.map((record) => record.action)).toEqual(expect.arrayContaining(['rollout.requested', 'rollout.planned', 'rollout.wave-started', 'rollout.wave-completed', 'rollout.completed']));

  // Every session into a customer account carried the external id and the person as source identity.
  expect(fleet.assumeRoleCalls.length).toBeGreaterThan(0);
  for (const call of fleet.assumeRoleCalls) {
    expect(call.SourceIdentity).toBe(VENDOR_PERSON);
    expect(call.RoleSessionName).toBe('sightline-r-1');
    expect(call.ExternalId).toMatch(/^ext-[a-z-]+-7f3a$/);
  }
  // Only image patches, all admitted by the customer's admission policy.
  for (const tenantId of Object.keys(rollout.tenants)) expect(patches(tenantId).map((request) => request.status)).toEqual(patches(tenantId).map(() => 200));
});

test('a bad release (pods never become available) stops on the canary, is rolled back there, and no other tenant is touched', async () => {
  await tenants(...['canary-co', 'acme', 'globex'].map((tenantId) => ({ tenantId, channel: tenantId === 'canary-co' ? 'canary' as const : 'stable' as const, badImages: [BAD_SENSOR] })));
  await pointChannels('1.2.1');
  const rollout = await run('1.2.1');

  expect(rollout.status).toBe('halted');
  expect(rollout.reason).toMatch(/^wave canary: 1 tenant\(s\) rolled back \(tolerated: 0\): canary-co \(did not finish rolling out within 900 s: .*workloads-1 DaemonSet sightline-sensor: 1\/3 updated, 2\/3 available\)/);
  expect(rollout.tenants['canary-co'].phase).toBe('rolled-back');
  // Both stages are put back, sensors first: every pod of both workloads runs the old image again, all ready.
  expect(images('canary-co').every((image) => image === OLD)).toBe(true);
  for (const component of ['gateway', 'sensor'] as const) {
    expect(fleet.cluster('canary-co', component).imageOf(component).pods.every((image) => image === OLD)).toBe(true);
    expect(fleet.cluster('canary-co', component).healthy(component)).toBe(true);
  }
  for (const tenantId of ['acme', 'globex']) {
    expect(rollout.tenants[tenantId]).toMatchObject({ phase: 'skipped', reason: expect.stringMatching(/^rollout halted: wave canary/) });
    expect(patches(tenantId)).toEqual([]);
    expect(fleet.assumeRoleCalls.some((call) => fleet.tenants.get(tenantId)!.accountIds.some((account) => call.RoleArn!.includes(account)))).toBe(false);
  }
  expect(auditOf('canary-co')).toEqual([
    'tenant.health-baseline', 'workload.changed', 'workload.rolled-out', 'workload.changed', 'tenant.unhealthy', 'workload.rolled-back', 'workload.rolled-back', 'tenant.rolled-back',
  ]);
  const rolledBack = audit.records.filter((record) => record.action === 'workload.rolled-back');
  expect(rolledBack.map((record) => [record.target!.split(' ')[1], record.before, record.after])).toEqual([
    ['DaemonSet', { image: BAD_SENSOR }, { image: OLD }], ['StatefulSet', { image: NEW }, { image: OLD }],
  ]);
  expect(audit.records.map((record) => record.action)).toEqual(expect.arrayContaining(['rollout.halting', 'rollout.halted']));
  expect((await registry.get('canary-co'))!.lastRollout).toMatchObject({ rolloutId: 'r-1', outcome: expect.stringMatching(/^rolled-back: did not finish rolling out/) });
});

test('a gateway whose new pods never get ready raises the pods-available alarm: stopped on the canary and rolled back', async () => {
  await tenants({ tenantId: 'canary-co', channel: 'canary', badImages: [BAD] }, { tenantId: 'acme', badImages: [BAD] });
  await pointChannels('1.2.0');
  const rollout = await run('1.2.0');
  expect(rollout.status).toBe('halted');
  expect(rollout.tenants['canary-co']).toMatchObject({ phase: 'rolled-back', reason: 'health alarms went into ALARM: Sightline-Gateway-GatewayPodsAvailable-Warning' });
  expect(fleet.cluster('canary-co', 'gateway').imageOf('gateway')).toEqual({ template: OLD, pods: [OLD, OLD], ready: 2 });
  expect(patches('acme')).toEqual([]);
});

test('a bad release whose pods run but whose health alarm goes into ALARM stops on the canary and is rolled back', async () => {
  await tenants({ tenantId: 'canary-co', channel: 'canary', exportBreakingImages: [BAD] }, { tenantId: 'acme', exportBreakingImages: [BAD] });
  await pointChannels('1.2.0');
  const rollout = await run('1.2.0');

  expect(rollout.status).toBe('halted');
  expect(rollout.tenants['canary-co']).toMatchObject({ phase: 'rolled-back', reason: 'health alarms went into ALARM: Sightline-Health-ExportDropped-Critical' });
  expect(images('canary-co').every((image) => image === OLD)).toBe(true);
  expect(fleet.alarmStates('canary-co')['Sightline-Health-ExportDropped-Critical']).toBe('OK');
  expect(rollout.tenants.acme.phase).toBe('skipped');
  expect(patches('acme')).toEqual([]);
});

test('an unreachable tenant (role revoked, access entry deleted, or its API gone) is retried, skipped and reported, and the fleet goes on', async () => {
  await tenants({ tenantId: 'canary-co', channel: 'canary' }, ...['acme', 'globex', 'initech', 'umbrella'].map((tenantId) => ({ tenantId })));
  await pointChannels('1.1.0');
  fleet.revoke('globex');
  fleet.cluster('initech', 'gateway').goDark();
  fleet.cluster('umbrella', 'gateway').removeAccessEntry();
  const rollout = await run('1.1.0');

  expect(rollout.status).toBe('succeeded');
  expect(rollout.tenants.globex).toMatchObject({ phase: 'skipped', reason: expect.stringMatching(/^unreachable: cannot assume arn:aws:iam::\d+:role\/sightline-operator: AccessDenied: .*access revoked/) });
  expect(rollout.tenants.initech).toMatchObject({ phase: 'skipped', reason: expect.stringMatching(/^unreachable: reading StatefulSet sightline\/sightline-gateway: /) });
  expect(rollout.tenants.umbrella).toMatchObject({ phase: 'skipped', reason: expect.stringMatching(/not authenticated by the cluster \(401\): its access entry may have been removed/) });
  for (const tenantId of ['canary-co', 'acme']) expect(rollout.tenants[tenantId].phase).toBe('succeeded');
  expect(rollout.reason).toBe('2 succeeded, 3 skipped');
  // Revoked: not even the health alarms could be read. Gone dark or no access entry: the alarms answered, the cluster not.
  expect(auditOf('globex')).toEqual(['tenant.unreachable', 'tenant.unreachable', 'tenant.unreachable', 'tenant.skipped']);
  for (const tenantId of ['initech', 'umbrella']) {
    expect(auditOf(tenantId)).toEqual(['tenant.health-baseline', 'tenant.unreachable', 'tenant.unreachable', 'tenant.unreachable', 'tenant.skipped']);
  }
  for (const tenantId of ['globex', 'initech', 'umbrella']) expect(images(tenantId).every((image) => image === OLD)).toBe(true);
  // Unreachable tenants cost a few ticks, not the fleet's time: the whole rollout took well under an hour of clock.
  expect(Date.parse(rollout.updatedAt) - Date.parse(rollout.createdAt)).toBeLessThan(3600_000);
});

test('a later wave halts past its failure threshold: the failing tenant and those in flight are rolled back, the rest not started', async () => {
  const stable = Array.from({ length: 8 }, (_unused, index) => ({ tenantId: `tenant-${index}` }));
  await tenants({ tenantId: 'canary-co', channel: 'canary' }, ...stable);
  await pointChannels('1.1.0');
  // One tenant of the last wave has a node problem with the new image; the wave tolerates 0 failures of its tenants.
  const plan = await rolloutTick('r-plan', { request: { kind: 'release', version: '1.1.0' }, startedBy: VENDOR_PERSON }, dependencies);
  const lastWave = plan.rollout.waves[2].tenantIds;
  await fleet.stop();
  fleet = new SimulatedFleet(() => clock);
  registry.tenants.clear();
  await tenants({ tenantId: 'canary-co', channel: 'canary' }, ...stable.map((options) => ({ ...options, badImages: options.tenantId === lastWave[0] ? [NEW] : [] })));
  const rollout = await run('1.1.0', 'r-2', { maxInFlight: 3 });

  expect(rollout.status).toBe('halted');
  expect(rollout.waves[2].tenantIds).toEqual(lastWave);
  expect(rollout.tenants[lastWave[0]].phase).toBe('rolled-back');
  expect(rollout.reason).toMatch(new RegExp(`^wave rest: 1 tenant\\(s\\) rolled back \\(tolerated: 0\\): ${lastWave[0]}`));
  const phases = lastWave.map((tenantId) => rollout.tenants[tenantId].phase);
  expect(phases.filter((phase) => phase === 'skipped').length).toBeGreaterThan(0);
  for (const tenantId of lastWave) {
    const { phase } = rollout.tenants[tenantId];
    expect(['succeeded', 'rolled-back', 'skipped']).toContain(phase);
    expect(images(tenantId).every((image) => image === (phase === 'succeeded' ? NEW : OLD))).toBe(true);
  }
  // Earlier waves keep the release.
  for (const tenantId of [...rollout.waves[0].tenantIds, ...rollout.waves[1].tenantIds]) expect(rollout.tenants[tenantId].phase).toBe('succeeded');
});

test('abort: what is in flight is rolled back, nothing new starts', async () => {
  await tenants({ tenantId: 'canary-co', channel: 'canary' }, { tenantId: 'acme' }, { tenantId: 'globex' });
  await pointChannels('1.1.0');
  let aborted = false;
  const result = await driveRollout('r-3', { request: { kind: 'release', version: '1.1.0' }, startedBy: VENDOR_PERSON }, dependencies, {
    sleep: async (seconds) => {
      clock += seconds * 1000;
    },
    onTick: ({ rollout }) => {
      if (!aborted && rollout.tenants['canary-co'].phase === 'baking') {
        aborted = true;
        void rollouts.requestAbort('r-3', 'sam@vendor.example');
      }
    },
  });
  expect(result.rollout.status).toBe('aborted');
  expect(result.rollout.reason).toBe('aborted by sam@vendor.example');
  expect(result.rollout.tenants['canary-co']).toMatchObject({ phase: 'rolled-back', reason: 'aborted by sam@vendor.example' });
  expect(images('canary-co').every((image) => image === OLD)).toBe(true);
  for (const tenantId of ['acme', 'globex']) expect(result.rollout.tenants[tenantId].phase).toBe('skipped');
  expect(audit.records.map((record) => record.action)).toEqual(expect.arrayContaining(['rollout.aborting', 'rollout.aborted']));
});

test('maintenance windows: a tenant waits for its window; one whose window does not open in time is skipped; pins and channels exclude', async () => {
  await tenants(
    { tenantId: 'canary-co', channel: 'canary' },
    { tenantId: 'night-owl', maintenanceWindow: 'daily 13:00-15:00 UTC' },
    { tenantId: 'weekender', maintenanceWindow: 'Sat,Sun 02:00-06:00 Europe/Berlin' },
    { tenantId: 'pinned', pinnedVersion: '1.0.0' },
    { tenantId: 'old-charts', chartVersion: '0.0.9' },
  );
  await catalog.publish({ ...release('1.3.0', NEW), chartVersion: '0.1.0' });
  await pointChannels('1.3.0');
  const rollout = await run('1.3.0', 'r-4', { windowWaitSeconds: 6 * 3600 });

  expect(rollout.status).toBe('succeeded');
  expect(rollout.tenants['night-owl'].phase).toBe('succeeded');
  const changed = audit.records.find((record) => record.tenantId === 'night-owl' && record.action === 'workload.changed')!;
  expect(Date.parse(changed.at)).toBeGreaterThanOrEqual(Date.parse('2025-06-02T13:00:00Z'));
  expect(auditOf('night-owl')[0]).toBe('tenant.deferred');
  expect(rollout.tenants.weekender).toMatchObject({ phase: 'skipped', reason: 'its maintenance window (Sat,Sun 02:00-06:00 Europe/Berlin) does not open within 6 h' });
  expect(rollout.excluded).toEqual(expect.arrayContaining([
    { tenantId: 'pinned', reason: 'pinned to 1.0.0' },
    { tenantId: 'old-charts', reason: expect.stringMatching(/^cluster SightlineDataPlane-gateway runs Sightline charts 0\.0\.9; release 1\.3\.0 needs 0\.1\.0/) },
  ]));
  expect(Object.keys(rollout.tenants)).not.toContain('pinned');
  expect(images('weekender').every((image) => image === OLD)).toBe(true);
});

test('a scaling run sizes the gateway HPA from the fleet and moves dropping sensors up a tier, through the same admission policy', async () => {
  await tenants(
    { tenantId: 'canary-co', channel: 'canary' },
    { tenantId: 'big-fleet', nodes: 120, alarmsFiring: ['Sightline-Health-Drops-Warning'] },
    { tenantId: 'small-fleet', nodes: 4 },
  );
  const result = await driveRollout('s-1', { request: { kind: 'scale' }, startedBy: 'schedule' }, dependencies, {
    sleep: async (seconds) => {
      clock += seconds * 1000;
    },
  });
  const { rollout } = result;
  expect(rollout.status).toBe('succeeded');
  expect(rollout.tenants['big-fleet'].phase).toBe('succeeded');
  expect(fleet.cluster('big-fleet', 'gateway').autoscalerBounds).toEqual({ minReplicas: 3, maxReplicas: 10 });
  const sensorObject = audit.records.find((record) => record.tenantId === 'big-fleet' && record.action === 'workload.changed' && record.target!.includes('DaemonSet'))!;
  expect(sensorObject).toMatchObject({
    before: { resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '512Mi' } } },
    after: { resources: { requests: { cpu: '250m', memory: '384Mi' }, limits: { memory: '768Mi' } } },
    detail: expect.stringContaining('sensors dropped captures'),
  });
  // Small fleets keep the chart's sizing: nothing to change, nothing patched.
  expect(rollout.tenants['small-fleet'].phase).toBe('unchanged');
  expect(patches('small-fleet')).toEqual([]);
  // Images never change in a scaling run.
  for (const tenantId of Object.keys(rollout.tenants)) expect(images(tenantId).every((image) => image === OLD)).toBe(true);
  for (const call of fleet.assumeRoleCalls) expect(call.SourceIdentity).toBe('schedule');
});
