/**
 * What the sensor costs the traffic of the node it runs on, each figure a ratio of rates measured in the same run,
 * rounds interleaved (and the order of the sides rotated) so drift on the machine hits every side alike.
 *
 * - Ordinary HTTPS traffic: a node JSON API on loopback, a keep-alive node client, saturated. The sensor against no
 *   sensor (bar: at least 0.98), with empty probes on the same functions shown beside it, empty entry probes alone
 *   (one trap per call: what any uprobe capture of these calls pays at the least, however little its programs do),
 *   and the sensor as older kernels run it (entry and return probes instead of uprobe sessions).
 * - An LLM tight loop: the same client posting OpenAI chat completions to the same server. The sensor against empty
 *   bpftrace programs on the same eight functions (uprobe and uretprobe on SSL_write, SSL_write_ex, SSL_read,
 *   SSL_read_ex; bar: at least 0.80), and the sensor's CPU per captured call (user + system, every thread; bar: at
 *   most 50 µs), counted at the sink the spans reach. Beside it the sensor at nice 0, competing for the CPU on equal
 *   terms instead of yielding it (capture.niceness), so what the default priority buys is measured in the same run.
 *
 * - The same LLM loop from a Go client (crypto/tls), against empty probes at the sensor's own probe points
 *   (go-overhead.ts).
 *
 * Each sensor side starts its own sensor and, for the LLM loops, measures it after the warm-up a long-running sensor
 * is past (support/sensor-warm-up.ts); the warm-up's CPU per call is printed beside.
 *
 * The sensor runs as the DaemonSet does, shipping OTLP to a gateway (here a loopback sink that counts spans); the
 * LLM loop also runs it in local mode (spans to a file, metrics and cost computed in the sensor). Client and server
 * are both traced, as two workloads on one node would be.
 *
 *   npm run bench:overhead    (options: --seconds N per side and round, --rounds N, --concurrency N, --body-bytes N)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  OPENSSL_FUNCTIONS,
  bpfProgramTotals,
  cpuSeconds,
  enableBpfStats,
  lineFrom,
  median,
  medianRoundRatio,
  metric,
  parseNumericOptions,
  peakRssMb,
  requireBpftrace,
  run,
  shipToSink,
  startEmptyProbes,
  startSensor,
  stop,
} from './support/processes';
import { CountingOtlpSink } from './support/span-sinks';
import { measureGoOverhead, summariseGo } from './go-overhead';
import { prepareWorkspace, type Workspace } from './support/workloads';
import { WARM_UP_CLIENTS, measureAfterWarmUp } from './support/sensor-warm-up';

type Side = 'without' | 'empty probes' | 'empty entry probes' | 'sensor' | 'sensor, entry and return probes' | 'sensor, local mode' | 'sensor at nice 0' | 'sensor, JS thread in the normal class';

export interface SideResult {
  rate: number;
  /** Kernel time of the side's BPF programs per request (empty probes and sensor sides), from the kernel's statistics. */
  kernelNanosPerRequest?: number;
  /** Sensor sides: CPU µs per span that reached the sink, and the spans. */
  cpuMicrosPerCall?: number;
  spans?: number;
  /** Sensor sides: the calls of the warm-up after the sensor's start, and the sensor's CPU µs per call over them. */
  warmUpCalls?: number;
  warmUpCpuMicrosPerCall?: number;
  droppedBytes?: number;
  /** Sensor sides: the sensor process's peak resident memory (VmHWM) when the round's spans were in. */
  peakRssMb?: number;
  /**
   * µs per request the client's thread waited, runnable, for a CPU. How the loop loses its rate: a CPU the sensor
   * holds is one the client and the server cannot spread over, so they queue behind each other.
   */
  clientWaitMicrosPerRequest?: number;
  /**
   * CPU µs per request the client and the server used together (user + system): under saturation what the rate
   * divides, so a probe's cost per request shows here without the scheduler's noise in the rate.
   */
  workloadCpuMicrosPerRequest?: number;
  /** Runs of the side's BPF programs per request: the probe hits, each a trap. */
  probeHitsPerRequest?: number;
}

