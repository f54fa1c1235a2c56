/**
 * The sensor's side of the transport to the gateway: TLS verified against the gateway's CA, a bearer token from a
 * file, and what happens when either is wrong. Against the real receiver over loopback.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BatchingExporter } from '../../sensor/exporters/batching-exporter';
import { createExporters } from '../../sensor/exporters/create-exporters';
import { exportersConfigSchema } from '../../sensor/exporters/config';
import { OtlpHttpExporter } from '../../sensor/exporters/otlp-http-exporter';
import { otlpProtobufBatchCodec } from '../../sensor/exporters/otlp-spans';
import { MemoryQueue } from '../../sensor/exporters/spool';
import { watchToken } from '../../sensor/common/secret-file';
import { generateTestCertificates, type TestCertificates } from '../../sensor/demo/test-ca';
import { startOtlpReceiver, type RunningOtlpReceiver, type SenderIdentity } from '../../sensor/receiver/otlp-receiver';
import type { GenAiSpan } from '../../sensor/span/gen-ai-span';
import { genAiSpan } from './span-fixture';

const TOKEN = 'sensor-token-0123456789abcdef0123';
const OTHER_TOKEN = 'another-token-0123456789abcdef0123';
/** The gateway certificate's name, as the sensor chart asks for it whatever the endpoint's host. */
const GATEWAY_NAME = 'sightline-gateway.sightline.svc';

