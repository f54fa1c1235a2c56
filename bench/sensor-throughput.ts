/**
 * Sensor throughput: the real sensor (BPF capture through to spans on disk) under a steady load of LLM calls with
 * 8 KiB request bodies, at a fixed rate. Reports the calls it turned into spans, ring-buffer drops, the sensor's
 * CPU (in cores) and peak RSS. The baseline, measured in the same run, is the same load with no sensor attached:
 * the ratio shows what the sensor costs the client.
 *
 *   npm run bench:throughput     (options: --rate N calls/s, --seconds N, --body-bytes N)
 *
 * For memory experiments: SENSOR_NODE_FLAGS (node flags for the sensor), BENCH_RING_BYTES (capture.ringBufferBytes),
 * BENCH_SMAPS=FILE (a copy of the sensor's /proc/PID/smaps near the end of the load).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateTestCertificates } from '../sensor/demo/test-ca';

interface Options {
  rate: number;
  seconds: number;
  bodyBytes: number;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { rate: 1000, seconds: 10, bodyBytes: 8192 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof Options;
    const value = Number(argv[i + 1]);
    if (!(key in options) || !Number.isFinite(value) || value <= 0) throw new Error(`bench: unknown option or bad value: ${argv[i]} ${argv[i + 1]}`);
    options[key] = value;
  }
  return options;
}

// The provider stands in for the remote API: its own node binary copy, excluded from capture.
const PROVIDER = `
const { startMockProvider } = require(process.argv[2]);
const fs = require('node:fs');
startMockProvider({ tls: { key: fs.readFileSync(process.argv[3]), cert: fs.readFileSync(process.argv[4]) } })
  .then((p) => console.log(p.port));
`;

// Paces calls at a fixed rate over keep-alive connections; prints calls completed and calls that failed.
const CLIENT = `
const https = require('node:https'); const fs = require('node:fs');
const [ca, port, rate, seconds, bodyBytes] = process.argv.slice(2).map((v, i) => (i === 0 ? v : Number(v)));
const agent = new https.Agent({ keepAlive: true, maxSockets: 32, ca: fs.readFileSync(ca) });
const filler = 'x'.repeat(Math.max(0, bodyBytes - 200));
let done = 0, failed = 0, sent = 0;
const total = rate * seconds;
const started = Date.now();
function call(i) {
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'call ' + i + ' ' + filler }] });
  const req = https.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/chat/completions', agent,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: 'Bearer sk-bench' } }, (res) => {
    res.on('data', () => {}); res.on('end', () => { res.statusCode === 200 ? done++ : failed++; finish(); });
  });
  req.on('error', () => { failed++; finish(); });
  req.end(body);
}
function finish() { if (done + failed === total) { console.log(JSON.stringify({ done, failed, seconds: (Date.now() - started) / 1000 })); agent.destroy(); } }
const tick = setInterval(() => {
  const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * rate));
  while (sent < due) call(sent++);
  if (sent >= total) clearInterval(tick);
}, 5);
`;

function lineFrom(child: ChildProcess, stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no output matching ${pattern} within ${timeoutMs} ms: ${seen.slice(-500)}`)), timeoutMs);
    child[stream]!.on('data', (chunk) => {
      seen += chunk;
      const match = pattern.exec(seen);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    });
  });
}

async function runClient(script: string, args: string[]): Promise<{ done: number; failed: number; seconds: number }> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const match = await lineFrom(child, 'stdout', /\{.*\}/, 300_000);
  return JSON.parse(match[0]);
}

function getText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve(text));
    }).on('error', reject);
  });
}

function metric(text: string, name: string): number {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : NaN;
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

function peakRssMb(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const root = path.resolve(__dirname, '..', '..');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-throughput-'));
  const certs = await generateTestCertificates(path.join(work, 'tls'));
  const providerDir = path.join(work, 'provider');
  fs.mkdirSync(providerDir);
  const providerNode = path.join(providerDir, 'node');
  fs.copyFileSync(process.execPath, providerNode);
  fs.chmodSync(providerNode, 0o755);
  fs.writeFileSync(path.join(work, 'provider.js'), PROVIDER);
  fs.writeFileSync(path.join(work, 'client.js'), CLIENT);
  fs.writeFileSync(path.join(work, 'sensor.yaml'), `capture:\n  ringBufferBytes: ${process.env.BENCH_RING_BYTES ?? 16777216}\n  excludePaths: [${JSON.stringify(providerDir)}]\nreceiver:\n  enabled: false\nserver:\n  httpPort: 0\n`);

  const provider = spawn(providerNode, [path.join(work, 'provider.js'), path.join(root, 'dist/sensor/demo/mock-provider.js'), certs.keyPath, certs.certPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = (await lineFrom(provider, 'stdout', /\d+/, 15_000))[0];
  const clientArgs = [certs.caCertPath, port, String(options.rate), String(options.seconds), String(options.bodyBytes)];
  console.log(`sensor throughput: ${options.rate} calls/s for ${options.seconds} s, ${options.bodyBytes} B request bodies, ${os.cpus().length} CPUs`);

  let sensor: ChildProcess | undefined;
  try {
    const baseline = await runClient(path.join(work, 'client.js'), clientArgs);
    console.log(`  without sensor: ${baseline.done} calls in ${baseline.seconds.toFixed(1)} s (${baseline.failed} failed)`);

    const spansFile = path.join(work, 'spans.jsonl');
    const nodeFlags = process.env.SENSOR_NODE_FLAGS?.split(' ').filter(Boolean) ?? []; // for memory experiments
    const sensorArgs = ['sensor', '--config', path.join(work, 'sensor.yaml'), '--otlp-file', spansFile];
    const launcher = path.join(root, 'bin/sightline.js');
    // Started as `npx sightline` starts it (the launcher's own node flags apply) unless flags are under test.
    sensor =
      nodeFlags.length > 0
        ? spawn(process.execPath, [...nodeFlags, launcher, ...sensorArgs], { stdio: ['ignore', 'ignore', 'pipe'] })
        : spawn(launcher, sensorArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
    const healthPort = (await lineFrom(sensor, 'stderr', /"healthPort":(\d+)/, 30_000))[1];
    const cpuBefore = cpuSeconds(sensor.pid!);
    if (process.env.BENCH_HEAPSNAPSHOT) setTimeout(() => process.kill(sensor!.pid!, 'SIGUSR2'), (options.seconds - 1) * 1000);
    if (process.env.BENCH_SMAPS) setTimeout(() => fs.writeFileSync(process.env.BENCH_SMAPS!, fs.readFileSync(`/proc/${sensor!.pid}/smaps`)), (options.seconds - 1) * 1000);
    const withSensor = await runClient(path.join(work, 'client.js'), clientArgs);
    // Spans are written once connections close or go idle; wait for all of them.
    const deadline = Date.now() + 60_000;
    let llmCalls = 0;
    let metrics = '';
    while (Date.now() < deadline) {
      metrics = await getText(`http://127.0.0.1:${healthPort}/metrics`);
      llmCalls = metric(metrics, 'sightline_llm_calls_total');
      if (llmCalls >= withSensor.done) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const sensorCpu = cpuSeconds(sensor.pid!) - cpuBefore;
    const rssMb = peakRssMb(sensor.pid!);
    const dropped = metric(metrics, 'sightline_capture_dropped_bytes_total');
    const truncated = metric(metrics, 'sightline_capture_truncated_bytes_total');
    console.log(`  with sensor:    ${withSensor.done} calls in ${withSensor.seconds.toFixed(1)} s (${withSensor.failed} failed)`);
    console.log(`  spans from captured calls: ${llmCalls} of ${withSensor.done}; dropped bytes ${dropped}, truncated bytes ${truncated}`);
    console.log(`  sensor CPU: ${sensorCpu.toFixed(2)} s over ${withSensor.seconds.toFixed(1)} s = ${(sensorCpu / withSensor.seconds).toFixed(2)} cores; peak RSS ${rssMb.toFixed(0)} MB (bar: 1 core, 200 MB)`);
    const mb = (name: string) => (metric(metrics, name) / 1048576).toFixed(0);
    console.log(`  sensor memory at the end: RSS ${mb('process_resident_memory_bytes')} MB, JS heap used ${mb('nodejs_heap_size_used_bytes')} MB, external ${mb('nodejs_external_memory_bytes')} MB`);
    console.log(`  ratio of call rates with/without sensor: ${(withSensor.done / withSensor.seconds / (baseline.done / baseline.seconds)).toFixed(3)}`);
  } finally {
    sensor?.kill('SIGINT');
    provider.kill();
    await new Promise((resolve) => setTimeout(resolve, 500));
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: Error) => {
  console.error(`bench: ${error.message}`);
  process.exit(1);
});