interface Scenario {
  name: string;
  path: string;
  sides: Side[];
}

/** bpftrace names its programs after the probed function; the sensor's are named in tls_capture.bpf.c. */
const EMPTY_PROBE_PROGRAMS = /^SSL_(read|write)(_ex)?$/;
const SENSOR_PROGRAMS = /^ssl_(read|write)(_ex)?_(entry|return|session)$/;

const SCENARIOS: Scenario[] = [
  { name: 'ordinary HTTPS API (POST /api/orders)', path: '/api/orders', sides: ['without', 'empty probes', 'empty entry probes', 'sensor', 'sensor, entry and return probes'] },
  { name: 'LLM tight loop (POST /v1/chat/completions)', path: '/v1/chat/completions', sides: ['without', 'empty probes', 'sensor', 'sensor, local mode', 'sensor at nice 0', 'sensor, JS thread in the normal class'] },
];

export interface OverheadOptions extends Record<string, number> {
  seconds: number;
  rounds: number;
  concurrency: number;
  bodyBytes: number;
}

export interface OverheadReport {
  scenario: string;
  results: Record<Side, SideResult[]>;
}

type ClientResult = Required<Pick<SideResult, 'rate' | 'clientWaitMicrosPerRequest' | 'workloadCpuMicrosPerRequest'>>;

async function measureSide(side: Side, scenario: Scenario, workspace: Workspace, server: { pid: number; port: string }, options: OverheadOptions, round: number): Promise<SideResult> {
  const { port } = server;
  const clientArgs = [workspace.script('loop-client'), workspace.certs.caCertPath, port, String(options.seconds), String(options.concurrency), scenario.path, String(options.bodyBytes)];
  const requestsAt = (rate: number) => Math.max(1, rate * options.seconds);
  const client = async (): Promise<ClientResult> => {
    const serverCpuBefore = cpuSeconds(server.pid);
    const [rate, clientWaitMicrosPerRequest, clientCpuMicrosPerRequest] = (await run(process.execPath, clientArgs)).split(' ').map(Number);
    const serverCpuMicrosPerRequest = ((cpuSeconds(server.pid) - serverCpuBefore) * 1e6) / requestsAt(rate);
    return { rate, clientWaitMicrosPerRequest, workloadCpuMicrosPerRequest: clientCpuMicrosPerRequest + serverCpuMicrosPerRequest };
  };
  /** The client's figures, and the runs and kernel time of the programs named by `programs` per request it made. */
  const measured = async (programs: RegExp): Promise<ClientResult & { kernelNanosPerRequest: number; probeHitsPerRequest: number }> => {
    const before = bpfProgramTotals(programs);
    const result = await client();
    const after = bpfProgramTotals(programs);
    const requests = requestsAt(result.rate);
    return { ...result, kernelNanosPerRequest: (after.runTimeNs - before.runTimeNs) / requests, probeHitsPerRequest: (after.runs - before.runs) / requests };
  };
  if (side === 'without') return await client();
  if (side === 'empty probes' || side === 'empty entry probes') {
    const probes = await startEmptyProbes(process.execPath, OPENSSL_FUNCTIONS, { returns: side === 'empty probes' });
    try {
      return await measured(EMPTY_PROBE_PROGRAMS);
    } finally {
      await stop(probes);
    }
  }

  const sideDir = fs.mkdtempSync(path.join(workspace.dir, `sensor-${round}-`));
  const sink = new CountingOtlpSink();
  const spansFile = path.join(sideDir, 'spans.jsonl');
  const local = side === 'sensor, local mode';
  const shipping = local ? { args: ['--otlp-file', spansFile], config: '' } : await shipToSink(sideDir, sink, workspace.certs);
  const sideConfig: Partial<Record<Side, string>> = {
    // The sensor as on kernels before 6.13: every OpenSSL call gets an entry and a return probe.
    'sensor, entry and return probes': 'capture:\n  uprobeSessions: false\n',
    // The sensor competing for the CPU on equal terms with the workloads, not yielding it (capture.niceness, idleFirst).
    'sensor at nice 0': 'capture:\n  niceness: 0\n  idleFirst: false\n',
    // Nice 19 without idle-first scheduling: what moving the JS thread between the idle and normal classes buys.
    'sensor, JS thread in the normal class': 'capture:\n  idleFirst: false\n',
  };
  const sensor = await startSensor(sideDir, shipping.args, shipping.config + (sideConfig[side] ?? ''));
  try {
    // Local mode: the file exporter's own count. Parsing the whole file at every look took the bench process seconds
    // per look once the warm-up had written tens of megabytes, and cut the wait for a saturated sensor short.
    const spans = async () => (local ? metric(await sensor.metrics(), 'sightline_exporter_items_total\\{exporter="file",outcome="delivered"\\}') : sink.spans);
    const clientFor = async (seconds: number) => Number((await run(process.execPath, [clientArgs[0], clientArgs[1], clientArgs[2], String(seconds), ...clientArgs.slice(4)])).split(' ')[0]);
    // The same traffic first: the sensor's start-up work (its first scans, compiling the per-call path) is not what a
    // call costs (support/sensor-warm-up.ts).
    const result = await measureAfterWarmUp({
      pid: sensor.pid,
      spans,
      runFor: clientFor,
      measure: () => measured(SENSOR_PROGRAMS),
      seconds: options.seconds,
      spanless: scenario.path === '/api/orders',
    });
    const metrics = await sensor.metrics();
    return { ...result, droppedBytes: metric(metrics, 'sightline_capture_dropped_bytes_total'), peakRssMb: peakRssMb(sensor.pid) };
  } finally {
    await stop(sensor.child);
    await sink.close();
  }
}

