/**
 * Sensor throughput: the real sensor (BPF capture through to spans at the sink) under a steady load of LLM calls
 * with 8 KiB request bodies at a fixed rate, as a node's DaemonSet runs it (shipping OTLP to a gateway, here a
 * loopback sink that counts the spans it receives). Reports the spans that reached the sink, capture drops, the
 * sensor's CPU in cores and its peak RSS. The baseline, measured in the same run, is the same load with no sensor:
 * the ratio shows what the sensor costs the client. The sensor first gets the same load until it is past its start-up
 * (support/sensor-warm-up.ts: 10,000 calls, ten seconds at 1,000 calls/s, in four client processes), whose CPU is reported apart (start-up
 * work is paid once per node). Bars: all calls reach the sink, no drops, at most 0.15
 * cores, peak RSS at most 150 MB (over the sensor's whole life, warm-up included).
 *
 *   npm run bench:throughput     (options: --rate N calls/s, --seconds N, --body-bytes N)
 *
 * For memory experiments: SENSOR_NODE_FLAGS (node flags for the sensor), BENCH_RING_BYTES (capture.ringBufferBytes),
 * BENCH_SMAPS=FILE (a copy of the sensor's /proc/PID/smaps near the end of the load).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cpuSeconds, lineFrom, metric, parseNumericOptions, peakRssMb, shipToSink, startSensor, stop } from './support/processes';
import { CountingOtlpSink, waitForCount } from './support/span-sinks';
import { warmUpSensor } from './support/sensor-warm-up';
import { prepareWorkspace } from './support/workloads';

export interface ThroughputOptions extends Record<string, number> {
  rate: number;
  seconds: number;
  bodyBytes: number;
}

export interface ThroughputReport {
  options: ThroughputOptions;
  baseline: { done: number; failed: number; seconds: number };
  withSensor: { done: number; failed: number; seconds: number };
  spansAtSink: number;
  droppedBytes: number;
  truncatedBytes: number;
  cores: number;
  /** The sensor's CPU over the warm-up load, in cores: start-up work plus the calls. */
  warmUpCores: number;
  /** How long the warm-up load ran. */
  warmUpSeconds: number;
  warmUpClients: number;
  peakRssMb: number;
  endRssMb: number;
  heapUsedMb: number;
}


async function runClient(script: string, args: string[]): Promise<{ done: number; failed: number; seconds: number }> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const match = await lineFrom(child, 'stdout', /\{.*\}/, 300_000);
  return JSON.parse(match[0]);
}

