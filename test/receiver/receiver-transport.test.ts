/**
 * The receiver's TLS and bearer tokens, as a sender meets them: real HTTPS clients over loopback, a certificate made
 * by openssl, and the Prometheus counters read back from the registry.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Registry } from 'prom-client';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { SpanKind } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SecretFileError } from '../../sensor/common/secret-file';
import { generateTestCertificates, type TestCertificates } from '../../sensor/demo/test-ca';
import { startOtlpReceiver, type RunningOtlpReceiver, type SenderIdentity } from '../../sensor/receiver/otlp-receiver';
import type { GenAiSpan } from '../../sensor/span/gen-ai-span';

const PAYMENTS_TOKEN = 'payments-token-0123456789abcdef';
const PREVIOUS_TOKEN = 'payments-previous-0123456789abcdef';

function otlpBody(): Buffer {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  provider.getTracer('t').startSpan('chat gpt-4o', { kind: SpanKind.CLIENT, attributes: { 'gen_ai.request.model': 'gpt-4o', 'gen_ai.system': 'openai' } }).end();
  return Buffer.from(ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans())!);
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(module: typeof http | typeof https, options: https.RequestOptions, body: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = module.request({ host: '127.0.0.1', method: 'POST', path: '/v1/traces', agent: false, ...options }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function rejectedSamples(registry: Registry): Promise<Record<string, number>> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'sightline_receiver_rejected_requests_total');
  return Object.fromEntries((metric?.values ?? []).map((value) => [String(value.labels.reason), value.value]));
}

describe('OTLP receiver transport: TLS and bearer tokens', () => {
  let dir: string;
  let certificates: TestCertificates;
  let tokensDir: string;
  let receiver: RunningOtlpReceiver | undefined;
  let registry: Registry;
  let received: Array<{ spans: GenAiSpan[]; sender: SenderIdentity }>;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-receiver-tls-'));
    certificates = await generateTestCertificates(path.join(dir, 'tls'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  beforeEach(() => {
    tokensDir = fs.mkdtempSync(path.join(dir, 'tokens-'));
    fs.writeFileSync(path.join(tokensDir, 'payments'), `${PAYMENTS_TOKEN}\n`);
    fs.writeFileSync(path.join(tokensDir, 'payments.previous'), PREVIOUS_TOKEN);
    registry = new Registry();
    received = [];
  });
  afterEach(async () => {
    await receiver?.close();
    receiver = undefined;
  });

  async function start(config: Record<string, unknown>): Promise<RunningOtlpReceiver> {
    receiver = await startOtlpReceiver({
      config: { host: '127.0.0.1', port: 0, ...config },
      registry,
      onSpans: (spans, sender) => void received.push({ spans, sender }),
    });
    return receiver;
  }

  const secured = () => start({ tls: { certFile: certificates.certPath, keyFile: certificates.keyPath }, auth: { tokensDir } });
  const trusted = () => ({ ca: fs.readFileSync(certificates.caCertPath), servername: 'localhost' });

  it('accepts spans over TLS with an accepted token and says which client sent them', async () => {
    const { port, tls } = await secured();
    expect(tls).toBe(true);
    const reply = await request(https, { port, ...trusted(), headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${PAYMENTS_TOKEN}` } }, otlpBody());
    expect(reply.status).toBe(200);
    expect(received).toHaveLength(1);
    expect(received[0].sender).toEqual({ client: 'payments' });
    expect(received[0].spans[0].name).toBe('chat gpt-4o');
  });

  it('accepts the token being rotated out, under its client name', async () => {
    const { port } = await secured();
    const reply = await request(https, { port, ...trusted(), headers: { 'content-type': 'application/x-protobuf', authorization: `bearer ${PREVIOUS_TOKEN}` } }, otlpBody());
    expect(reply.status).toBe(200);
    expect(received[0].sender).toEqual({ client: 'payments' });
  });

  it('answers 401 without a token or with a wrong one, counts each, and hands nothing on', async () => {
    const { port } = await secured();
    const missing = await request(https, { port, ...trusted(), headers: { 'content-type': 'application/x-protobuf' } }, otlpBody());
    const wrong = await request(https, { port, ...trusted(), headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${PAYMENTS_TOKEN}x` } }, otlpBody());
    const basic = await request(https, { port, ...trusted(), headers: { 'content-type': 'application/x-protobuf', authorization: `Basic ${Buffer.from(`u:${PAYMENTS_TOKEN}`).toString('base64')}` } }, otlpBody());
    expect([missing.status, wrong.status, basic.status]).toEqual([401, 401, 401]);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="sightline"');
    expect(wrong.headers['www-authenticate']).toBe('Bearer realm="sightline", error="invalid_token"');
    expect(received).toHaveLength(0);
    expect(await rejectedSamples(registry)).toEqual({ missing_token: 2, invalid_token: 1 });
    expect(receiver!.rejections).toMatchObject({ missingToken: 2, invalidToken: 1 });
  });

  it('refuses an unauthenticated request before reading its body', async () => {
    const { port } = await start({ auth: { tokensDir } });
    // Headers announce a large body that is never sent: the answer must come anyway, and the connection close.
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write('POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 10000000\r\n\r\n');
      });
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer).toMatch(/connection: close/i);
    expect(received).toHaveLength(0);
  });

  it('refuses a client that does not trust its certificate, and plain HTTP, and counts both', async () => {
    const { port } = await secured();
    const headers = { 'content-type': 'application/x-protobuf', authorization: `Bearer ${PAYMENTS_TOKEN}` };
    await expect(request(https, { port, servername: 'localhost', headers }, otlpBody())).rejects.toThrow(/self[- ]signed|unable to verify|unable to get local issuer/i);
    await expect(request(http, { port, headers }, otlpBody())).rejects.toThrow(/socket hang up|ECONNRESET|Parse Error|closed/i);
    expect(received).toHaveLength(0);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the server notes a failed handshake after the client gave up
    expect((await rejectedSamples(registry)).tls_handshake).toBe(2);
  });

  it('serves a renewed certificate to new connections without a restart', async () => {
    const live = path.join(dir, 'live-tls');
    fs.mkdirSync(live, { recursive: true });
    fs.copyFileSync(certificates.certPath, path.join(live, 'tls.crt'));
    fs.copyFileSync(certificates.keyPath, path.join(live, 'tls.key'));
    const { port } = await start({ tls: { certFile: path.join(live, 'tls.crt'), keyFile: path.join(live, 'tls.key') }, auth: { tokensDir } });
    const send = (ca: Buffer) => request(https, { port, ca, servername: 'localhost', headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${PAYMENTS_TOKEN}` } }, otlpBody());
    const renewed = await generateTestCertificates(path.join(dir, 'renewed-tls'));
    expect((await send(fs.readFileSync(certificates.caCertPath))).status).toBe(200);
    fs.copyFileSync(renewed.certPath, path.join(live, 'tls.crt'));
    fs.copyFileSync(renewed.keyPath, path.join(live, 'tls.key'));
    expect(receiver!.reloadCertificate()).toBe(true);
    expect((await send(fs.readFileSync(renewed.caCertPath))).status).toBe(200);
    await expect(send(fs.readFileSync(certificates.caCertPath))).rejects.toThrow(/self[- ]signed|unable to verify|unable to get local issuer/i);
  });

  it('stops at start with the key named when its certificate or tokens cannot be read', async () => {
    await expect(start({ tls: { certFile: path.join(dir, 'nope.pem'), keyFile: certificates.keyPath } })).rejects.toThrow(
      new SecretFileError(`receiver.tls.certFile: cannot read ${path.join(dir, 'nope.pem')} (ENOENT); mount the secret there or fix the path`),
    );
    await expect(start({ tls: { certFile: certificates.caCertPath, keyFile: certificates.keyPath } })).rejects.toThrow(/receiver\.tls\.certFile \/ receiver\.tls\.keyFile: .* are not a PEM certificate and its private key/);
    await expect(start({ auth: { tokensDir: path.join(dir, 'no-such-dir') } })).rejects.toThrow(`receiver.auth.tokensDir: cannot list ${path.join(dir, 'no-such-dir')} (ENOENT)`);
  });

  it('with no token yet, refuses everyone and says so', async () => {
    const empty = fs.mkdtempSync(path.join(dir, 'empty-'));
    const warnings: string[] = [];
    receiver = await startOtlpReceiver({
      config: { host: '127.0.0.1', port: 0, auth: { tokensDir: empty } },
      onSpans: (spans, sender) => void received.push({ spans, sender }),
      log: { warn: (message) => warnings.push(message), debug: () => undefined },
    });
    expect(warnings).toEqual([expect.stringMatching(/no client token in .*: every request is refused \(401\) until one is added/)]);
    const send = () => request(http, { port: receiver!.port, headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${PAYMENTS_TOKEN}` } }, otlpBody());
    expect((await send()).status).toBe(401);
    expect(received).toHaveLength(0);
  });
});