export async function measureOverhead(options: OverheadOptions, log: (line: string) => void = console.log): Promise<OverheadReport[]> {
  requireBpftrace();
  const restoreBpfStats = enableBpfStats();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-overhead-'));
  const workspace = await prepareWorkspace(work);
  const server: ChildProcess = spawn(process.execPath, [workspace.script('server'), workspace.certs.certPath, workspace.certs.keyPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const reports: OverheadReport[] = [];
  try {
    const port = (await lineFrom(server, 'stdout', /\d+/, 10_000))[0];
    log(`capture overhead: ${options.rounds} rounds x ${options.seconds} s per side, ${options.concurrency} requests in flight, ${options.bodyBytes} B bodies, ${os.cpus().length} CPUs, Linux ${os.release()}, Node ${process.versions.node}`);
    for (const scenario of SCENARIOS) {
      await run(process.execPath, [workspace.script('loop-client'), workspace.certs.caCertPath, port, '1', String(options.concurrency), scenario.path, String(options.bodyBytes)]); // warm-up
      const results = Object.fromEntries(scenario.sides.map((side) => [side, [] as SideResult[]])) as Record<Side, SideResult[]>;
      log(`${scenario.name}:`);
      for (let round = 0; round < options.rounds; round++) {
        const order = scenario.sides.map((_, i) => scenario.sides[(i + round) % scenario.sides.length]);
        for (const side of order) results[side].push(await measureSide(side, scenario, workspace, { pid: server.pid!, port }, options, round));
        log(`  round ${round + 1}: ${scenario.sides.map((side) => `${side} ${results[side][round].rate.toFixed(0)}/s`).join(', ')}`);
      }
      reports.push({ scenario: scenario.name, results });
    }
    reports.push(await measureGoOverhead(workspace, port, options, log));
  } finally {
    await stop(server, 'SIGTERM');
    fs.rmSync(work, { recursive: true, force: true });
    restoreBpfStats();
  }
  return reports;
}

/** The ordinary-traffic bar, sensor / without; in the traffic's CPU it leaves 1 / bar - 1 more per request. */
const ORDINARY_BAR = 0.98;

/**
 * What a probe hit costs the ordinary traffic, from its CPU per request (client and server) rather than its rate,
 * against what the bar leaves for each of the sensor's hits. Medians of the figures within each round.
 */
export function trapBudget(report: OverheadReport): string[] {
  const cpu = (side: Side) => median(report.results[side].map((r) => r.workloadCpuMicrosPerRequest ?? NaN));
  const hits = (side: Side) => median(report.results[side].map((r) => r.probeHitsPerRequest ?? NaN));
  const without = report.results.without;
  const perRound = (f: (round: number) => number) => median(without.map((_, round) => f(round)));
  const entryHitCost = perRound((round) => {
    const entry = report.results['empty entry probes'][round];
    return (entry.workloadCpuMicrosPerRequest! - without[round].workloadCpuMicrosPerRequest!) / entry.probeHitsPerRequest!;
  });
  const allowedPerRequest = perRound((round) => without[round].workloadCpuMicrosPerRequest! * (1 / ORDINARY_BAR - 1));
  const sensorHits = hits('sensor');
  return [
    `  CPU per request, client and server together (median µs): without ${cpu('without').toFixed(1)}, empty entry probes ${cpu('empty entry probes').toFixed(1)}, sensor ${cpu('sensor').toFixed(1)}; probe hits per request: empty entry probes ${hits('empty entry probes').toFixed(2)}, sensor ${sensorHits.toFixed(2)}`,
    `  one hit of an empty entry probe costs this traffic ${entryHitCost.toFixed(2)} us; the bar leaves ${allowedPerRequest.toFixed(2)} us per request, ${(allowedPerRequest / sensorHits).toFixed(2)} us for each of the sensor's hits, its BPF program included`,
  ];
}

export function summarise(reports: OverheadReport[]): string[] {
  const lines: string[] = [];
  const rate = (report: OverheadReport, side: Side) => median(report.results[side].map((r) => r.rate));
  const [ordinary, llm] = reports;
  const kernel = (report: OverheadReport, side: Side) => median(report.results[side].map((r) => r.kernelNanosPerRequest ?? NaN));
  const ratio = (report: OverheadReport, side: Side, baseline: Side) => medianRoundRatio(report.results[side], report.results[baseline]);
  const roundsAhead = (report: OverheadReport, side: Side, other: Side) => report.results[side].filter((result, round) => result.rate > report.results[other][round].rate).length;
  const waits = (report: OverheadReport, sides: Side[]) =>
    `  the client's wait for a CPU per request (median µs): ${sides.map((side) => `${side} ${median(report.results[side].map((r) => r.clientWaitMicrosPerRequest ?? NaN)).toFixed(1)}`).join(', ')}`;
  const ordinaryRatio = ratio(ordinary, 'sensor', 'without');
  lines.push(
    'rates are medians over rounds; ratios are medians of the ratios within each round',
    `ordinary HTTPS API: without ${rate(ordinary, 'without').toFixed(0)}/s, empty probes ${rate(ordinary, 'empty probes').toFixed(0)}/s, sensor ${rate(ordinary, 'sensor').toFixed(0)}/s`,
    `  sensor / without = ${ordinaryRatio.toFixed(3)} (bar >= ${ORDINARY_BAR}: ${ordinaryRatio >= ORDINARY_BAR ? 'met' : 'NOT met'}); empty probes / without = ${ratio(ordinary, 'empty probes', 'without').toFixed(3)}; sensor / empty probes = ${ratio(ordinary, 'sensor', 'empty probes').toFixed(3)}`,
    `  BPF program time per request, client and server together: empty probes ${kernel(ordinary, 'empty probes').toFixed(0)} ns, sensor ${kernel(ordinary, 'sensor').toFixed(0)} ns`,
    `  empty entry probes alone (one trap per call, the least a uprobe capture pays) / without = ${ratio(ordinary, 'empty entry probes', 'without').toFixed(3)}; sensor / them = ${ratio(ordinary, 'sensor', 'empty entry probes').toFixed(3)}`,
    `  the sensor with entry and return probes (kernels before 6.13) ${rate(ordinary, 'sensor, entry and return probes').toFixed(0)}/s: / without = ${ratio(ordinary, 'sensor, entry and return probes', 'without').toFixed(3)}; sensor (uprobe sessions) / it = ${ratio(ordinary, 'sensor', 'sensor, entry and return probes').toFixed(3)}`,
    waits(ordinary, ['without', 'empty entry probes', 'sensor']),
    ...trapBudget(ordinary),
  );
  const llmRatio = ratio(llm, 'sensor', 'empty probes');
  lines.push(
    `LLM tight loop: without ${rate(llm, 'without').toFixed(0)}/s, empty probes ${rate(llm, 'empty probes').toFixed(0)}/s, sensor ${rate(llm, 'sensor').toFixed(0)}/s, sensor in local mode ${rate(llm, 'sensor, local mode').toFixed(0)}/s`,
    `  sensor / empty probes = ${llmRatio.toFixed(3)} (bar >= 0.80: ${llmRatio >= 0.8 ? 'met' : 'NOT met'}); local mode / empty probes = ${ratio(llm, 'sensor, local mode', 'empty probes').toFixed(3)}; empty probes / without = ${ratio(llm, 'empty probes', 'without').toFixed(3)}`,
    `  BPF program time per call, client and server together: empty probes ${kernel(llm, 'empty probes').toFixed(0)} ns, sensor ${kernel(llm, 'sensor').toFixed(0)} ns`,
    `  the sensor at nice 0, always in the normal class (an equal share of the CPU, not yielding it to the workloads) ${rate(llm, 'sensor at nice 0').toFixed(0)}/s: / empty probes = ${ratio(llm, 'sensor at nice 0', 'empty probes').toFixed(3)}; sensor (as configured by default) / it = ${ratio(llm, 'sensor', 'sensor at nice 0').toFixed(3)}`,
    `  the sensor with its JS thread always in the normal class (nice 19, no idle-first scheduling) ${rate(llm, 'sensor, JS thread in the normal class').toFixed(0)}/s: / empty probes = ${ratio(llm, 'sensor, JS thread in the normal class', 'empty probes').toFixed(3)}; sensor (idle first) / it = ${ratio(llm, 'sensor', 'sensor, JS thread in the normal class').toFixed(3)}, ahead in ${roundsAhead(llm, 'sensor', 'sensor, JS thread in the normal class')} of ${llm.results.sensor.length} rounds`,
    waits(llm, ['without', 'empty probes', 'sensor', 'sensor at nice 0', 'sensor, JS thread in the normal class']),
  );
  for (const side of ['sensor', 'sensor, local mode', 'sensor at nice 0', 'sensor, JS thread in the normal class'] as const) {
    const cpu = median(llm.results[side].map((r) => r.cpuMicrosPerCall ?? NaN));
    const spans = llm.results[side].map((r) => r.spans ?? 0);
    const dropped = llm.results[side].reduce((sum, r) => sum + (r.droppedBytes ?? 0), 0);
    const warmUpCpu = median(llm.results[side].map((r) => r.warmUpCpuMicrosPerCall ?? NaN));
    const warmUpCalls = median(llm.results[side].map((r) => r.warmUpCalls ?? NaN));
    lines.push(
      `  ${side}: ${cpu.toFixed(1)} us of sensor CPU per captured call (median; bar <= 50: ${cpu <= 50 ? 'met' : 'NOT met'}); over the warm-up after its start (${warmUpCalls.toFixed(0)} calls in ${WARM_UP_CLIENTS} client processes, median) ${warmUpCpu.toFixed(1)} us per call; spans at the sink per round ${spans.join(', ')}; dropped bytes ${dropped}; peak RSS ${Math.max(...llm.results[side].map((r) => r.peakRssMb ?? 0)).toFixed(0)} MB (the most of any round)`,
    );
  }
  if (reports[2]) lines.push(...summariseGo(reports[2]));
  return lines;
}

if (require.main === module) {
  const options = parseNumericOptions(process.argv.slice(2), { seconds: 5, rounds: 3, concurrency: 4, bodyBytes: 1024 }) as OverheadOptions;
  measureOverhead(options)
    .then((reports) => console.log(summarise(reports).join('\n')))
    .catch((error: Error) => {
      console.error(`bench: ${error.message}`);
      process.exit(1);
    });
}
