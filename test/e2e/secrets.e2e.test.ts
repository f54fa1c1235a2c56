/**
 * Secrets never leave the sensor, proven on what it writes: the compiled sensor runs with its eBPF probes, with no
 * privacy configuration; a node application started with its keys as one JSON argument (the reported leak) calls
 * the mock provider through the official openai SDK with a prompt that quotes credentials, and an instrumented
 * application sends a span with credentials in its attributes to the sensor's OTLP receiver. Neither the spans file
 * nor the sensor's log may hold any of them, while the calls are still there, readable.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { startMockProvider, type MockProvider } from '../../sensor/demo/mock-provider';
import { generateTestCertificates, type TestCertificates } from '../../sensor/demo/test-ca';
import { FAKE } from '../pipeline/secret-corpus';
import { startSensorProcess, type ExportedSpan, type SensorProcess } from '../support/sensor-process';
import { runProcess } from '../support/tls-clients';

const CLIENT = path.join(__dirname, 'clients', 'argv-keys-client.js');
const PROMPT = `AWS_SECRET_ACCESS_KEY=${FAKE.awsSecret} ${FAKE.anthropicKey} are mine; why does boto3 still say ${FAKE.awsTemporaryKeyId} is invalid?`;
/** What the app was started with: its keys in one JSON argument, as in the report. */
const SETTINGS = { openai: FAKE.openaiProjectKey, awsKeyId: FAKE.awsKeyId, awsSecret: FAKE.awsSecret, awsToken: FAKE.awsSessionToken };
const OTLP_SERVICE = 'secrets-e2e-instrumented-app';

const SECRETS = [
  FAKE.openaiProjectKey, FAKE.awsKeyId, FAKE.awsSecret, FAKE.awsSessionToken, FAKE.anthropicKey, FAKE.awsTemporaryKeyId,
  FAKE.password, FAKE.githubToken, FAKE.jwt, FAKE.huggingFaceToken,
];

/** Each secret as written, and as it reads once escaped in a JSON string (once or twice). */
function leaked(text: string): string[] {
  return SECRETS.filter((secret) => {
    const once = JSON.stringify(secret).slice(1, -1);
    return [secret, once, JSON.stringify(once).slice(1, -1)].some((spelling) => text.includes(spelling));
  });
}

let workDir: string;
let certs: TestCertificates;
let mock: MockProvider;
let sensor: SensorProcess;
let clientPid: number;
let captured: ExportedSpan;
let received: ExportedSpan;

function postOtlp(port: number, body: object): Promise<number> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, method: 'POST', path: '/v1/traces', headers: { 'Content-Type': 'application/json', 'Content-Length': payload.length } },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

const stringAttribute = (key: string, value: string) => ({ key, value: { stringValue: value } });

