import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BatchingExporter } from '../../sensor/exporters/batching-exporter';
import { OtlpHttpExporter } from '../../sensor/exporters/otlp-http-exporter';
import { startOtlpReceiver } from '../../sensor/receiver/otlp-receiver';
import { otlpProtobufBatchCodec } from '../../sensor/exporters/otlp-spans';
import { joinEncodedItems } from '../../sensor/exporters/batch-builder';
import { spanBatchCodec } from '../../sensor/exporters/span-json';
import { DiskSpool } from '../../sensor/exporters/spool';
import type { GenAiSpan } from '../../sensor/span/gen-ai-span';
import { OtlpSinkServer } from './otlp-sink-server';
import { genAiSpan } from './span-fixture';

let sink: OtlpSinkServer;
let spoolRoot: string;

beforeEach(async () => {
  sink = new OtlpSinkServer();
  await sink.start();
  spoolRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-otlp-'));
});

afterEach(async () => {
  await sink.stop();
  fs.rmSync(spoolRoot, { recursive: true, force: true });
});

function delivery(spoolDir: string, endpoint: string): BatchingExporter<GenAiSpan> {
  return new BatchingExporter({
    sink: new OtlpHttpExporter({ endpoint, timeoutMs: 2000 }),
    codec: otlpProtobufBatchCodec,
    queue: new DiskSpool({ dir: spoolDir, maxBytes: 4 * 1024 * 1024, segmentBytes: 16 * 1024 }),
    batching: { maxBatch: 7, maxDelayMs: 20 },
    retry: { initialDelayMs: 20, maxDelayMs: 100 },
  });
}

describe('OtlpHttpExporter', () => {
  it('posts protobuf ExportTraceServiceRequests that decode to the spans sent', async () => {
    const exporter = new OtlpHttpExporter({ endpoint: sink.url, headers: { 'x-tenant': 'acme' } });
    const span = genAiSpan({ index: 9, inputTokens: 120, outputTokens: 30, extraAttributes: { 'gen_ai.response.finish_reasons': ['stop'], 'gen_ai.request.temperature': 0.2 } });
    span.parentSpanId = '00000000000000ff';
    const other = genAiSpan({ index: 10, workload: 'billing' });
    await exporter.export([span, other]);

    expect(sink.requests).toHaveLength(1);
    const request = sink.requests[0];
    expect(request.path).toBe('/v1/traces');
    expect(request.contentType).toBe('application/x-protobuf');
    expect(request.headers['x-tenant']).toBe('acme');
    expect(request.resourceSpans).toHaveLength(2);
    const first = request.resourceSpans.find((rs) => rs.resource['sightline.workload'] === 'checkout')!;
    expect(first.scopeName).toBe('sightline');
    expect(first.resource).toMatchObject({ 'k8s.cluster.name': 'prod-eu', 'k8s.namespace.name': 'shop', 'k8s.pod.name': 'checkout-7d9f-abcde', 'process.pid': 4242 });
    const decoded = first.spans[0];
    expect(decoded).toMatchObject({
      traceId: span.traceId,
      spanId: span.spanId,
      parentSpanId: '00000000000000ff',
      name: 'chat gpt-4o',
      kind: 3, // SPAN_KIND_CLIENT
      startTimeUnixNano: span.startTimeUnixNano,
      endTimeUnixNano: span.endTimeUnixNano,
    });
    expect(decoded.attributes).toMatchObject({
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.usage.input_tokens': 120,
      'gen_ai.response.usage.total_tokens': 150,
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.request.temperature': 0.2,
    });
  });

  it('fails retryably on 503 and permanently on 400', async () => {
    const exporter = new OtlpHttpExporter({ endpoint: `${sink.url}/v1/traces` });
    sink.status = 503;
    await expect(exporter.export([genAiSpan()])).rejects.toThrow(/HTTP 503/);
    sink.status = 400;
    await expect(exporter.export([genAiSpan()])).rejects.toMatchObject({ name: 'PermanentExportError' });
  });
});

