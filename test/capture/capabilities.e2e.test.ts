/**
 * What capture needs besides root, proven with the real CLI run as `nobody` through capsh (Debian's libcap2-bin)
 * with nothing but the named ambient capabilities. CAP_SYS_ADMIN and CAP_SYS_PTRACE are enough: probes attach,
 * and a root process's TLS library that only its /proc/PID/maps names (a private libssl copy loaded through
 * LD_LIBRARY_PATH) is found and captured. CAP_BPF + CAP_PERFMON + CAP_SYS_PTRACE are not: the kernel creates uprobes
 * only for CAP_SYS_ADMIN, and the preflight says so before anything is loaded.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateTestCertificates, type TestCertificates } from '../../sensor/demo/test-ca';
import { startRecordingTlsServer, type RecordingTlsServer } from '../support/recording-tls-server';

const CLI = path.resolve(__dirname, '../../bin/sightline.js');
const CAPSH = '/usr/sbin/capsh';
const UNPRIVILEGED_USER = 'nobody';
const CAP_SYS_PTRACE = 1n << 19n;
const CAP_SYS_ADMIN = 1n << 21n;
/** Debian's OpenSSL, copied to a folder of its own, so only the client's /proc/PID/maps tells where it is. */
const SYSTEM_LIBRARIES = ['/usr/lib/x86_64-linux-gnu/libssl.so.3', '/usr/lib/x86_64-linux-gnu/libcrypto.so.3'];

let workDir: string;
let certs: TestCertificates;
let server: RecordingTlsServer;

beforeAll(async () => {
  if (!fs.existsSync(CAPSH)) throw new Error(`${CAPSH} is missing: install Debian's libcap2-bin (bpf/install-build-deps.sh does)`);
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-caps-'));
  // The unprivileged capture writes here and reads the private library copy from here.
  fs.chmodSync(workDir, 0o777);
  certs = await generateTestCertificates(path.join(workDir, 'tls'));
  fs.mkdirSync(path.join(workDir, 'private-lib'), { mode: 0o755 });
  for (const library of SYSTEM_LIBRARIES) fs.copyFileSync(library, path.join(workDir, 'private-lib', path.basename(library)));
  server = await startRecordingTlsServer(certs.certPath, certs.keyPath);
});

