/** `sightline capture` as users run it: the compiled CLI in its own process, for real. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateTestCertificates, type TestCertificates } from '../../sensor/demo/test-ca';
import { patternBody, startRecordingTlsServer, type RecordingTlsServer } from '../support/recording-tls-server';
import { curlPost, runProcess } from '../support/tls-clients';

const CLI = path.resolve(__dirname, '../../bin/sightline.js');

let workDir: string;
let certs: TestCertificates;
let server: RecordingTlsServer;

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-cli-'));
  certs = await generateTestCertificates(path.join(workDir, 'tls'));
  server = await startRecordingTlsServer(certs.certPath, certs.keyPath);
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(workDir, { recursive: true, force: true });
});

function startCapture(args: string[]): { child: ChildProcess; ready: Promise<void>; exited: Promise<number | null>; stderr: () => string } {
  const child = spawn(process.execPath, [CLI, 'capture', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
      if (/probes attached to \d+ TLS file/.test(stderr)) resolve();
    });
    child.on('close', (code) => reject(new Error(`capture exited (${code}) before it was ready: ${stderr}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  return { child, ready, exited, stderr: () => stderr };
}

test('writes one JSON line per captured buffer with exactly ts, pid, tid, comm, conn, dir, data', async () => {
  const out = path.join(workDir, 'capture.jsonl');
  const stats = path.join(workDir, 'stats.json');
  const capture = startCapture(['--out', out, '--stats', stats]);
  await capture.ready;
  const run = await curlPost(workDir, certs.caCertPath, server.port, 5000);
  expect(run.exitCode).toBe(0);
  await new Promise((resolve) => setTimeout(resolve, 500));
  capture.child.kill('SIGINT');
  expect(await capture.exited).toBe(0);

  const lines = fs.readFileSync(out, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  for (const line of lines) {
    expect(Object.keys(line)).toEqual(['ts', 'pid', 'tid', 'comm', 'conn', 'dir', 'data']);
    expect(['in', 'out']).toContain(line.dir);
  }
  const curlLines = lines.filter((line) => line.pid === run.pid);
  const sent = Buffer.concat(curlLines.filter((l) => l.dir === 'out').map((l) => Buffer.from(l.data, 'base64')));
  expect(sent.subarray(sent.length - 5000).equals(patternBody(5000, 1))).toBe(true);
  expect(sent.toString('latin1')).toMatch(/^POST \/upload HTTP\/1\.1\r\n/);
  expect(new Set(curlLines.map((l) => l.conn)).size).toBe(1);
  expect(curlLines.every((l) => l.comm === 'curl' && typeof l.ts === 'number' && l.tid > 0)).toBe(true);

  const counters = JSON.parse(fs.readFileSync(stats, 'utf8'));
  expect(counters.attachedFiles).toBeGreaterThan(0);
  expect(counters.droppedBytes).toBe(0);
  expect(capture.stderr()).toMatch(/\d+ events, \d+ bytes captured; 0 bytes truncated/);
});

test('without root or capabilities it refuses with a sentence that says what is needed', async () => {
  const run = await runProcess('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, 'capture', '--out', '/dev/null', '--duration', '1']);
  expect(run.exitCode).toBe(1);
  expect(run.stderr).toMatch(/capture needs CAP_SYS_ADMIN .* and CAP_SYS_PTRACE .*; this process lacks CAP_SYS_ADMIN and CAP_SYS_PTRACE: run it as root/);
});

test('a sensor killed with SIGKILL leaves the traced application unharmed', async () => {
  const clientScript = path.join(workDir, 'steady-client.js');
  fs.writeFileSync(
    clientScript,
    `
const https = require('node:https'); const fs = require('node:fs');
const [ca, port] = process.argv.slice(2);
const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: fs.readFileSync(ca) });
let ok = 0;
function one(i) {
  return new Promise((resolve, reject) => {
    const body = Buffer.alloc(2000 + i, 'x');
    const req = https.request({ host: '127.0.0.1', port, method: 'POST', path: '/steady', agent, headers: { 'content-length': body.length } }, (res) => {
      let n = 0; res.on('data', (c) => (n += c.length)); res.on('end', () => { if (n === body.length) ok++; resolve(); });
    });
    req.on('error', reject); req.end(body);
  });
}
(async () => { for (let i = 0; i < 150; i++) { await one(i); await new Promise((r) => setTimeout(r, 10)); } console.log(ok); agent.destroy(); })()
  .catch((e) => { console.error(e); process.exit(1); });
`,
  );
  const out = path.join(workDir, 'killed.jsonl');
  const capture = startCapture(['--out', out]);
  await capture.ready;
  const client = runProcess(process.execPath, [clientScript, certs.caCertPath, String(server.port)]);
  // Kill the sensor mid-traffic, once it has demonstrably captured some of the client's requests.
  const deadline = Date.now() + 10_000;
  while (!(fs.existsSync(out) && fs.readFileSync(out, 'utf8').includes('"comm":"node"')) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  capture.child.kill('SIGKILL');
  expect(await capture.exited).toBe(null);
  const run = await client;
  expect(run.stderr).toBe('');
  expect(run.exitCode).toBe(0);
  expect(run.stdout.trim()).toBe('150');
});

test('flags are checked like the config file: a bad ring size names the flag and exits 2 before loading BPF', async () => {
  const run = await runProcess(process.execPath, [CLI, 'capture', '--out', '/dev/null', '--ring-buffer-bytes', '1000']);
  expect(run.exitCode).toBe(2);
  expect(run.stderr).toContain('--ring-buffer-bytes: must be a power of two of at least 4096');
});
