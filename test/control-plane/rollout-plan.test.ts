import { planRollout, planWaves } from '../../control-plane/rollout/rollout-plan';
import { DEFAULT_ROLLOUT_SETTINGS } from '../../control-plane/rollout/rollout-record';
import { judgeHealth } from '../../control-plane/rollout/health-gate';
import type { Tenant } from '../../control-plane/tenants/tenant';
import { MemoryReleaseCatalog, MemoryTenantRegistry } from '../support/control-plane-memory';
import { RELEASE_REPOSITORY, releaseImage } from '../support/kubernetes-objects';

const tenant = (tenantId: string, fields: Partial<Tenant> = {}): Tenant => ({
  tenantId, externalId: `ext-${tenantId}`, channel: 'stable', registeredAt: '2025-06-01T00:00:00Z', registeredBy: 'jane',
  clusters: [{
    accountId: '111122223333', region: 'eu-west-1', clusterName: 'SightlineDataPlane-gateway', operatorRoleArn: 'arn:aws:iam::111122223333:role/sightline-operator',
    workloads: ['gateway'], healthAlarmNames: [], releaseRepository: RELEASE_REPOSITORY, chartVersion: '0.1.0',
  }],
  ...fields,
});

test('waves: canary tenants, then a small share of the others, then the rest; the first non-empty wave tolerates nothing', () => {
  const tenants = [tenant('c1', { channel: 'canary' }), ...Array.from({ length: 30 }, (_unused, index) => tenant(`t${index}`))];
  const waves = planWaves(tenants, DEFAULT_ROLLOUT_SETTINGS);
  expect(waves.map((wave) => [wave.name, wave.tenantIds.length, wave.maxFailures, wave.minHealthy])).toEqual([['canary', 1, 0, 1], ['early', 3, 0, 0], ['rest', 27, 1, 0]]);
  // The same tenants go early every time, and not simply the alphabetically first.
  expect(planWaves(tenants, DEFAULT_ROLLOUT_SETTINGS)[1].tenantIds).toEqual(waves[1].tenantIds);
  expect(waves[1].tenantIds).not.toEqual(['t0', 't1', 't10']);
  // No canary tenant: the early wave takes the canary's rules.
  const noCanary = planWaves(tenants.slice(1), DEFAULT_ROLLOUT_SETTINGS);
  expect(noCanary.map((wave) => [wave.name, wave.tenantIds.length, wave.maxFailures, wave.minHealthy])).toEqual([['canary', 0, 0, 0], ['early', 3, 0, 1], ['rest', 27, 1, 0]]);
});

test('planning takes the tenants whose channel or pin points at the release, and says why the others are left out', async () => {
  const registry = new MemoryTenantRegistry();
  const catalog = new MemoryReleaseCatalog();
  await catalog.publish({ version: '2.0.0', images: { sensor: releaseImage('2'), gateway: releaseImage('2g') }, chartVersion: '0.2.0', publishedAt: 'x', publishedBy: 'jane' });
  await catalog.setChannel({ channel: 'canary', version: '2.0.0', updatedAt: 'x', updatedBy: 'jane' });
  await catalog.setChannel({ channel: 'stable', version: '1.9.0', updatedAt: 'x', updatedBy: 'jane' });
  const chart = (version: string) => ({ clusters: [{ ...tenant('x').clusters[0], chartVersion: version }] });
  for (const item of [
    tenant('early-bird', { channel: 'canary', ...chart('0.2.0') }),
    tenant('steady', chart('0.2.0')),
    tenant('pinned-new', { pinnedVersion: '2.0.0', ...chart('0.3.0') }),
    tenant('pinned-old', { pinnedVersion: '1.8.0' }),
    tenant('old-charts', { channel: 'canary' }),
    tenant('other-registry', { channel: 'canary', clusters: [{ ...tenant('x').clusters[0], chartVersion: '0.2.0', releaseRepository: 'registry.example.com/sightline' }] }),
  ]) await registry.put(item);
  const plan = await planRollout({ rolloutId: 'r', request: { kind: 'release', version: '2.0.0' }, startedBy: 'jane', now: new Date('2025-06-02T10:00:00Z') }, registry, catalog);
  expect(Object.keys(plan.tenants).sort()).toEqual(['early-bird', 'pinned-new']);
  expect(Object.fromEntries(plan.excluded.map(({ tenantId, reason }) => [tenantId, reason]))).toEqual({
    steady: 'follows the stable channel, which points at 1.9.0 (sightline-vendor channel set stable 2.0.0)',
    'pinned-old': 'pinned to 1.8.0',
    'old-charts': expect.stringMatching(/runs Sightline charts 0\.1\.0; release 2\.0\.0 needs 0\.2\.0/),
    'other-registry': expect.stringMatching(/accepts images from registry\.example\.com\/sightline only; release 2\.0\.0 has sensor public\.ecr\.aws\/acme\/sightline/),
  });
  // Named tenants take the release whatever their channel; pins still hold.
  const named = await planRollout({ rolloutId: 'r2', request: { kind: 'release', version: '2.0.0', tenantIds: ['steady', 'pinned-old'] }, startedBy: 'jane', now: new Date() }, registry, catalog);
  expect(Object.keys(named.tenants)).toEqual(['steady']);
  await expect(planRollout({ rolloutId: 'r3', request: { kind: 'release', version: '9.9.9' }, startedBy: 'jane', now: new Date() }, registry, catalog))
    .rejects.toThrow('rollout: release 9.9.9 is not published (sightline-vendor release publish 9.9.9 ...)');
  await expect(planRollout({ rolloutId: 'r4', request: { kind: 'release', version: '2.0.0', tenantIds: ['nobody'] }, startedBy: 'jane', now: new Date() }, registry, catalog))
    .rejects.toThrow('rollout: no tenant named nobody');
  await expect(planRollout({ rolloutId: 'r5', request: { kind: 'scale', settings: { maxInFlight: 0, earlyShare: 2 } }, startedBy: 'jane', now: new Date() }, registry, catalog))
    .rejects.toThrow('rollout settings: maxInFlight must be a whole number of at least 1; earlyShare must be between 0 and 1');
});

test('the health gate holds only alarms that went into ALARM after the change against it', () => {
  const baseline = { 'A-Health-X': 'OK' as const, 'A-Health-Y': 'ALARM' as const };
  expect(judgeHealth(baseline, [{ name: 'A-Health-X', state: 'OK' }, { name: 'A-Health-Y', state: 'ALARM' }])).toEqual({ healthy: true, firing: [], alreadyFiring: ['A-Health-Y'] });
  expect(judgeHealth(baseline, [{ name: 'A-Health-X', state: 'ALARM' }])).toEqual({ healthy: false, firing: ['A-Health-X'], alreadyFiring: [] });
  expect(judgeHealth({}, [{ name: 'A-Health-Z', state: 'ALARM' }]).healthy).toBe(false);
  expect(judgeHealth(baseline, [{ name: 'A-Health-X', state: 'INSUFFICIENT_DATA' }]).healthy).toBe(true);
});
