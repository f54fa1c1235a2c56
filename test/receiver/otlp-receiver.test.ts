import * as http from 'node:http';
import { gzipSync } from 'node:zlib';
import { SpanKind, SpanStatusCode, type Attributes as OtelAttributes } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import * as protobuf from 'protobufjs';
import { decodeTraceResponse } from '../../sensor/receiver/otlp-codec';
import { startOtlpReceiver, type RunningOtlpReceiver } from '../../sensor/receiver/otlp-receiver';
import type { GenAiSpan } from '../../sensor/span/gen-ai-span';

const CHAT_ATTRIBUTES: OtelAttributes = {
  'gen_ai.operation.name': 'chat',
  'gen_ai.system': 'openai',
  'gen_ai.request.model': 'gpt-4o-mini',
  'gen_ai.usage.input_tokens': 21,
  'gen_ai.usage.output_tokens': 7,
  'gen_ai.response.finish_reasons': ['stop'],
  'server.address': 'api.openai.com',
  'http.request.header.authorization': ['Bearer sk-should-never-arrive'],
};

/** Real SDK spans, so the request bodies come from the official OTLP serialisers. */
function sdkSpans(spans: Array<{ name: string; attributes: OtelAttributes; error?: boolean }>): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout-api', 'k8s.namespace.name': 'shop' }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('test-instrumentation', '1.2.3');
  for (const { name, attributes, error } of spans) {
    const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes, startTime: [1_760_000_000, 5_000] });
    if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: 'rate limited' });
    span.end([1_760_000_001, 250_000_000]);
  }
  return exporter.getFinishedSpans();
}

