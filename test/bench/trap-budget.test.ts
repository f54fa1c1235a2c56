import { trapBudget, type OverheadReport, type SideResult } from '../../bench/capture-overhead';

/** Rounds of a side: CPU µs per request (client and server) and probe hits per request. */
const rounds = (cpu: number[], hits: number) => cpu.map((workloadCpuMicrosPerRequest): SideResult => ({ rate: 1_000, workloadCpuMicrosPerRequest, probeHitsPerRequest: hits }));

test('a hit costs the CPU it adds per request over the hits, against the 2% of the CPU the bar leaves', () => {
  const report = {
    scenario: 'ordinary',
    results: {
      without: rounds([100, 110, 120], 0),
      'empty entry probes': rounds([106, 116.6, 126], 6),
      sensor: rounds([108, 118, 128], 6),
    },
  } as unknown as OverheadReport;
  const [cpu, budget] = trapBudget(report);
  expect(cpu).toContain('without 110.0, empty entry probes 116.6, sensor 118.0');
  expect(cpu).toContain('probe hits per request: empty entry probes 6.00, sensor 6.00');
  // (6, 6.6, 6) µs over 6 hits; 110 µs x (1 / 0.98 - 1) = 2.24 µs per request, over 6 hits.
  expect(budget).toContain('costs this traffic 1.00 us');
  expect(budget).toContain('the bar leaves 2.24 us per request, 0.37 us for each');
});

test('fewer hits leave more of the budget to each', () => {
  const report = {
    scenario: 'ordinary',
    results: {
      without: rounds([100], 0),
      'empty entry probes': rounds([104], 4),
      sensor: rounds([105], 2),
    },
  } as unknown as OverheadReport;
  expect(trapBudget(report)[1]).toContain('costs this traffic 1.00 us; the bar leaves 2.04 us per request, 1.02 us for each');
});
