/**
 * Sensor to gateway over TLS with a cluster token, as deployed: the real `sightline sensor` captures official SDK
 * calls and ships them to the real `sightline gateway` (HTTPS with its own CA, a token directory). Spans and health
 * reports arrive; a sender without the token, with a wrong one, that does not trust the gateway's CA, or that speaks
 * plain HTTP gets nothing in, and the gateway counts each.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startMockProvider, type MockProvider } from '../../sensor/demo/mock-provider';
import { generateTestCertificates, type TestCertificates } from '../../sensor/demo/test-ca';
import { encodeOtlpProtobuf } from '../../sensor/exporters/otlp-spans';
import { healthReportSpan } from '../../sensor/span/health-report';
import { FAST_DELIVERY, runSdkApp, sampleValue, startGatewayProcess, startSensorProcess, waitFor, type ServiceProcess } from '../support/gateway-process';
import { createGatewayTransport, GATEWAY_SERVER_NAME, type GatewayTransport } from '../support/gateway-transport';
import { parseOtlpJsonLines } from '../support/sensor-process';

jest.setTimeout(90_000);

const run = randomBytes(4).toString('hex');
let workDir: string;
let providerCerts: TestCertificates;
let mock: MockProvider;
let transport: GatewayTransport;
let gateway: ServiceProcess;
let sensor: ServiceProcess;
let gatewaySpans: string;

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-e2e-transport-'));
  providerCerts = await generateTestCertificates(path.join(workDir, 'provider-tls'));
  mock = await startMockProvider({ tls: { key: fs.readFileSync(providerCerts.keyPath), cert: fs.readFileSync(providerCerts.certPath) } });
  transport = await createGatewayTransport(workDir, 'payments');
  gatewaySpans = path.join(workDir, 'gateway-spans.jsonl');
  gateway = await startGatewayProcess({
    workDir: path.join(workDir, 'gateway'),
    config: { exporters: { ...FAST_DELIVERY }, receiver: transport.gatewayReceiver },
    otlpFile: gatewaySpans,
  });
  sensor = await startSensorProcess({
    workDir: path.join(workDir, 'sensor'),
    dataDir: path.join(workDir, 'sensor-data'),
    otlpEndpoint: transport.endpoint(gateway.otlpPort),
    config: { server: { healthReportSeconds: 1 }, exporters: { otlp: transport.sensorOtlp } },
  });
});

afterAll(async () => {
  await sensor?.stop();
  await gateway?.stop();
  await mock?.close();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

/** One OTLP protobuf POST as any client would send it; resolves with the status, rejects on a transport failure. */
function post(module: typeof http | typeof https, options: https.RequestOptions, body: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = module.request(
      { host: '127.0.0.1', port: gateway.otlpPort, method: 'POST', path: '/v1/traces', agent: false, ...options, headers: { 'content-type': 'application/x-protobuf', ...options.headers } },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

const trusted = () => ({ ca: fs.readFileSync(transport.certificates.caCertPath), servername: GATEWAY_SERVER_NAME });
const rejected = async (reason: string) => sampleValue(await gateway.metrics(), 'sightline_receiver_rejected_requests_total', { reason }) ?? 0;

test('captured calls and health reports travel from the sensor to the gateway over TLS with the cluster token', async () => {
  expect(gateway.logs()).toMatch(/"msg":"gateway ready"/);
  expect(gateway.logs()).toMatch(/"tls":true,"auth":true/);
  const prompt = `Name a lighthouse ${run}-tls`;
  await runSdkApp({ workDir, mockUrl: mock.url, caCertPath: providerCerts.caCertPath }, [{ api: 'openai', model: 'gpt-4o-mini', prompt }]);
  const span = await waitFor('the captured call at the gateway', () => {
    const spans = fs.existsSync(gatewaySpans) ? parseOtlpJsonLines(fs.readFileSync(gatewaySpans, 'utf8')) : [];
    return spans.find((candidate) => String(candidate.attributes['gen_ai.input.messages'] ?? '').includes(`${run}-tls`));
  }, 30_000);
  expect(span.attributes['sightline.source']).toBe('ebpf');
  // Health reports arrive too, filed under the cluster whose token sent them.
  await waitFor('a sensor health report', async () => sampleValue(await gateway.metrics(), 'sightline_fleet_spool_bytes', { component: 'sensor' }));
  expect(await rejected('missing_token')).toBe(0);
  expect(await rejected('invalid_token')).toBe(0);
  expect(sensor.logs()).not.toContain(transport.token);
  expect(gateway.logs()).not.toContain(transport.token);
});

test('requests without the token or with a wrong one get 401 and are counted; a forged health report changes nothing', async () => {
  const forged = healthReportSpan({ droppedBytesSinceLastReport: 987_654_321, spoolBytes: 0 }, { 'host.name': 'intruder' });
  const body = encodeOtlpProtobuf([forged]);
  const dropsBefore = sampleValue(await gateway.metrics(), 'sightline_fleet_capture_dropped_bytes_total') ?? 0;

  expect(await post(https, trusted(), body)).toBe(401);
  // One character changed, never the same one (a fixed replacement would equal the token's own last character now and then).
  const last = transport.token.slice(-1);
  const oneCharOff = `${transport.token.slice(0, -1)}${last === 'A' ? 'B' : 'A'}`;
  expect(await post(https, { ...trusted(), headers: { authorization: `Bearer ${oneCharOff}` } }, body)).toBe(401);
  expect(await post(https, { ...trusted(), headers: { authorization: `Bearer ${transport.token}x` } }, body)).toBe(401);

  expect(await rejected('missing_token')).toBe(1);
  expect(await rejected('invalid_token')).toBe(2);
  expect(sampleValue(await gateway.metrics(), 'sightline_fleet_capture_dropped_bytes_total') ?? 0).toBe(dropsBefore);
  // The same report with the token is taken: the refusals above were about the credentials, not the body.
  expect(await post(https, { ...trusted(), headers: { authorization: `Bearer ${transport.token}` } }, body)).toBe(200);
  await waitFor('the authenticated report counted', async () =>
    (sampleValue(await gateway.metrics(), 'sightline_fleet_capture_dropped_bytes_total') ?? 0) >= dropsBefore + 987_654_321 ? true : undefined);
});

test('a client that does not trust the gateway CA cannot connect, plain HTTP is refused, and both are counted', async () => {
  const body = encodeOtlpProtobuf([healthReportSpan({ droppedBytesSinceLastReport: 1, spoolBytes: 0 }, {})]);
  const before = await rejected('tls_handshake');
  const headers = { authorization: `Bearer ${transport.token}` };
  await expect(post(https, { servername: GATEWAY_SERVER_NAME, headers }, body)).rejects.toThrow(/self[- ]signed|unable to (verify|get local issuer)/i);
  await expect(post(http, { headers }, body)).rejects.toThrow(/socket hang up|ECONNRESET|Parse Error/i);
  await waitFor('both handshake failures counted', async () => ((await rejected('tls_handshake')) >= before + 2 ? true : undefined), 5_000, 100);
});
