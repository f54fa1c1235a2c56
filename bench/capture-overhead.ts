/**
 * Capture cost: request rate of a keep-alive HTTPS client on loopback with and without the sensor attached,
 * measured in the same run, rounds interleaved so drift on the machine hits every side alike. Two sensors are
 * measured: `sightline capture` (the eBPF capture stage alone, writing every buffer as JSON) and `sightline sensor`
 * (capture, HTTP decoding, provider recognition, spans and exporters: what runs on a node).
 *
 * The server stands in for the remote LLM provider, which in production is not on the traced host: it runs
 * from its own copy of the node binary, and the sensor is told to leave that copy alone.
 *
 *   npm run bench            (options: --seconds N per round, --rounds N, --concurrency N, --body-bytes N,
 *                             --latency-ms N: the provider answers after this delay, as real LLM APIs do)
 *
 * The client posts its bodies to /v1/chat/completions, so the full sensor treats every request as an LLM call
 * (one it cannot parse: the body is not JSON), its most expensive path short of building a span.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateTestCertificates } from '../sensor/demo/test-ca';

interface BenchOptions {
  seconds: number;
  rounds: number;
  concurrency: number;
  bodyBytes: number;
  latencyMs: number;
}

function parseOptions(argv: string[]): BenchOptions {
  const options: BenchOptions = { seconds: 5, rounds: 3, concurrency: 4, bodyBytes: 1024, latencyMs: 0 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof BenchOptions;
    const value = Number(argv[i + 1]);
    if (!(key in options) || !Number.isFinite(value) || value < 0) throw new Error(`bench: unknown option or bad value: ${argv[i]} ${argv[i + 1]}`);
    options[key] = value;
  }
  return options;
}

// The server answers with the request body's size; it runs in its own process, like a remote API would.
const SERVER = `
const https = require('node:https'); const fs = require('node:fs');
const [cert, key, bodyBytes, latencyMs] = process.argv.slice(2);
const reply = Buffer.alloc(Number(bodyBytes), 'r');
const answer = (res) => { res.writeHead(200, { 'content-length': reply.length }); res.end(reply); };
https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => {
  req.on('data', () => {}); req.on('end', () => (Number(latencyMs) > 0 ? setTimeout(answer, Number(latencyMs), res) : answer(res)));
}).listen(0, '127.0.0.1', function () { console.log(this.address().port); });
`;

// The client keeps `concurrency` requests in flight over keep-alive connections and prints requests completed.
const CLIENT = `
const https = require('node:https'); const fs = require('node:fs');
const [ca, port, seconds, concurrency, bodyBytes] = process.argv.slice(2);
const agent = new https.Agent({ keepAlive: true, maxSockets: Number(concurrency), ca: fs.readFileSync(ca) });
const body = Buffer.alloc(Number(bodyBytes), 'q');
let done = 0; const end = Date.now() + Number(seconds) * 1000;
function one() {
  if (Date.now() >= end) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/chat/completions', agent, headers: { 'content-length': body.length } }, (res) => {
      res.on('data', () => {}); res.on('end', () => { done++; resolve(); });
    });
    req.on('error', reject); req.end(body);
  }).then(one);
}
Promise.all(Array.from({ length: Number(concurrency) }, one)).then(() => { console.log(done / Number(seconds)); agent.destroy(); });
`;

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${command} exited with ${code}`))));
  });
}

function firstLine(child: ChildProcess, stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; got: ${seen}`)), timeoutMs);
    child[stream]!.on('data', (chunk) => {
      seen += chunk;
      const match = pattern.exec(seen);
      if (match) {
        clearTimeout(timer);
        resolve(match[0]);
      }
    });
  });
}

type SensorMode = 'capture' | 'sensor';
const MODES: SensorMode[] = ['capture', 'sensor'];

async function startSensor(root: string, work: string, providerDir: string, mode: SensorMode): Promise<ChildProcess> {
  const launcher = path.join(root, 'bin', 'sightline.js');
  let args = ['capture', '--out', '/dev/null', '--exclude', providerDir];
  if (mode === 'sensor') {
    const config = path.join(work, 'sensor.yaml');
    fs.writeFileSync(config, `capture:\n  excludePaths: [${JSON.stringify(providerDir)}]\nreceiver:\n  enabled: false\nserver:\n  httpPort: 0\n`);
    args = ['sensor', '--config', config, '--otlp-file', '/dev/null'];
  }
  // Started as `npx sightline` starts it, so the launcher's node flags apply.
  const sensor = spawn(launcher, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  await firstLine(sensor, 'stderr', /probes attached to \d+ TLS file/, 30_000);
  return sensor;
}

async function stopSensor(sensor: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => sensor.once('close', resolve));
  sensor.kill('SIGINT');
  await exited;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const root = path.resolve(__dirname, '..', '..');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-bench-'));
  const certs = await generateTestCertificates(work);
  const serverScript = path.join(work, 'server.js');
  const clientScript = path.join(work, 'client.js');
  fs.writeFileSync(serverScript, SERVER);
  fs.writeFileSync(clientScript, CLIENT);
  const providerDir = path.join(work, 'provider');
  fs.mkdirSync(providerDir);
  const providerNode = path.join(providerDir, 'node');
  fs.copyFileSync(process.execPath, providerNode);
  fs.chmodSync(providerNode, 0o755);
  const server = spawn(providerNode, [serverScript, certs.certPath, certs.keyPath, String(options.bodyBytes), String(options.latencyMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await firstLine(server, 'stdout', /\d+/, 10_000);
  const clientArgs = [clientScript, certs.caCertPath, port, String(options.seconds), String(options.concurrency), String(options.bodyBytes)];

  console.log(`capture overhead: ${options.rounds} rounds x ${options.seconds} s, ${options.concurrency} requests in flight, ${options.bodyBytes} B bodies, provider latency ${options.latencyMs} ms, ${os.cpus().length} CPUs`);
  await run(process.execPath, [...clientArgs.slice(0, 3), '1', ...clientArgs.slice(4)]); // warm-up
  const without: number[] = [];
  const withSensor: Record<SensorMode, number[]> = { capture: [], sensor: [] };
  try {
    for (let round = 1; round <= options.rounds; round++) {
      without.push(Number(await run(process.execPath, clientArgs)));
      for (const mode of MODES) {
        const sensor = await startSensor(root, work, providerDir, mode);
        try {
          withSensor[mode].push(Number(await run(process.execPath, clientArgs)));
        } finally {
          await stopSensor(sensor);
        }
      }
      console.log(`  round ${round}: without ${without[round - 1].toFixed(0)} req/s, ${MODES.map((mode) => `with ${mode} ${withSensor[mode][round - 1].toFixed(0)} req/s`).join(', ')}`);
    }
  } finally {
    server.kill();
    fs.rmSync(work, { recursive: true, force: true });
  }
  console.log(`median without: ${median(without).toFixed(0)} req/s`);
  for (const mode of MODES) {
    const ratio = median(withSensor[mode]) / median(without);
    const loss = ratio < 1 ? `${((1 - ratio) * 100).toFixed(1)}% fewer requests per second` : 'no loss measured (the difference is noise)';
    console.log(`with sightline ${mode}: ${median(withSensor[mode]).toFixed(0)} req/s, ratio ${ratio.toFixed(3)} (${loss}; target at most 2% fewer)`);
  }
}

main().catch((error: Error) => {
  console.error(`bench: ${error.message}`);
  process.exit(1);
});