describe('delivery through the spool', () => {
  it('delivers every span exactly once and in order across a sink outage and a process restart', async () => {
    const spoolDir = path.join(spoolRoot, 'otlp');
    const endpoint = sink.url;
    const names = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `chat span-${from + i}`);
    const spans = (from: number, to: number) => names(from, to).map((name, i) => ({ ...genAiSpan({ index: from + i }), name }));

    const first = delivery(spoolDir, endpoint);
    first.offer(spans(0, 10));
    expect(await first.waitUntilDelivered(5000)).toBe(true);
    expect(sink.spanNames()).toEqual(names(0, 10));

    await sink.stop(); // sink outage while spans keep flowing
    for (let i = 10; i < 60; i += 5) {
      first.offer(spans(i, i + 5));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    first.flush();
    for (const deadline = Date.now() + 5000; first.stats().failedAttempts === 0 && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(first.stats().failedAttempts).toBeGreaterThan(0);
    await first.shutdown(200); // the process goes away with the sink still down
    expect(first.stats().queuedBatches).toBeGreaterThanOrEqual(50 / 7);
    expect(sink.spanNames()).toEqual(names(0, 10));

    const second = delivery(spoolDir, endpoint); // restarted process, same spool directory
    await new Promise((resolve) => setTimeout(resolve, 50));
    await sink.start(); // the sink comes back on the same port
    second.offer(spans(60, 70));
    expect(await second.waitUntilDelivered(10_000)).toBe(true);
    await second.shutdown();

    expect(sink.spanNames()).toEqual(names(0, 70));
    expect(second.stats().spoolDroppedItems).toBe(0);
  });

  it('sends the spooled batch as it is: the spool holds the protobuf request itself', async () => {
    const spoolDir = path.join(spoolRoot, 'as-is');
    const exporter = delivery(spoolDir, sink.url);
    sink.status = 503; // held in the spool first, so the queued bytes can be read
    exporter.offer([genAiSpan({ index: 1 }), genAiSpan({ index: 2 })]);
    exporter.flush();
    const queued = Buffer.from(new DiskSpool({ dir: spoolDir, maxBytes: 1 << 20 }).peek()!.bytes);
    sink.status = 200;
    expect(await exporter.waitUntilDelivered(5000)).toBe(true);
    await exporter.shutdown();
    expect(sink.requests.map((request) => request.body)).toEqual([queued]);
    expect(sink.requests[0].resourceSpans.map((resource) => resource.spans[0].spanId)).toEqual([genAiSpan({ index: 1 }).spanId, genAiSpan({ index: 2 }).spanId]);
  });

  it('still delivers batches an earlier version spooled as JSON span arrays, after an upgrade', async () => {
    const spoolDir = path.join(spoolRoot, 'upgrade');
    const earlier = new DiskSpool({ dir: spoolDir, maxBytes: 1 << 20 });
    const spans = [genAiSpan({ index: 7 }), genAiSpan({ index: 8 })];
    earlier.append(joinEncodedItems(spans.map((span) => spanBatchCodec.encodeItem(span)), spanBatchCodec.framing), spans.length);
    earlier.close();
    const exporter = delivery(spoolDir, sink.url);
    expect(await exporter.waitUntilDelivered(5000)).toBe(true);
    await exporter.shutdown();
    expect(sink.spanNames()).toEqual(spans.map((span) => span.name));
    expect(sink.requests[0].resourceSpans.flatMap((resource) => resource.spans.map((decoded) => decoded.spanId))).toEqual(spans.map((span) => span.spanId));
    expect(exporter.stats()).toMatchObject({ deliveredItems: 2, rejectedItems: 0 });
  });

  it('drops a batch the endpoint rejects as malformed and keeps going', async () => {
    const exporter = delivery(path.join(spoolRoot, 'reject'), sink.url);
    sink.status = 400;
    exporter.offer([genAiSpan({ index: 1 })]);
    expect(await exporter.waitUntilDelivered(5000)).toBe(true);
    sink.status = 200;
    exporter.offer([genAiSpan({ index: 2 })]);
    expect(await exporter.waitUntilDelivered(5000)).toBe(true);
    await exporter.shutdown();
    expect(exporter.stats()).toMatchObject({ rejectedItems: 1, deliveredItems: 1 });
    expect(sink.requests).toHaveLength(1);
  });

  it('reports the spans a receiver refused in a partial success, so they count as dropped, not delivered', async () => {
    const stored: GenAiSpan[] = [];
    const receiver = await startOtlpReceiver({ config: { host: '127.0.0.1', port: 0 }, onSpans: async (spans) => void stored.push(...spans) });
    try {
      const exporter = new OtlpHttpExporter({ endpoint: `http://127.0.0.1:${receiver.port}` });
      const invalid = { ...genAiSpan({ index: 2 }), traceId: '0'.repeat(32) }; // an all-zero trace id is refused
      const outcome = await exporter.export([genAiSpan({ index: 1 }), invalid]);
      expect(outcome).toEqual({ refusedItems: 1 });
      expect(stored.map((span) => span.spanId)).toEqual([genAiSpan({ index: 1 }).spanId]);
      expect(await exporter.export([genAiSpan({ index: 3 })])).toEqual({ refusedItems: 0 });
    } finally {
      await receiver.close();
    }
  });
});
