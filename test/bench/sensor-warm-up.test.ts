import { WARM_UP_CALLS, WARM_UP_MAX_SECONDS, warmUpSensor } from '../../bench/support/sensor-warm-up';

/** A client that makes `rate` calls per second, recording the seconds it was asked to run. */
function clientAt(rate: number) {
  const slices: number[] = [];
  return { slices, runFor: async (seconds: number) => (slices.push(seconds), rate) };
}

test('a second first, then as many seconds as its rate says are still needed to reach the calls', async () => {
  const client = clientAt(3_000);
  const warmUp = await warmUpSensor(client.runFor);
  expect(client.slices).toEqual([1, Math.ceil((WARM_UP_CALLS - 3_000) / 3_000)]);
  expect(warmUp.calls).toBeGreaterThanOrEqual(WARM_UP_CALLS);
  expect(warmUp.seconds).toBe(client.slices.reduce((a, b) => a + b));
});

test('a machine too slow to reach the calls stops at the time limit', async () => {
  const client = clientAt(100);
  const warmUp = await warmUpSensor(client.runFor);
  expect(warmUp.seconds).toBe(WARM_UP_MAX_SECONDS);
  expect(warmUp.calls).toBe(100 * WARM_UP_MAX_SECONDS);
});

test('a client that makes no calls is an error, not a warm sensor', async () => {
  await expect(warmUpSensor(clientAt(0).runFor)).rejects.toThrow(/no calls in 1 s/);
});