let dir: string;
let certificates: TestCertificates;
let receiver: RunningOtlpReceiver;
let received: Array<{ spans: GenAiSpan[]; sender: SenderIdentity }>;
let tokenFile: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-otlp-tls-'));
  certificates = await generateTestCertificates(path.join(dir, 'tls'), { hostNames: [GATEWAY_NAME] });
  const tokensDir = path.join(dir, 'tokens');
  fs.mkdirSync(tokensDir);
  fs.writeFileSync(path.join(tokensDir, 'payments'), TOKEN);
  receiver = await startOtlpReceiver({
    config: { host: '127.0.0.1', port: 0, tls: { certFile: certificates.certPath, keyFile: certificates.keyPath }, auth: { tokensDir } },
    onSpans: (spans, sender) => void received.push({ spans, sender }),
  });
});
afterAll(async () => {
  await receiver.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  received = [];
  tokenFile = path.join(dir, `token-${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(tokenFile, `${TOKEN}\n`);
});

/** The endpoint by IP, as a VPC endpoint's name would be: the certificate does not carry it. */
const endpoint = () => `https://127.0.0.1:${receiver.port}`;
const ca = () => fs.readFileSync(certificates.caCertPath);

describe('OtlpHttpExporter over TLS with a bearer token', () => {
  it('delivers to a gateway whose certificate names serverName, signed by the given CA, with the token of its file', async () => {
    const exporter = new OtlpHttpExporter({ endpoint: endpoint(), ca: ca(), serverName: GATEWAY_NAME, bearerToken: watchToken(tokenFile, 'exporters.otlp.auth.tokenFile') });
    await exporter.export([genAiSpan({ index: 1 })]);
    await exporter.shutdown();
    expect(received).toHaveLength(1);
    expect(received[0].sender).toEqual({ client: 'payments' });
    expect(received[0].spans[0].spanId).toBe(genAiSpan({ index: 1 }).spanId);
  });

  it('refuses a gateway it cannot verify, saying what to check', async () => {
    const untrusting = new OtlpHttpExporter({ endpoint: endpoint(), serverName: GATEWAY_NAME, bearerToken: watchToken(tokenFile, 'k') });
    await expect(untrusting.export([genAiSpan()])).rejects.toThrow(/TLS to https:\/\/127\.0\.0\.1:\d+\/v1\/traces failed \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\): .*exporters\.otlp\.tls\.caFile/);
    const wrongName = new OtlpHttpExporter({ endpoint: endpoint(), ca: ca(), serverName: 'somebody-else.example', bearerToken: watchToken(tokenFile, 'k') });
    await expect(wrongName.export([genAiSpan()])).rejects.toThrow(/\(ERR_TLS_CERT_ALTNAME_INVALID\)/);
    await Promise.all([untrusting.shutdown(), wrongName.shutdown()]);
    expect(received).toHaveLength(0);
  });

  it('keeps the spans when the token is refused, never logs the token, and sends a rotated token from its file', async () => {
    fs.writeFileSync(tokenFile, OTHER_TOKEN);
    const logged: string[] = [];
    const logger = { warn: (object: object, message?: string) => void logged.push(JSON.stringify(object) + (message ?? '')), error: (object: object, message?: string) => void logged.push(JSON.stringify(object) + (message ?? '')) };
    const sink = new OtlpHttpExporter({ endpoint: endpoint(), ca: ca(), serverName: GATEWAY_NAME, bearerToken: watchToken(tokenFile, 'k', { recheckMs: 60_000 }), logger });
    const delivery = new BatchingExporter<GenAiSpan>({
      sink,
      codec: otlpProtobufBatchCodec,
      queue: new MemoryQueue(1024 * 1024),
      batching: { maxBatch: 10, maxDelayMs: 10 },
      retry: { initialDelayMs: 20, maxDelayMs: 50 },
      logger,
    });
    await delivery.export([genAiSpan({ index: 2 })]);
    await waitUntil(() => logged.some((line) => line.includes('HTTP 401')));
    expect(received).toHaveLength(0);
    expect(logged.find((line) => line.includes('HTTP 401'))).toContain('refused the token of exporters.otlp.auth.tokenFile; the spans stay spooled and are retried');

    // The rotation: the file gets the accepted token; the refusal makes the exporter look at the file again at once.
    fs.writeFileSync(tokenFile, TOKEN);
    await waitUntil(() => received.length === 1);
    await delivery.shutdown(1000);
    expect(received[0].spans[0].spanId).toBe(genAiSpan({ index: 2 }).spanId);
    expect(logged.join('\n')).not.toContain(OTHER_TOKEN);
    expect(logged.join('\n')).not.toContain(TOKEN);
  });

  it('will not send a token, a CA or a server name to a plain http endpoint', () => {
    expect(() => new OtlpHttpExporter({ endpoint: 'http://gateway:4318', bearerToken: watchToken(tokenFile, 'k') })).toThrow('OTLP exporter: http://gateway:4318/v1/traces is not https');
  });
});

describe('exporters.otlp configuration', () => {
  const parse = (otlp: Record<string, unknown>) => exportersConfigSchema.safeParse({ otlp: { enabled: true, ...otlp } });
  const messages = (result: ReturnType<typeof parse>) => (result.success ? [] : result.error.issues.map((issue) => issue.message));

  it('refuses a token, a CA or a server name with a plain http endpoint, and a token inline in headers', () => {
    expect(messages(parse({ endpoint: 'http://gateway:4318', auth: { tokenFile: '/run/token' }, tls: { caFile: '/run/ca.pem', serverName: 'gw' } }))).toEqual([
      'exporters.otlp.auth.tokenFile needs an https endpoint, but exporters.otlp.endpoint is http:',
      'exporters.otlp.tls.caFile needs an https endpoint, but exporters.otlp.endpoint is http:',
      'exporters.otlp.tls.serverName needs an https endpoint, but exporters.otlp.endpoint is http:',
    ]);
    expect(messages(parse({ endpoint: 'https://gateway:4318', headers: { Authorization: `Bearer ${TOKEN}` } }))).toEqual([
      expect.stringMatching(/^exporters\.otlp\.headers must not hold Authorization: .* exporters\.otlp\.auth\.tokenFile$/),
    ]);
    expect(parse({ endpoint: 'https://gateway:4318', auth: { tokenFile: '/run/token' }, tls: { caFile: '/run/ca.pem' } }).success).toBe(true);
  });

  it('stops at start, naming the key, when the CA or token file cannot be read', () => {
    const config = (otlp: Record<string, unknown>) => exportersConfigSchema.parse({ otlp: { enabled: true, endpoint: 'https://gateway:4318', ...otlp } });
    expect(() => createExporters(config({ tls: { caFile: path.join(dir, 'missing-ca.pem') } }))).toThrow(`exporters.otlp.tls.caFile: cannot read ${path.join(dir, 'missing-ca.pem')} (ENOENT)`);
    fs.writeFileSync(tokenFile, 'short');
    expect(() => createExporters(config({ auth: { tokenFile } }))).toThrow(/exporters\.otlp\.auth\.tokenFile: .* holds a token of 5 characters/);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
