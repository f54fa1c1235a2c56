import { WARM_UP_CALLS, WARM_UP_CLIENTS, WARM_UP_MAX_SECONDS, measureAfterWarmUp, warmUpSensor } from '../../bench/support/sensor-warm-up';

/** A client that makes `rate` calls per second, recording the seconds it was asked to run. */
function clientAt(rate: number) {
  const slices: number[] = [];
  return { slices, runFor: async (seconds: number) => (slices.push(seconds), rate) };
}

test('a second first, then the seconds its rate says are still needed, shared among the clients still to come', async () => {
  const client = clientAt(1_000);
  const warmUp = await warmUpSensor(client.runFor);
  // 1,000 calls in the first second; 9,000 to go, three clients of 3 s.
  expect(client.slices).toEqual([1, 3, 3, 3]);
  expect(warmUp).toEqual({ calls: 10_000, seconds: 10, clients: WARM_UP_CLIENTS });
});

test('the calls are spread over several client processes, even when one could make them all', async () => {
  for (const rate of [3_000, 20_000]) {
    const client = clientAt(rate);
    const warmUp = await warmUpSensor(client.runFor);
    expect(client.slices).toEqual(Array(WARM_UP_CLIENTS).fill(1));
    expect(warmUp.clients).toBe(WARM_UP_CLIENTS);
    expect(warmUp.calls).toBeGreaterThanOrEqual(WARM_UP_CALLS);
  }
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

describe('a side measured after the warm-up', () => {
  // A stand-in sensor that delivers one span per call, the warm-up's a little late, as batches leave.
  function sensorAt(rate: number) {
    let delivered = 0;
    const pending: number[] = [];
    return {
      spans: () => {
        delivered += pending.splice(0).reduce((a, b) => a + b, 0);
        return delivered;
      },
      runFor: async (seconds: number) => (pending.push(rate * seconds), rate),
      measure: async () => {
        delivered += rate * 2; // the measured 2 s of calls
        return { rate, side: 'sensor' };
      },
    };
  }

  test('counts only the measured calls\' spans (the warm-up delivered first), and the warm-up apart', async () => {
    const sensor = sensorAt(4_000);
    const result = await measureAfterWarmUp({ pid: process.pid, spans: sensor.spans, runFor: sensor.runFor, measure: sensor.measure, seconds: 2 });
    expect(result.side).toBe('sensor');
    expect(result.spans).toBe(8_000);
    expect(result.warmUpCalls).toBeGreaterThanOrEqual(WARM_UP_CALLS);
    expect(result.warmUpCpuMicrosPerCall).toBeGreaterThanOrEqual(0);
  });

  test('traffic that never reaches the per-call path gets a second of warm-up and no wait for spans', async () => {
    const slices: number[] = [];
    const result = await measureAfterWarmUp({
      pid: process.pid,
      spans: () => 0,
      runFor: async (seconds) => (slices.push(seconds), 5_000),
      measure: async () => ({ rate: 5_000 }),
      seconds: 2,
      spanless: true,
    });
    expect(slices).toEqual([1]);
    expect(result.warmUpCalls).toBe(5_000);
    expect(result.spans).toBe(0);
    expect(result.cpuMicrosPerCall).toBeUndefined();
  });
});
