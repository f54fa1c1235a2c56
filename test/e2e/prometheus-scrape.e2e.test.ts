/**
 * The gateway's /metrics as a real Prometheus server sees it: Debian's `prometheus` scrapes the gateway every
 * second while SDK calls flow sensor -> gateway, and its query API returns the counts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { stringify as toYaml } from 'yaml';
import { startMockProvider, type MockProvider } from '../../sensor/demo/mock-provider';
import { generateTestCertificates, type TestCertificates } from '../../sensor/demo/test-ca';
import { FAST_DELIVERY, runSdkApp, startGatewayProcess, startSensorProcess, waitFor, type ServiceProcess } from '../support/gateway-process';
import { createGatewayTransport } from '../support/gateway-transport';

jest.setTimeout(90_000);

const PROMETHEUS = '/usr/bin/prometheus';
const run = randomBytes(4).toString('hex');
const MODEL = `gpt-4o-prom${run}`;

let workDir: string;
let certs: TestCertificates;
let mock: MockProvider;
let gateway: ServiceProcess;
let sensor: ServiceProcess;
let prometheus: ChildProcess | undefined;
let prometheusLog = '';
let prometheusUrl: string;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(promql: string): Promise<VectorSample[]> {
  const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await response.json()) as { status: string; error?: string; data: { resultType: string; result: VectorSample[] } };
  if (body.status !== 'success') throw new Error(`prometheus query ${promql} failed: ${body.error}`);
  return body.data.result;
}

async function startPrometheus(target: string): Promise<void> {
  const dir = path.join(workDir, 'prometheus');
  fs.mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(
    configFile,
    toYaml({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      scrape_configs: [{ job_name: 'sightline-gateway', static_configs: [{ targets: [target] }] }],
    }),
  );
  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  prometheus = spawn(
    PROMETHEUS,
    [`--config.file=${configFile}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  prometheus.stderr!.on('data', (chunk) => (prometheusLog += chunk));
  await waitFor('prometheus /-/ready', async () => ((await fetch(`${prometheusUrl}/-/ready`)).status === 200 ? true : undefined), 30_000);
}

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-e2e-prometheus-'));
  certs = await generateTestCertificates(path.join(workDir, 'tls'));
  mock = await startMockProvider({ tls: { key: fs.readFileSync(certs.keyPath), cert: fs.readFileSync(certs.certPath) } });
  // Metrics only: no storage sink is needed to count calls.
  const transport = await createGatewayTransport(workDir);
  gateway = await startGatewayProcess({ workDir: path.join(workDir, 'gateway'), config: { exporters: { ...FAST_DELIVERY }, receiver: transport.gatewayReceiver } });
  sensor = await startSensorProcess({
    workDir: path.join(workDir, 'sensor'),
    dataDir: path.join(workDir, 'sensor-data'),
    otlpEndpoint: transport.endpoint(gateway.otlpPort),
    config: { exporters: { otlp: transport.sensorOtlp } },
  });
  await startPrometheus(`127.0.0.1:${gateway.healthPort}`);
});

afterAll(async () => {
  if (prometheus && prometheus.exitCode === null) {
    const exited = new Promise((resolve) => prometheus!.once('close', resolve));
    prometheus.kill('SIGTERM');
    await exited;
  }
  await sensor?.stop();
  await gateway?.stop();
  await mock?.close();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

test('prometheus scrapes the gateway and answers queries over the GenAI metrics', async () => {
  const prompts = ['Name a river in Spain', 'Name a river in Peru', 'Name a river in Chad'];
  const app = await runSdkApp(
    { workDir, mockUrl: mock.url, caCertPath: certs.caCertPath },
    prompts.map((prompt, i) => ({ api: i === 2 ? 'openai-stream' : 'openai', model: MODEL, prompt: `${prompt} ${run}` })),
  );
  const outputTokens = app.replies.reduce((sum, reply) => sum + reply.trim().split(/\s+/).length, 0);
  const inputTokens = prompts.reduce((sum, prompt) => sum + `${prompt} ${run}`.split(/\s+/).length, 0);
  const selector = `{gen_ai_request_model="${MODEL}"}`;

  const requests = await waitFor(
    'sightline_gen_ai_requests_total in prometheus',
    async () => {
      const result = await query(`sightline_gen_ai_requests_total${selector}`);
      return result.length > 0 && Number(result[0].value[1]) === 3 ? result : undefined;
    },
    30_000,
    500,
  ).catch((error: Error) => {
    throw new Error(`${error.message}\nprometheus log:\n${prometheusLog.slice(-2000)}`);
  });
  expect(requests).toHaveLength(1);
  expect(requests[0].metric).toMatchObject({
    __name__: 'sightline_gen_ai_requests_total',
    job: 'sightline-gateway',
    gen_ai_request_model: MODEL,
    gen_ai_system: 'openai',
    status_code: '200',
  });

  const targets = (await (await fetch(`${prometheusUrl}/api/v1/targets`)).json()) as {
    data: { activeTargets: Array<{ health: string; lastError: string; labels: Record<string, string> }> };
  };
  expect(targets.data.activeTargets.map((target) => [target.labels.job, target.health, target.lastError])).toEqual([['sightline-gateway', 'up', '']]);

  const scalar = async (promql: string) => {
    const result = await query(promql);
    expect(result).toHaveLength(1);
    return Number(result[0].value[1]);
  };
  expect(await scalar(`sum(sightline_gen_ai_response_usage_input_tokens${selector})`)).toBe(inputTokens);
  expect(await scalar(`sum(sightline_gen_ai_response_usage_output_tokens${selector})`)).toBe(outputTokens);
  expect(await scalar(`sum(gen_ai_client_operation_duration_seconds_count${selector})`)).toBe(3);
  expect(await scalar(`sum(gen_ai_client_token_usage_sum{gen_ai_request_model="${MODEL}",gen_ai_token_type="output"})`)).toBe(outputTokens);
  // The mock answers in milliseconds, so the median call falls in the lowest buckets; the point is that
  // histogram_quantile works over the exported le buckets.
  const median = await scalar(`histogram_quantile(0.5, sum by (le) (gen_ai_client_operation_duration_seconds_bucket${selector}))`);
  expect(median).toBeGreaterThan(0);
  expect(median).toBeLessThan(1);
});
