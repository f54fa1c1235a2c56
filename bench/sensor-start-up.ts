/**
 * A sensor's first seconds: its CPU per captured call over time since it started, under a constant LLM tight loop
 * (the overhead bench's node client and server, 4 in flight, 1 KiB bodies), split between its JS thread and its
 * other threads (V8's compiler and collector workers, the ring-buffer reader). What support/sensor-warm-up.ts
 * lets a fresh sensor get past before its per-call cost is measured.
 *
 *   npm run bench:start-up    (options: --seconds N of load in all, default 30; --runs N, default 2)
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cpuSeconds, lineFrom, metric, parseNumericOptions, run, shipToSink, startSensor, stop } from './support/processes';
import { CountingOtlpSink } from './support/span-sinks';
import { prepareWorkspace } from './support/workloads';

interface Window {
  fromSeconds: number;
  toSeconds: number;
  /** LLM calls the sensor read since its start, at the window's end. */
  callsSoFar: number;
  callsPerSecond: number;
  jsThreadMicrosPerCall: number;
  otherThreadsMicrosPerCall: number;
}

/** CPU seconds of the process's main (JS) thread and of all its other threads. */
function threadCpuSeconds(pid: number): { main: number; others: number } {
  const main = cpuSeconds(pid, pid);
  return { main, others: cpuSeconds(pid) - main };
}

/** Window ends, in seconds since the load began: finer at first, where the cost changes. */
function windowEnds(totalSeconds: number): number[] {
  const ends = [1, 2, 4, 6, 8, 12, 16, 20, 30, 45, 60, 90, 120].filter((end) => end < totalSeconds);
  return [...ends, totalSeconds];
}

export async function measureStartUp(totalSeconds: number): Promise<Window[]> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-start-up-'));
  const workspace = await prepareWorkspace(work);
  const server = spawn(process.execPath, [workspace.script('server'), workspace.certs.certPath, workspace.certs.keyPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const sink = new CountingOtlpSink();
  try {
    const port = (await lineFrom(server, 'stdout', /\d+/, 10_000))[0];
    const shipping = await shipToSink(work, sink, workspace.certs);
    const sensor = await startSensor(work, shipping.args, shipping.config);
    try {
      // The sensor's own count of LLM calls, as they are read: the exporter's lags by a batch, and reading the sink's
      // would decode every request in this process while the load runs.
      const delivered = async () => metric(await sensor.metrics(), 'sightline_llm_calls_total');
      const start = Date.now();
      const client = run(process.execPath, [workspace.script('loop-client'), workspace.certs.caCertPath, port, String(totalSeconds), '4', '/v1/chat/completions', '1024']);
      const windows: Window[] = [];
      let from = 0;
      let cpu = threadCpuSeconds(sensor.pid);
      let calls = await delivered();
      for (const end of windowEnds(totalSeconds)) {
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, start + end * 1000 - Date.now())));
        const nowCpu = threadCpuSeconds(sensor.pid);
        const nowCalls = await delivered();
        const callsInWindow = Math.max(1, nowCalls - calls);
        windows.push({
          fromSeconds: from,
          toSeconds: end,
          callsSoFar: nowCalls,
          callsPerSecond: (nowCalls - calls) / (end - from),
          jsThreadMicrosPerCall: ((nowCpu.main - cpu.main) * 1e6) / callsInWindow,
          otherThreadsMicrosPerCall: ((nowCpu.others - cpu.others) * 1e6) / callsInWindow,
        });
        [from, cpu, calls] = [end, nowCpu, nowCalls];
      }
      await client;
      return windows;
    } finally {
      await stop(sensor.child);
    }
  } finally {
    await sink.close();
    await stop(server, 'SIGTERM');
    fs.rmSync(work, { recursive: true, force: true });
  }
}

export function summariseStartUp(runs: Window[][]): string[] {
  const lines = ['seconds since the load began: calls/s, sensor CPU µs per call (JS thread + other threads), calls read so far'];
  runs.forEach((windows, index) => {
    lines.push(`run ${index + 1}:`);
    for (const w of windows) {
      const total = w.jsThreadMicrosPerCall + w.otherThreadsMicrosPerCall;
      lines.push(
        `  ${w.fromSeconds}-${w.toSeconds} s: ${w.callsPerSecond.toFixed(0)}/s, ${total.toFixed(0)} µs per call (${w.jsThreadMicrosPerCall.toFixed(0)} + ${w.otherThreadsMicrosPerCall.toFixed(0)}), ${w.callsSoFar} calls so far`,
      );
    }
  });
  return lines;
}

if (require.main === module) {
  const options = parseNumericOptions(process.argv.slice(2), { seconds: 30, runs: 2 });
  void (async () => {
    const runs: Window[][] = [];
    for (let i = 0; i < options.runs; i++) runs.push(await measureStartUp(options.seconds));
    console.log(summariseStartUp(runs).join('\n'));
  })().catch((error: Error) => {
    console.error(`bench: ${error.message}`);
    process.exit(1);
  });
}