/** The sensor's OTLP port, from its `sensor ready` log line. */
function otlpPortOf(log: string): number {
  const ready = log.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line)).find((entry) => String(entry.msg).startsWith('sensor ready'));
  if (typeof ready?.otlpPort !== 'number') throw new Error(`no otlpPort in the sensor's ready line: ${log}`);
  return ready.otlpPort;
}

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-secrets-e2e-'));
  certs = await generateTestCertificates(path.join(workDir, 'tls'));
  mock = await startMockProvider({ tls: { key: fs.readFileSync(certs.keyPath), cert: fs.readFileSync(certs.certPath) } });
  // Debug logging, so that the check covers every line the sensor can write; no privacy configuration at all.
  sensor = await startSensorProcess({ env: { SIGHTLINE_LOG_LEVEL: 'debug' } });

  const argument = JSON.stringify({ ...SETTINGS, baseURL: `${mock.url}/v1`, caPath: certs.caCertPath, prompt: PROMPT });
  const run = await runProcess(process.execPath, [CLIENT, argument]);
  if (run.exitCode !== 0) throw new Error(`client failed (${run.exitCode}): ${run.stderr}`);
  const output = JSON.parse(run.stdout) as { pid: number; answer: string };
  expect(output.answer).toContain(FAKE.awsSecret); // the mock echoes the prompt's first words: the secret is in the response too
  clientPid = output.pid;
  [captured] = await sensor.waitForSpans(clientPid, 1);

  const now = BigInt(Date.now()) * 1_000_000n;
  const status = await postOtlp(otlpPortOf(sensor.stderr()), {
    resourceSpans: [{
      resource: {
        attributes: [
          stringAttribute('service.name', OTLP_SERVICE),
          stringAttribute('process.command_line', `python3 agent.py --hf-token ${FAKE.huggingFaceToken} --db-password=${FAKE.password}`),
        ],
      },
      scopeSpans: [{
        scope: { name: 'opentelemetry.instrumentation.openai' },
        spans: [{
          traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', name: 'chat gpt-4o', kind: 3,
          startTimeUnixNano: String(now), endTimeUnixNano: String(now + 1_000_000n),
          attributes: [
            stringAttribute('gen_ai.system', 'openai'),
            stringAttribute('gen_ai.request.model', 'gpt-4o'),
            stringAttribute('gen_ai.prompt.0.role', 'user'),
            stringAttribute('gen_ai.prompt.0.content', `Deploy with GITHUB_TOKEN=${FAKE.githubToken} and the header Authorization: Bearer ${FAKE.jwt}`),
            stringAttribute('app.openai_api_key', FAKE.openaiProjectKey),
          ],
        }],
      }],
    }],
  });
  expect(status).toBe(200);
  received = await waitForOtlpSpan();
}, 60_000);

async function waitForOtlpSpan(): Promise<ExportedSpan> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const span = sensor.readSpans().find((candidate) => candidate.resource['service.name'] === OTLP_SERVICE);
    if (span) return span;
    if (Date.now() > deadline) throw new Error('the span sent over OTLP never reached the spans file');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

afterAll(async () => {
  await sensor?.remove();
  await mock?.close();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

describe('secrets, end to end through the real sensor with no privacy config', () => {
  it('leaves none in the spans file or the log', async () => {
    await sensor.stop(); // flushes every exporter
    expect(leaked(fs.readFileSync(sensor.otlpFile, 'utf8'))).toEqual([]);
    expect(leaked(sensor.stderr())).toEqual([]);
  });

  it('keeps the captured call readable: the command line without its keys, the prompt and response around them', () => {
    const commandLine = String(captured.resource['process.command_line']);
    expect(commandLine).toContain(`${process.execPath} ${CLIENT} {`);
    expect(commandLine).toContain('"awsSecret":"<redacted>"');
    expect(commandLine).toContain('"awsKeyId":"<redacted>"');
    expect(captured.attributes['gen_ai.request.model']).toBe('gpt-4o-mini');
    const [prompt] = JSON.parse(String(captured.attributes['gen_ai.input.messages']));
    expect(prompt.parts[0].content).toBe('AWS_SECRET_ACCESS_KEY=<redacted> <redacted> are mine; why does boto3 still say <redacted> is invalid?');
    const [answer] = JSON.parse(String(captured.attributes['gen_ai.output.messages']));
    expect(answer.parts[0].content).toContain('AWS_SECRET_ACCESS_KEY=<redacted> <redacted>');
  });

  it('keeps the span received over OTLP readable, its credentials gone', () => {
    expect(received.resource['process.command_line']).toBe('python3 agent.py --hf-token <redacted> --db-password=<redacted>');
    expect(received.attributes['app.openai_api_key']).toBe('<redacted>');
    const [prompt] = JSON.parse(String(received.attributes['gen_ai.input.messages']));
    expect(prompt.parts[0].content).toBe('Deploy with GITHUB_TOKEN=<redacted> and the header Authorization: <redacted>');
  });
});
