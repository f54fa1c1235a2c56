/**
 * Delivery survives outages: the gateway is stopped while applications keep calling (the sensor spools), and the
 * sensor itself is restarted while its spool holds undelivered spans. Every span reaches S3 exactly once.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startMockProvider, type MockProvider } from '../../sensor/demo/mock-provider';
import { generateTestCertificates, type TestCertificates } from '../../sensor/demo/test-ca';
import {
  runSdkApp,
  s3GatewayConfig,
  sampleValue,
  startGatewayProcess,
  startSensorProcess,
  waitFor,
  type SdkCall,
  type ServiceProcess,
} from '../support/gateway-process';
import { createGatewayTransport, type GatewayTransport } from '../support/gateway-transport';
import { S3RVER_ENV, startLocalS3, type LocalS3 } from '../support/s3-server';

jest.setTimeout(90_000);

const run = randomBytes(4).toString('hex');
const MODEL = `gpt-4o-mini-outage${run}`;

let workDir: string;
let certs: TestCertificates;
let mock: MockProvider;
let s3: LocalS3;
let gateway: ServiceProcess | undefined;
let sensor: ServiceProcess | undefined;
let gatewayPorts: { otlpPort: number; httpPort: number };
let transport: GatewayTransport;
const sensorDataDir = () => path.join(workDir, 'sensor-data');

async function startGateway(ports?: { otlpPort: number; httpPort: number }): Promise<ServiceProcess> {
  return startGatewayProcess({
    workDir: path.join(workDir, 'gateway'),
    config: { ...s3GatewayConfig(s3, path.join(workDir, 'gateway', 'spool')), receiver: transport.gatewayReceiver },
    env: S3RVER_ENV,
    ...ports,
  });
}

async function startSensor(): Promise<ServiceProcess> {
  return startSensorProcess({
    workDir: path.join(workDir, 'sensor'),
    dataDir: sensorDataDir(),
    otlpEndpoint: transport.endpoint(gatewayPorts.otlpPort),
    config: { exporters: { otlp: transport.sensorOtlp } },
  });
}

/** Calls whose prompts carry `call-<run>-<label>-<i>`, the id the rows are counted by. */
function calls(label: string, count: number): SdkCall[] {
  return Array.from({ length: count }, (_, i) => ({
    api: i % 3 === 2 ? 'openai-stream' : 'openai',
    model: MODEL,
    prompt: `Write a haiku about outages call-${run}-${label}-${i}`,
  }));
}

const idPattern = new RegExp(`call-${run}-([a-z]+-\\d+)`);

