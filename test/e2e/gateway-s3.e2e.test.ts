/**
 * The data plane on one box: applications call the local TLS mock provider through the official SDKs; the real
 * sensor captures the calls and ships them to the real gateway (`--otlp-endpoint`), which writes rows to an
 * S3-protocol server and serves Prometheus metrics.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomInt } from 'node:crypto';
import { startMockProvider, type MockProvider } from '../../sensor/demo/mock-provider';
import { generateTestCertificates, type TestCertificates } from '../../sensor/demo/test-ca';
import type { SpanRow } from '../../sensor/exporters/s3-exporter';
import { runSdkApp, s3GatewayConfig, sampleValue, startGatewayProcess, startSensorProcess, waitFor, type SdkCall, type ServiceProcess } from '../support/gateway-process';
import { createGatewayTransport } from '../support/gateway-transport';
import { S3RVER_ENV, startLocalS3, type LocalS3 } from '../support/s3-server';

jest.setTimeout(90_000);

const prices = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../sensor/pipeline/prices.json'), 'utf8')).models as Record<
  string,
  { input: number; output: number }
>;

// Model names unique to this run, so other traffic on the host (every node process is traced) never counts here;
// the price table matches by longest prefix, so they are priced as the model they extend.
// Eight digits: unique per run, and read by the price table as a dated snapshot of the model, so it is priced.
const run = String(randomInt(10_000_000, 100_000_000));
const MODELS = {
  openai: `gpt-4o-${run}`,
  anthropic: `claude-3-5-haiku-${run}`,
  bedrock: `anthropic.claude-3-haiku-${run}-v1:0`,
};

let workDir: string;
let certs: TestCertificates;
let mock: MockProvider;
let s3: LocalS3;
let gateway: ServiceProcess;
let sensor: ServiceProcess;

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-e2e-gateway-'));
  certs = await generateTestCertificates(path.join(workDir, 'tls'));
  mock = await startMockProvider({ tls: { key: fs.readFileSync(certs.keyPath), cert: fs.readFileSync(certs.certPath) } });
  s3 = await startLocalS3();
  const transport = await createGatewayTransport(workDir);
  gateway = await startGatewayProcess({
    workDir: path.join(workDir, 'gateway'),
    config: { ...s3GatewayConfig(s3, path.join(workDir, 'gateway', 'spool')), receiver: transport.gatewayReceiver },
    env: S3RVER_ENV,
  });
  sensor = await startSensorProcess({
    workDir: path.join(workDir, 'sensor'),
    dataDir: path.join(workDir, 'sensor', 'data'),
    otlpEndpoint: transport.endpoint(gateway.otlpPort),
    config: { server: { host: '127.0.0.1', httpPort: 0, healthReportSeconds: 1 }, exporters: { otlp: transport.sensorOtlp } },
  });
});

afterAll(async () => {
  await sensor?.stop();
  await gateway?.stop();
  await s3?.close();
  await mock?.close();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

const words = (text: string) => text.trim().split(/\s+/).length;
type StoredRow = SpanRow & { objectKey: string };
const promptOf = (row: SpanRow) => String((JSON.parse(row.attributes) as { span: Record<string, unknown> }).span['gen_ai.input.messages'] ?? '');
const rowFor = (rows: StoredRow[], token: string) => rows.filter((row) => promptOf(row).includes(token));

test('official SDK calls arrive in S3 as priced rows and in the gateway /metrics', async () => {
  const calls: SdkCall[] = [
    { api: 'openai', model: MODELS.openai, prompt: `Describe the harbour at dawn ${run}-plain` },
    { api: 'openai-stream', model: MODELS.openai, prompt: `Describe the lighthouse keeper ${run}-stream` },
    { api: 'anthropic', model: MODELS.anthropic, prompt: `Summarise the tide tables ${run}-anthropic` },
    { api: 'bedrock-converse', model: MODELS.bedrock, prompt: `List three coastal birds ${run}-bedrock` },
  ];
  const app = await runSdkApp({ workDir, mockUrl: mock.url, caCertPath: certs.caCertPath }, calls);
  const tokens = calls.map((call) => call.prompt.split(' ').pop()!);

  const rows = await waitFor('all four spans in S3', async () => {
    const all = await s3.rows('spans/');
    return tokens.every((token) => rowFor(all, token).length > 0) ? all : undefined;
  }, 30_000, 500);

  const expected = [
    { provider: 'openai', model: MODELS.openai, price: prices['gpt-4o'] },
    { provider: 'openai', model: MODELS.openai, price: prices['gpt-4o'] },
    { provider: 'anthropic', model: MODELS.anthropic, price: prices['claude-3-5-haiku'] },
    { provider: 'aws.bedrock', model: MODELS.bedrock, price: prices['anthropic.claude-3-haiku'] },
  ];
  calls.forEach((call, i) => {
    const matching = rowFor(rows, tokens[i]);
    expect(matching).toHaveLength(1);
    const row = matching[0];
    const inputTokens = words(call.prompt);
    const outputTokens = words(app.replies[i]);
    expect(row).toMatchObject({
      provider: expected[i].provider,
      operation: 'chat',
      request_model: expected[i].model,
      input_tokens: inputTokens,
      output_tokens: outputTokens,
      total_tokens: inputTokens + outputTokens,
      status_code: 200,
      error_type: null,
      source: 'ebpf',
    });
    expect(row.cost_usd).toBeCloseTo((inputTokens * expected[i].price.input + outputTokens * expected[i].price.output) / 1e6, 12);
    expect(row.objectKey).toMatch(/^spans\/dt=\d{4}-\d{2}-\d{2}\/hour=\d{2}\/[^/]+\.jsonl\.gz$/);
    const attributes = JSON.parse(row.attributes) as { resource: Record<string, unknown>; span: Record<string, unknown> };
    expect(attributes.resource['process.pid']).toBe(app.pid);
    expect(row.attributes).not.toMatch(/sk-test-not-a-key|sk-ant-test-not-a-key|AKIDEXAMPLE|not-a-secret/);
  });

  const metrics = await gateway.metrics();
  const byModel = (model: string) => ({ gen_ai_request_model: model });
  expect(sampleValue(metrics, 'sightline_gen_ai_requests_total', byModel(MODELS.openai))).toBe(2);
  expect(sampleValue(metrics, 'sightline_gen_ai_requests_total', byModel(MODELS.anthropic))).toBe(1);
  expect(sampleValue(metrics, 'sightline_gen_ai_requests_total', byModel(MODELS.bedrock))).toBe(1);
  const openaiRows = rowFor(rows, tokens[0]).concat(rowFor(rows, tokens[1]));
  expect(sampleValue(metrics, 'sightline_gen_ai_response_usage_input_tokens', byModel(MODELS.openai))).toBe(
    openaiRows.reduce((sum, row) => sum + row.input_tokens!, 0),
  );
  expect(sampleValue(metrics, 'sightline_gen_ai_response_usage_output_tokens', byModel(MODELS.bedrock))).toBe(words(app.replies[3]));
  expect(sampleValue(metrics, 'gen_ai_client_token_usage_count', { gen_ai_request_model: MODELS.anthropic, gen_ai_token_type: 'input' })).toBe(1);
  expect(sampleValue(metrics, 'gen_ai_client_operation_duration_seconds_count', { gen_ai_request_model: MODELS.openai, gen_ai_provider_name: 'openai' })).toBe(2);
  expect(sampleValue(metrics, 'gen_ai_client_operation_duration_seconds_bucket', { gen_ai_request_model: MODELS.openai, le: '+Inf' })).toBe(2);
  expect(sampleValue(metrics, 'sightline_gen_ai_cost_usd_total', byModel(MODELS.openai))).toBeCloseTo(
    openaiRows.reduce((sum, row) => sum + row.cost_usd!, 0),
    12,
  );
  expect(sampleValue(metrics, 'sightline_exporter_items_total', { exporter: 's3', outcome: 'delivered' })).toBeGreaterThanOrEqual(4);
});

test('the sensor reports its health to the gateway, which serves it for the fleet health alarms', async () => {
  const metrics = await waitFor('a sensor health report at the gateway', async () => {
    const text = await gateway.metrics();
    return sampleValue(text, 'sightline_fleet_spool_bytes', { component: 'sensor' }) !== undefined ? text : undefined;
  }, 15_000);
  expect(sampleValue(metrics, 'sightline_fleet_capture_dropped_bytes_total')).toBeGreaterThanOrEqual(0);
  expect(sampleValue(metrics, 'sightline_fleet_spool_bytes', { component: 'gateway' })).toBeGreaterThanOrEqual(0);
  // Health reports are not LLM calls: nothing of them reaches the span bucket or the call metrics.
  expect(metrics).not.toContain('sightline.sensor.health');
});