afterAll(async () => {
  await server?.close();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

interface Unprivileged {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** The real CLI as `nobody` holding exactly `capabilities` (effective, permitted and ambient, so they survive exec). */
function runUnprivileged(capabilities: string[], args: string[]): Unprivileged {
  const caps = capabilities.join(',');
  const capshArgs = [
    capabilities.length > 0 ? `--caps=${caps}+eip cap_setpcap,cap_setuid,cap_setgid+ep` : '--caps=cap_setpcap,cap_setuid,cap_setgid+ep',
    `--keep=${capabilities.length > 0 ? 1 : 0}`,
    `--user=${UNPRIVILEGED_USER}`,
    ...(capabilities.length > 0 ? [`--addamb=${caps}`] : []),
    '--',
    '-c',
    // exec: the capture is this very process, so its /proc/PID/status can be read.
    `exec ${[process.execPath, CLI, ...args].map((arg) => `'${arg}'`).join(' ')}`,
  ];
  const child = spawn(CAPSH, capshArgs, { stdio: ['ignore', 'ignore', 'pipe'], cwd: workDir });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  return { child, stderr: () => stderr, exited };
}

async function waitFor(what: string, probe: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A python3 client, run as root, posting over HTTPS for a few seconds through the private libssl copy. */
function startRootClient(): { child: ChildProcess; exited: Promise<number | null> } {
  const script = [
    'import ssl, sys, time, urllib.request',
    `ctx = ssl.create_default_context(cafile=${JSON.stringify(certs.caCertPath)})`,
    'end = time.time() + 3',
    'while time.time() < end:',
    `    urllib.request.urlopen(urllib.request.Request("https://127.0.0.1:${server.port}/upload", data=b"x" * 64), context=ctx).read()`,
    '    time.sleep(0.05)',
  ].join('\n');
  const child = spawn('/usr/bin/python3', ['-c', script], { stdio: 'ignore', env: { ...process.env, LD_LIBRARY_PATH: path.join(workDir, 'private-lib') } });
  return { child, exited: new Promise((resolve) => child.on('close', resolve)) };
}

test(`capture as ${UNPRIVILEGED_USER} with CAP_SYS_ADMIN and CAP_SYS_PTRACE only attaches and captures another user's process`, async () => {
  const out = path.join(workDir, 'capture.jsonl');
  const capture = runUnprivileged(['cap_sys_admin', 'cap_sys_ptrace'], ['capture', '--out', out, '--duration', '6']);
  await waitFor('probes attached', () => /probes attached to [1-9]\d* TLS file/.test(capture.stderr()) || capture.child.exitCode !== null);
  expect(capture.stderr()).toMatch(/probes attached to [1-9]\d* TLS file/);

  // The capture really runs unprivileged, with exactly these capabilities.
  const status = fs.readFileSync(`/proc/${capture.child.pid}/status`, 'utf8');
  expect(/^Uid:\s+(\d+)/m.exec(status)![1]).toBe(String(spawnSync('id', ['-u', UNPRIVILEGED_USER]).stdout).trim());
  expect(BigInt(`0x${/^CapEff:\s+([0-9a-f]+)/m.exec(status)![1]}`)).toBe(CAP_SYS_ADMIN | CAP_SYS_PTRACE);

  const client = startRootClient();
  // The client maps the private copy; only its maps tell the capture where that is.
  await waitFor('the client to load its private libssl', () => {
    try {
      return fs.readFileSync(`/proc/${client.child.pid}/maps`, 'utf8').includes(path.join(workDir, 'private-lib', 'libssl.so.3'));
    } catch {
      return false;
    }
  });
  expect(await client.exited).toBe(0);
  expect(await capture.exited).toBe(0);

  const lines = fs.readFileSync(out, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
  const sent = lines.filter((line) => line.pid === client.child.pid && line.dir === 'out').map((line) => Buffer.from(line.data, 'base64').toString('latin1'));
  expect(sent.join('')).toContain('POST /upload HTTP/1.1');
}, 60_000);

test.each([
  ['CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE', ['cap_bpf', 'cap_perfmon', 'cap_sys_ptrace'], 'lacks CAP_SYS_ADMIN:'],
  ['CAP_SYS_ADMIN alone', ['cap_sys_admin'], 'lacks CAP_SYS_PTRACE:'],
  ['no capability', [], 'lacks CAP_SYS_ADMIN and CAP_SYS_PTRACE:'],
])(`capture as ${UNPRIVILEGED_USER} with %s is refused, naming what is missing`, async (_what, capabilities, missing) => {
  const capture = runUnprivileged(capabilities, ['capture', '--out', path.join(workDir, 'refused.jsonl'), '--duration', '1']);
  expect(await capture.exited).toBe(1);
  expect(capture.stderr()).toContain(missing);
  expect(capture.stderr()).not.toMatch(/probes attached/);
});

test(`the sensor as ${UNPRIVILEGED_USER} with CAP_SYS_ADMIN and CAP_SYS_PTRACE becomes ready`, async () => {
  const config = path.join(workDir, 'sensor.yaml');
  fs.writeFileSync(config, JSON.stringify({ receiver: { host: '127.0.0.1', port: 0 }, server: { host: '127.0.0.1', httpPort: 0 }, enrichment: { kubernetes: { enabled: false } } }));
  fs.chmodSync(config, 0o644);
  const sensor = runUnprivileged(['cap_sys_admin', 'cap_sys_ptrace'], ['sensor', '--config', config, '--otlp-file', path.join(workDir, 'spans.jsonl'), '--data-dir', path.join(workDir, 'data')]);
  try {
    await waitFor('sensor ready', () => sensor.stderr().includes('sensor ready') || sensor.child.exitCode !== null);
    expect(sensor.stderr()).toMatch(/sensor ready: probes attached to [1-9]\d* TLS file/);
  } finally {
    sensor.child.kill('SIGINT');
    await sensor.exited;
  }
}, 60_000);