/** How many rows in S3 carry each prompt id of this run. */
async function rowsPerCallId(): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const row of await s3.rows('spans/')) {
    if (row.request_model !== MODEL) continue;
    const prompt = String((JSON.parse(row.attributes) as { span: Record<string, unknown> }).span['gen_ai.input.messages'] ?? '');
    const id = idPattern.exec(prompt)?.[1];
    if (id) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

function idsOf(label: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${label}-${i}`);
}

async function waitUntilDelivered(ids: string[], timeoutMs = 30_000): Promise<Map<string, number>> {
  return waitFor(`${ids.length} spans in S3`, async () => {
    const counts = await rowsPerCallId();
    return ids.every((id) => counts.has(id)) ? counts : undefined;
  }, timeoutMs, 500);
}

const app = (plan: SdkCall[]) => runSdkApp({ workDir, mockUrl: mock.url, caCertPath: certs.caCertPath }, plan);

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-e2e-outage-'));
  certs = await generateTestCertificates(path.join(workDir, 'tls'));
  transport = await createGatewayTransport(workDir);
  // A little latency per call spreads each burst over a second or more, so outages begin in the middle of it.
  mock = await startMockProvider({ tls: { key: fs.readFileSync(certs.keyPath), cert: fs.readFileSync(certs.certPath) }, latencyMs: 60 });
  s3 = await startLocalS3();
  gateway = await startGateway();
  gatewayPorts = { otlpPort: gateway.otlpPort, httpPort: gateway.healthPort };
  sensor = await startSensor();
});

afterAll(async () => {
  await sensor?.stop();
  await gateway?.stop();
  await s3?.close();
  await mock?.close();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

test('a gateway killed and restarted on the same ports loses and duplicates nothing the sensor captured meanwhile', async () => {
  await app(calls('warmup', 1));
  await waitUntilDelivered(['warmup-0']);

  // A crash, not a graceful stop: nothing of ours is in flight (the warm-up row is already in S3).
  await gateway!.stop('SIGKILL');
  gateway = undefined;
  await app(calls('down', 20));
  // The sensor keeps trying while the gateway is away.
  await waitFor('failed OTLP deliveries on the sensor', async () => {
    const failed = sampleValue(await sensor!.metrics(), 'sightline_exporter_failed_attempts_total', { exporter: 'otlp' }) ?? 0;
    return failed >= 3 ? failed : undefined;
  });
  const whileDown = await rowsPerCallId();
  expect(idsOf('down', 20).filter((id) => whileDown.has(id))).toEqual([]);

  gateway = await startGateway(gatewayPorts);
  expect({ otlpPort: gateway.otlpPort, httpPort: gateway.healthPort }).toEqual(gatewayPorts);
  const counts = await waitUntilDelivered(idsOf('down', 20));
  // Late duplicates would come from a resent batch: give a resend time to land before counting.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const settled = await rowsPerCallId();
  expect(idsOf('down', 20).map((id) => [id, settled.get(id)])).toEqual(idsOf('down', 20).map((id) => [id, 1]));
  expect(counts.get('warmup-0')).toBe(1);
  expect(settled.get('warmup-0')).toBe(1);
});

test('a sensor restarted while its spool holds undelivered spans hands them to the returning gateway exactly once', async () => {
  const llmCallsBefore = sampleValue(await sensor!.metrics(), 'sightline_llm_calls_total') ?? 0;
  const traffic = app(calls('before', 16));
  // A graceful stop in the middle of the burst: what the gateway accepted it flushes to S3, the rest the sensor keeps.
  await new Promise((resolve) => setTimeout(resolve, 400));
  expect(await gateway!.stop('SIGTERM')).toBe(0);
  gateway = undefined;
  await traffic;
  // Other processes on the host are traced too, so this only proves at least our calls were parsed.
  await waitFor('the sensor to parse the calls', async () =>
    (sampleValue(await sensor!.metrics(), 'sightline_llm_calls_total') ?? 0) >= llmCallsBefore + 16 ? true : undefined,
  );
  await new Promise((resolve) => setTimeout(resolve, 500)); // one batching delay and more: the spans are spooled

  // The gateway is down, so what is queued now is still queued when the sensor stops.
  expect(sampleValue(await sensor!.metrics(), 'sightline_exporter_queued_batches', { exporter: 'otlp' })).toBeGreaterThan(0);
  expect(await sensor!.stop('SIGTERM')).toBe(0);
  sensor = undefined;

  sensor = await startSensor();
  await app(calls('after', 5));
  const beforeReturn = await rowsPerCallId();
  expect([...beforeReturn.keys()].filter((id) => id.startsWith('after-'))).toEqual([]);
  // Some of the burst went through before the stop, not all of it.
  expect(idsOf('before', 16).filter((id) => !beforeReturn.has(id)).length).toBeGreaterThan(0);

  gateway = await startGateway(gatewayPorts);
  const expected = [...idsOf('before', 16), ...idsOf('after', 5)];
  await waitUntilDelivered(expected);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const settled = await rowsPerCallId();
  expect(expected.map((id) => [id, settled.get(id)])).toEqual(expected.map((id) => [id, 1]));
  // The earlier test's spans were acknowledged, so the new sensor must not have resent them.
  expect(idsOf('down', 20).every((id) => settled.get(id) === 1)).toBe(true);
});

test('an S3 outage in the middle of traffic: the gateway spools and delivers every span once S3 is back', async () => {
  const traffic = app(calls('sink', 20));
  await new Promise((resolve) => setTimeout(resolve, 300));
  await s3.stop();
  await traffic;
  await waitFor('failed S3 deliveries on the gateway', async () => {
    const failed = sampleValue(await gateway!.metrics(), 'sightline_exporter_failed_attempts_total', { exporter: 's3' }) ?? 0;
    return failed >= 2 ? failed : undefined;
  });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await s3.restart();

  const expected = idsOf('sink', 20);
  await waitUntilDelivered(expected);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const settled = await rowsPerCallId();
  expect(expected.map((id) => [id, settled.get(id)])).toEqual(expected.map((id) => [id, 1]));
});