/** google.rpc.Status per its published definition, independent of the receiver's own copy. */
function decodeRpcStatusMessage(body: Buffer): string {
  const type = protobuf.parse('syntax = "proto3"; message Status { int32 code = 1; string message = 2; }').root.lookupType('Status');
  return (type.decode(body) as unknown as { message: string }).message;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function post(port: number, body: Buffer, headers: http.OutgoingHttpHeaders, method = 'POST', path = '/v1/traces'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const allHeaders: http.OutgoingHttpHeaders = { 'Content-Length': body.length, ...headers };
    if (headers['Transfer-Encoding'] === 'chunked') delete allHeaders['Content-Length'];
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: allHeaders }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('OTLP/HTTP receiver', () => {
  let receiver: RunningOtlpReceiver;
  let received: GenAiSpan[][];
  let onSpans: (spans: GenAiSpan[]) => Promise<void>;

  async function start(config: Record<string, unknown> = {}): Promise<void> {
    receiver = await startOtlpReceiver({ config: { host: '127.0.0.1', port: 0, ...config }, onSpans: (spans) => onSpans(spans) });
  }

  beforeEach(() => {
    received = [];
    onSpans = async (spans) => {
      received.push(spans);
    };
  });
  afterEach(async () => {
    await receiver?.close();
  });

  it('accepts protobuf from the official serialiser and replies with an ExportTraceServiceResponse', async () => {
    await start();
    const [sdkSpan] = sdkSpans([{ name: 'chat gpt-4o-mini', attributes: CHAT_ATTRIBUTES, error: true }]);
    const body = Buffer.from(ProtobufTraceSerializer.serializeRequest([sdkSpan])!);
    const reply = await post(receiver.port, body, { 'Content-Type': 'application/x-protobuf' });

    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/x-protobuf');
    expect(decodeTraceResponse(reply.body)).toEqual({ rejectedSpans: 0 });
    expect(received).toHaveLength(1);
    const [span] = received[0];
    expect(span.traceId).toBe(sdkSpan.spanContext().traceId);
    expect(span.spanId).toBe(sdkSpan.spanContext().spanId);
    expect(span.parentSpanId).toBeUndefined();
    expect(span.name).toBe('chat gpt-4o-mini');
    expect(span.kind).toBe('client');
    expect(span.startTimeUnixNano).toBe(1_760_000_000_000_005_000n);
    expect(span.endTimeUnixNano).toBe(1_760_000_001_250_000_000n);
    expect(span.status).toEqual({ code: 'error', message: 'rate limited' });
    expect(span.source).toBe('otlp');
    expect(span.resource).toMatchObject({ 'service.name': 'checkout-api', 'k8s.namespace.name': 'shop' });
    expect(span.attributes).toMatchObject({
      'gen_ai.system': 'openai',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.usage.input_tokens': 21,
      'gen_ai.response.usage.input_tokens': 21,
      'gen_ai.usage.output_tokens': 7,
      'gen_ai.response.usage.output_tokens': 7,
      'gen_ai.response.usage.total_tokens': 28,
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.response.finish_reason': 'stop',
      'error.type': '_OTHER',
      'otel.scope.name': 'test-instrumentation',
      'otel.scope.version': '1.2.3',
      'sightline.client': 'checkout-api',
      'sightline.server': 'api.openai.com',
    });
    expect(span.attributes['http.request.header.authorization']).toBeUndefined();
  });

  it('accepts OTLP/JSON from the official serialiser with the same result as protobuf', async () => {
    await start();
    const spans = sdkSpans([{ name: 'chat gpt-4o-mini', attributes: CHAT_ATTRIBUTES }]);
    const protobufReply = await post(receiver.port, Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!), { 'Content-Type': 'application/x-protobuf' });
    const jsonReply = await post(receiver.port, Buffer.from(JsonTraceSerializer.serializeRequest(spans)!), { 'Content-Type': 'application/json; charset=utf-8' });
    expect([protobufReply.status, jsonReply.status]).toEqual([200, 200]);
    expect(jsonReply.headers['content-type']).toBe('application/json');
    expect(JSON.parse(jsonReply.body.toString())).toEqual({});
    expect(received).toHaveLength(2);
    expect(received[1]).toEqual(received[0]);
  });

  it('accepts gzip-compressed bodies', async () => {
    await start();
    const spans = sdkSpans([{ name: 'chat a', attributes: CHAT_ATTRIBUTES }, { name: 'chat b', attributes: CHAT_ATTRIBUTES }]);
    const body = gzipSync(Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!));
    const reply = await post(receiver.port, body, { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'gzip' });
    expect(reply.status).toBe(200);
    expect(received[0].map((span) => span.name)).toEqual(['chat a', 'chat b']);
  });

  it('answers 413 for a body over the limit, compressed or decompressed', async () => {
    await start({ maxBodyBytes: 4096 });
    const tooLarge = await post(receiver.port, Buffer.alloc(8192, 1), { 'Content-Type': 'application/x-protobuf' });
    expect(tooLarge.status).toBe(413);
    const streamed = await post(receiver.port, Buffer.alloc(8192, 1), { 'Content-Type': 'application/x-protobuf', 'Transfer-Encoding': 'chunked' });
    expect(streamed.status).toBe(413);
    expect(decodeRpcStatusMessage(streamed.body)).toContain('exceeds the limit of 4096 bytes');

    const bomb = gzipSync(Buffer.from(JSON.stringify({ resourceSpans: [], padding: ' '.repeat(100_000) })));
    expect(bomb.length).toBeLessThan(4096);
    const inflated = await post(receiver.port, bomb, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
    expect(inflated.status).toBe(413);
    expect(JSON.parse(inflated.body.toString()).message).toContain('decompressed request body exceeds the limit of 4096 bytes');
    expect(received).toEqual([]);
  });

  it('answers 400 with a clear message for garbage', async () => {
    await start();
    const protobuf = await post(receiver.port, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]), { 'Content-Type': 'application/x-protobuf' });
    expect(protobuf.status).toBe(400);
    const json = await post(receiver.port, Buffer.from('{"resourceSpans": ['), { 'Content-Type': 'application/json' });
    expect(json.status).toBe(400);
    expect(JSON.parse(json.body.toString())).toMatchObject({ code: 3, message: expect.stringContaining('not valid JSON') });
    const shape = await post(receiver.port, Buffer.from('{"resourceSpans": 7}'), { 'Content-Type': 'application/json' });
    expect(shape.status).toBe(400);
    expect(JSON.parse(shape.body.toString()).message).toBe('resourceSpans must be an array');
    const gzip = await post(receiver.port, Buffer.from('not gzip'), { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
    expect(gzip.status).toBe(400);
    expect(received).toEqual([]);
  });

  it('answers 404, 405 and 415 for the wrong path, method and media type', async () => {
    await start();
    expect((await post(receiver.port, Buffer.from('{}'), { 'Content-Type': 'application/json' }, 'POST', '/v1/metrics')).status).toBe(404);
    const get = await post(receiver.port, Buffer.alloc(0), {}, 'GET');
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    const text = await post(receiver.port, Buffer.from('hello'), { 'Content-Type': 'text/plain' });
    expect(text.status).toBe(415);
    expect(text.body.toString()).toContain('application/x-protobuf or application/json');
  });

  it('reports malformed spans as partial success and keeps the good ones', async () => {
    await start();
    const good = { traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', name: 'chat x', kind: 3, startTimeUnixNano: '1', endTimeUnixNano: '2', attributes: [{ key: 'gen_ai.request.model', value: { stringValue: 'x' } }] };
    const bad = { ...good, traceId: 'abc' };
    const body = Buffer.from(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [good, bad] }] }] }));
    const reply = await post(receiver.port, body, { 'Content-Type': 'application/json' });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body.toString())).toEqual({
      partialSuccess: { rejectedSpans: '1', errorMessage: '1 spans rejected: traceId must be 16 bytes and not all zero' },
    });
    expect(received[0].map((span) => span.spanId)).toEqual(['eee19b7ec3c1b174']);
  });

  it('reads times sent as JSON numbers, and rejects times that are no 64-bit unsigned integer', async () => {
    await start();
    const span = (spanId: string, start: unknown, end: unknown) => ({
      traceId: '5b8efff798038103d269b633813fc60c', spanId, name: 'chat x', kind: 3, startTimeUnixNano: start, endTimeUnixNano: end,
      attributes: [{ key: 'gen_ai.request.model', value: { stringValue: 'x' } }],
    });
    // Numbers past 2^53, as many JSON encoders write int64: nanoseconds lost to the double, never the time itself.
    const asNumbers = span('eee19b7ec3c1b101', 1_760_000_000_000_005_000, 1_760_000_001_250_000_000);
    const tooLate = span('eee19b7ec3c1b102', '1', '99999999999999999999999');
    const notATime = span('eee19b7ec3c1b103', '-5', '2');
    const body = Buffer.from(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [asNumbers, tooLate, notATime] }] }] }));
    const reply = await post(receiver.port, body, { 'Content-Type': 'application/json' });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body.toString()).partialSuccess).toEqual({ rejectedSpans: '2', errorMessage: '2 spans rejected: startTimeUnixNano and endTimeUnixNano must be unsigned 64-bit integers' });
    const [accepted] = received[0];
    expect(accepted.spanId).toBe('eee19b7ec3c1b101');
    expect(Number(accepted.startTimeUnixNano / 1_000_000n)).toBe(1_760_000_000_000);
    expect(Number(accepted.endTimeUnixNano - accepted.startTimeUnixNano) / 1e6).toBeCloseTo(1249.995, 3);
  });

  it('keeps only GenAI spans by default, and every span when configured', async () => {
    const spans = sdkSpans([
      { name: 'chat gpt-4o-mini', attributes: CHAT_ATTRIBUTES },
      { name: 'GET /health', attributes: { 'http.request.method': 'GET', 'http.request.header.cookie': ['session=1'] } },
    ]);
    const body = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!);
    await start();
    await post(receiver.port, body, { 'Content-Type': 'application/x-protobuf' });
    expect(received[0].map((span) => span.name)).toEqual(['chat gpt-4o-mini']);
    await receiver.close();

    received = [];
    await start({ keepNonGenAiSpans: true });
    await post(receiver.port, body, { 'Content-Type': 'application/x-protobuf' });
    expect(received[0].map((span) => span.name)).toEqual(['chat gpt-4o-mini', 'GET /health']);
    expect(received[0][1].attributes).toEqual({ 'http.request.method': 'GET', 'otel.scope.name': 'test-instrumentation', 'otel.scope.version': '1.2.3' });
  });

  it('closes only after answering the requests in flight, and does not wait for idle keep-alive connections', async () => {
    await start();
    let release!: () => void;
    onSpans = () => new Promise<void>((resolve) => (release = resolve));
    const body = Buffer.from(ProtobufTraceSerializer.serializeRequest(sdkSpans([{ name: 'chat', attributes: CHAT_ATTRIBUTES }]))!);
    // An idle keep-alive connection, left open by an earlier request.
    const agent = new http.Agent({ keepAlive: true });
    const idle = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: receiver.port, path: '/nope', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
    expect(idle).toBe(404);
    const inFlight = post(receiver.port, body, { 'Content-Type': 'application/x-protobuf' });
    while (!release) await new Promise((resolve) => setTimeout(resolve, 5));
    let closed = false;
    const closing = receiver.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(closed).toBe(false); // still answering
    release();
    const reply = await inFlight;
    expect(reply.status).toBe(200); // answered, not cut off: the sender will not resend what is stored
    expect(reply.headers.connection).toBe('close');
    await closing;
    expect(closed).toBe(true);
    agent.destroy();
  });

  it('answers only after onSpans resolved, and 503 when it failed', async () => {
    await start();
    let release!: () => void;
    onSpans = () => new Promise<void>((resolve) => {
      release = resolve;
    });
    const body = Buffer.from(ProtobufTraceSerializer.serializeRequest(sdkSpans([{ name: 'chat', attributes: CHAT_ATTRIBUTES }]))!);
    let answered = false;
    const pending = post(receiver.port, body, { 'Content-Type': 'application/x-protobuf' }).then((reply) => {
      answered = true;
      return reply;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(answered).toBe(false);
    release();
    expect((await pending).status).toBe(200);

    onSpans = async () => {
      throw new Error('spool full');
    };
    const failed = await post(receiver.port, body, { 'Content-Type': 'application/x-protobuf' });
    expect(failed.status).toBe(503);
    expect(failed.headers['retry-after']).toBe('5');
  });
});
