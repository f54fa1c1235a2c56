import { DEFAULT_SCALING_LIMITS, decideScaling } from '../../control-plane/scaling/scaling-policy';

const [small, medium, large] = DEFAULT_SCALING_LIMITS.sensorTiers;
const gateway = (minReplicas: number, maxReplicas: number, currentReplicas: number) => ({ minReplicas, maxReplicas, currentReplicas });

test('the gateway floor follows the sensor nodes, within the limits; the ceiling keeps headroom', () => {
  expect(decideScaling({ sensorNodes: 40, gateway: gateway(2, 10, 2), alarms: [] })).toEqual({ reasons: [] });
  expect(decideScaling({ sensorNodes: 120, gateway: gateway(2, 10, 3), alarms: [] }).gateway).toEqual({ minReplicas: 3, maxReplicas: 10 });
  expect(decideScaling({ sensorNodes: 400, gateway: gateway(2, 10, 8), alarms: [] }).gateway).toEqual({ minReplicas: 8, maxReplicas: 20 });
  // Never past the ceiling, however big the fleet.
  expect(decideScaling({ sensorNodes: 5000, gateway: gateway(8, 20, 20), alarms: [] }).gateway).toEqual({ minReplicas: 20, maxReplicas: 20 });
  // A shrinking fleet lowers the floor, not the ceiling.
  expect(decideScaling({ sensorNodes: 10, gateway: gateway(8, 20, 4), alarms: [] }).gateway).toEqual({ minReplicas: 2, maxReplicas: 20 });
});

test('an HPA that ran at its maximum gets twice the room', () => {
  const decision = decideScaling({ sensorNodes: 60, gateway: gateway(2, 6, 6), alarms: [] });
  expect(decision.gateway).toEqual({ minReplicas: 2, maxReplicas: 12 });
  expect(decision.reasons).toEqual([expect.stringContaining('the HPA ran at its maximum (6 replicas)')]);
});

test('sensors that drop captures move up one tier; custom or top-tier resources are left alone and said so', () => {
  const dropping = [{ name: 'Sightline-Health-Drops-Warning', state: 'ALARM' as const }];
  expect(decideScaling({ sensorNodes: 3, sensorResources: small, alarms: dropping }).sensorResources).toEqual(medium);
  expect(decideScaling({ sensorNodes: 3, sensorResources: { limits: { memory: '512Mi' }, requests: { memory: '256Mi', cpu: '100m' } }, alarms: dropping }).sensorResources).toEqual(medium);
  expect(decideScaling({ sensorNodes: 3, sensorResources: small, alarms: [] }).sensorResources).toBeUndefined();
  const top = decideScaling({ sensorNodes: 3, sensorResources: large, alarms: dropping });
  expect(top).toEqual({ reasons: [expect.stringContaining('at the largest resource tier')] });
  const custom = decideScaling({ sensorNodes: 3, sensorResources: { requests: { cpu: '3' } }, alarms: dropping });
  expect(custom).toEqual({ reasons: [expect.stringContaining('set by hand')] });
});

test('limits that cannot hold are refused', () => {
  expect(() => decideScaling({ sensorNodes: 1, alarms: [] }, { ...DEFAULT_SCALING_LIMITS, gateway: { ...DEFAULT_SCALING_LIMITS.gateway, maxReplicasCeiling: 1 } }))
    .toThrow(/minReplicasFloor \(2\) <= maxReplicasCeiling \(1\)/);
});
