/**
 * What the container image runs, proven without a Docker engine: the runtime directory the Dockerfile copies
 * (scripts/bundle-runtime.ts) is built into a directory with no node_modules anywhere above it, and the sensor and
 * the gateway run from it on this machine's Node.js (20.19+, the oldest the bundle targets).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bundleRuntime, LAZY_PACKAGES, type RuntimeBundle } from '../../scripts/bundle-runtime';
import { startGatewayProcess, startSensorProcess, waitFor, type CliLocation } from '../support/gateway-process';
import { S3RVER_ENV, startLocalS3, type LocalS3 } from '../support/s3-server';
import { execFileSync } from 'node:child_process';
import { GO_RAW_CLIENT, buildGoProgram } from '../support/go-programs';
import { LineProcess } from '../support/line-process';

jest.setTimeout(120_000);

let workDir: string;
let bundle: RuntimeBundle;
let location: CliLocation;
let s3: LocalS3 | undefined;

/** Only what a process needs: no NODE_PATH, no npm configuration leaking the repository's modules in. */
const bareEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: workDir, ...extra });

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-image-'));
  bundle = await bundleRuntime(path.join(workDir, 'opt-sightline'));
  location = { cli: path.join(bundle.dir, 'dist', 'sightline.js'), cwd: bundle.dir, replaceEnv: true };
});

afterAll(async () => {
  await s3?.close();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

test('the runtime directory holds the bundle, the addon and the BPF objects, and no node_modules above or inside it', () => {
  expect(bundle.files.map((file) => file.path).filter((file) => !file.endsWith('.LEGAL.txt'))).toEqual([
    'bpf/addon/build/Release/sightline_bpf.node',
    'bpf/build/process_lifecycle.bpf.o',
    'bpf/build/tls_capture_session.bpf.o',
    'bpf/build/tls_capture.bpf.o',
    'dist/sightline.js',
    'dist/vendor/aws-sdk-client-cloudwatch.js',
    'dist/vendor/aws-sdk-client-s3.js',
    'dist/vendor/aws-sdk-client-secrets-manager.js',
    'dist/vendor/aws-sdk-client-timestream-write.js',
    'dist/vendor/iced_x86_bg.wasm',
    'dist/vendor/iced-x86.js',
    'dist/vendor/kubernetes-client-node.js',
    'package.json',
  ]);
  for (let dir = bundle.dir; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    expect(fs.existsSync(path.join(dir, 'node_modules'))).toBe(false);
  }
  // The storage and Kubernetes clients sit in their own files, parsed only by a process that uses them.
  expect([...bundle.packages.keys()]).toEqual(expect.arrayContaining(['commander', 'pino', 'prom-client', 'zod', 'yaml']));
  expect([...bundle.packages.keys()].filter((name) => (LAZY_PACKAGES as readonly string[]).includes(name))).toEqual([]);
  expect([...bundle.vendorPackages.keys()]).toEqual(expect.arrayContaining([...LAZY_PACKAGES]));
  // The CDK app is in neither.
  expect([...bundle.packages.keys(), ...bundle.vendorPackages.keys()].filter((name) => /cdk|^constructs$/.test(name))).toEqual([]);
});

test('`sightline --help` runs from the bundle on this Node.js', () => {
  const [major, minor] = process.versions.node.split('.').map(Number);
  expect(major > 20 || (major === 20 && minor >= 19)).toBe(true);
  const help = execFileSync(process.execPath, [location.cli, '--help'], { cwd: bundle.dir, env: bareEnv(), encoding: 'utf8' });
  expect(help).toMatch(/sensor \[options\]/);
  expect(help).toMatch(/gateway \[options\]/);
});

test('the bundled gateway receives OTLP/JSON and writes the span to S3 and to its OTLP file', async () => {
  s3 = await startLocalS3();
  const otlpFile = path.join(workDir, 'gateway-spans.jsonl');
  const gateway = await startGatewayProcess({
    workDir: path.join(workDir, 'gateway'),
    config: {
      exporters: {
        s3: { enabled: true, bucket: s3.bucket, endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', maxWaitSeconds: 1 },
        spool: { dir: path.join(workDir, 'gateway', 'spool') },
        batching: { maxDelayMs: 200 },
      },
    },
    otlpFile,
    env: bareEnv(S3RVER_ENV),
    location,
  });
  try {
    const span = {
      traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b173', name: 'chat gpt-4o', kind: 3,
      startTimeUnixNano: String(BigInt(Date.now() - 500) * 1_000_000n), endTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
      attributes: [
        { key: 'gen_ai.provider.name', value: { stringValue: 'openai' } },
        { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
        { key: 'gen_ai.request.model', value: { stringValue: 'gpt-4o' } },
        { key: 'gen_ai.usage.input_tokens', value: { intValue: '12' } },
      ],
    };
    const reply = await fetch(`http://127.0.0.1:${gateway.otlpPort}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ spans: [span] }] }] }),
    });
    expect(reply.status).toBe(200);
    const rows = await waitFor('the span row in S3', async () => {
      const found = await s3!.rows();
      return found.length > 0 ? found : undefined;
    });
    expect(rows.map((row) => [row.span_id, row.request_model, row.input_tokens])).toEqual([['eee19b7ec3c1b173', 'gpt-4o', 12]]);
    const lines = await waitFor('the OTLP file line', () => (fs.existsSync(otlpFile) && fs.readFileSync(otlpFile, 'utf8').trim() !== '' ? fs.readFileSync(otlpFile, 'utf8') : undefined));
    expect(lines).toContain('eee19b7ec3c1b173');
    expect(gateway.logs()).not.toMatch(/Cannot find module/);
  } finally {
    expect(await gateway.stop()).toBe(0);
  }
});

test('the bundled sensor finds the addon and the BPF objects in the image layout and attaches its probes, to Go programs too', async () => {
  // A Go program already running: the sensor decodes its machine code with iced-x86, whose WebAssembly the bundle
  // must carry next to the vendor file that loads it.
  const goClient = new LineProcess(buildGoProgram(workDir, 'bundle-go-client', GO_RAW_CLIENT, { stripped: true }), ['/dev/null', '1']);
  await goClient.lines(1);
  const sensor = await startSensorProcess({
    workDir: path.join(workDir, 'sensor'),
    dataDir: path.join(workDir, 'sensor', 'data'),
    // Nothing listens there; the sensor spools what it would send.
    otlpEndpoint: 'http://127.0.0.1:9',
    env: bareEnv(),
    location,
  });
  try {
    // Ready means the BPF objects loaded and the probes attached (startSensor reports it only then).
    expect((await fetch(`http://127.0.0.1:${sensor.healthPort}/readyz`)).status).toBe(200);
    expect(sensor.logs()).toMatch(/sensor ready: probes attached to [1-9]\d* TLS file/);
    expect(sensor.logs()).toContain(`${path.join(workDir, 'bundle-go-client')} (Go crypto/tls`);
    expect(sensor.logs()).not.toMatch(/is not probed|Cannot find module|ENOENT/);
  } finally {
    expect(await sensor.stop()).toBe(0);
    goClient.child.kill('SIGKILL');
  }
});