export async function measureThroughput(options: ThroughputOptions, log: (line: string) => void = console.log): Promise<ThroughputReport> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-throughput-'));
  const workspace = await prepareWorkspace(work);
  const server: ChildProcess = spawn(process.execPath, [workspace.script('server'), workspace.certs.certPath, workspace.certs.keyPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const sink = new CountingOtlpSink();
  let sensor: Awaited<ReturnType<typeof startSensor>> | undefined;
  try {
    const port = (await lineFrom(server, 'stdout', /\d+/, 15_000))[0];
    const pacedClient = (seconds: number) =>
      runClient(workspace.script('paced-client'), [workspace.certs.caCertPath, port, String(options.rate), String(seconds), String(options.bodyBytes)]);
    log(`sensor throughput: ${options.rate} calls/s for ${options.seconds} s, ${options.bodyBytes} B request bodies, ${os.cpus().length} CPUs`);
    const baseline = await pacedClient(options.seconds);
    log(`  without sensor: ${baseline.done} calls in ${baseline.seconds.toFixed(1)} s (${baseline.failed} failed)`);

    const ringBytes = process.env.BENCH_RING_BYTES ? `capture:\n  ringBufferBytes: ${process.env.BENCH_RING_BYTES}\n` : '';
    const shipping = await shipToSink(work, sink, workspace.certs);
    sensor = await startSensor(work, shipping.args, `${shipping.config}${ringBytes}`);
    const pid = sensor.pid;
    // The same load first, as the overhead bench does: the sensor's start-up work (its first scans of the new
    // processes, compiling the per-call path) is paid once per node, not per call. Its CPU is reported apart.
    const cpuAtStart = cpuSeconds(pid);
    let warmUpDone = 0;
    const warmUp = await warmUpSensor(async (seconds) => {
      const slice = await pacedClient(seconds);
      warmUpDone += slice.done;
      return slice.done / slice.seconds;
    });
    const warmUpSpans = await waitForCount(() => sink.spans, warmUpDone, 3000);
    const cpuBefore = cpuSeconds(pid);
    if (process.env.BENCH_SMAPS) setTimeout(() => fs.writeFileSync(process.env.BENCH_SMAPS!, fs.readFileSync(`/proc/${pid}/smaps`)), (options.seconds - 1) * 1000);
    const withSensor = await pacedClient(options.seconds);
    // Spans leave in batches (at most a second apart): wait for every call to reach the sink, or for it to stall.
    const spansAtSink = (await waitForCount(() => sink.spans, warmUpSpans + withSensor.done, 3000)) - warmUpSpans;
    const cores = (cpuSeconds(pid) - cpuBefore) / withSensor.seconds;
    const warmUpCores = (cpuBefore - cpuAtStart) / warmUp.seconds;
    const metrics = await sensor.metrics();
    const report: ThroughputReport = {
      options,
      baseline,
      withSensor,
      spansAtSink,
      droppedBytes: metric(metrics, 'sightline_capture_dropped_bytes_total'),
      truncatedBytes: metric(metrics, 'sightline_capture_truncated_bytes_total'),
      cores,
      warmUpCores,
      warmUpSeconds: warmUp.seconds,
      warmUpClients: warmUp.clients,
      peakRssMb: peakRssMb(pid),
      endRssMb: metric(metrics, 'process_resident_memory_bytes') / 1048576,
      heapUsedMb: metric(metrics, 'nodejs_heap_size_used_bytes') / 1048576,
    };
    log(`  with sensor:    ${withSensor.done} calls in ${withSensor.seconds.toFixed(1)} s (${withSensor.failed} failed)`);
    return report;
  } finally {
    if (sensor) await stop(sensor.child);
    await sink.close();
    await stop(server, 'SIGTERM');
    fs.rmSync(work, { recursive: true, force: true });
  }
}

export function summariseThroughput(report: ThroughputReport): string[] {
  const { withSensor, baseline } = report;
  const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
  return [
    `  spans at the sink: ${report.spansAtSink} of ${withSensor.done} calls (bar: all: ${met(report.spansAtSink >= withSensor.done)}); dropped bytes ${report.droppedBytes}, truncated bytes ${report.truncatedBytes} (bar: 0: ${met(report.droppedBytes === 0)})`,
    `  sensor CPU: ${report.cores.toFixed(3)} cores (bar <= 0.15: ${met(report.cores <= 0.15)}; ${report.warmUpCores.toFixed(3)} cores over the ${report.warmUpSeconds} s warm-up load before it, ${report.warmUpClients} client processes); peak RSS ${report.peakRssMb.toFixed(0)} MB (bar <= 150: ${met(report.peakRssMb <= 150)}); at the end RSS ${report.endRssMb.toFixed(0)} MB, JS heap used ${report.heapUsedMb.toFixed(0)} MB`,
    `  client call rate with/without sensor: ${(withSensor.done / withSensor.seconds / (baseline.done / baseline.seconds)).toFixed(3)}`,
  ];
}

if (require.main === module) {
  const options = parseNumericOptions(process.argv.slice(2), { rate: 1000, seconds: 10, bodyBytes: 8192 }) as ThroughputOptions;
  measureThroughput(options)
    .then((report) => console.log(summariseThroughput(report).join('\n')))
    .catch((error: Error) => {
      console.error(`bench: ${error.message}`);
      process.exit(1);
    });
}
