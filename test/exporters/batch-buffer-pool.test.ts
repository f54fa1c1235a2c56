/**
 * Cut batches in memory used again once delivered: the pool itself, and delivery through the batching exporter to a
 * real OTLP endpoint on loopback, where every span must arrive as it was sent whatever memory its batch shared.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BatchBufferPool, MIN_POOLED_BYTES, pooledCapacity } from '../../sensor/exporters/batch-buffer-pool';
import { BatchingExporter } from '../../sensor/exporters/batching-exporter';
import { OtlpHttpExporter } from '../../sensor/exporters/otlp-http-exporter';
import { otlpProtobufBatchCodec } from '../../sensor/exporters/otlp-spans';
import { MemoryQueue } from '../../sensor/exporters/spool';
import type { GenAiSpan } from '../../sensor/span/gen-ai-span';
import { OtlpSinkServer } from './otlp-sink-server';
import { genAiSpan } from './span-fixture';

describe('BatchBufferPool', () => {
  it('hands a released buffer out again, for any batch it fits, and never to two batches at once', () => {
    const pool = new BatchBufferPool(4 * 1024 * 1024);
    const first = pool.take(100_000);
    const second = pool.take(100_000);
    expect(first.buffer).not.toBe(second.buffer);
    pool.release(first);
    pool.release(first); // a second release of the same batch changes nothing
    const third = pool.take(90_000);
    expect(third.buffer).toBe(first.buffer);
    expect(third.length).toBe(90_000);
    // Only one buffer was free: the next batch gets new memory, not the buffer `third` is using.
    expect(pool.take(90_000).buffer).not.toBe(third.buffer);
  });

  it('gives new memory to a batch no free buffer fits', () => {
    const pool = new BatchBufferPool(4 * 1024 * 1024);
    const small = pool.take(70_000);
    pool.release(small);
    const large = pool.take(pooledCapacity(70_000) + 1);
    expect(large.buffer).not.toBe(small.buffer);
    expect(pool.freeBuffers).toBe(1);
  });

  it('leaves small batches, buffers beyond its bound and batches it did not hand out to the collector', () => {
    const pool = new BatchBufferPool(1024 * 1024);
    const small = pool.take(MIN_POOLED_BYTES - 1);
    pool.release(small);
    pool.release(Buffer.alloc(MIN_POOLED_BYTES));
    const huge = pool.take(3 * 1024 * 1024);
    pool.release(huge);
    expect(pool.freeBuffers).toBe(0);
    const batches = Array.from({ length: 6 }, () => pool.take(MIN_POOLED_BYTES));
    batches.forEach((batch) => pool.release(batch));
    expect(pool.freeBuffers).toBe(4);
  });

  it('sizes a buffer at most an eighth above its batch, so batches of nearly one size share buffers', () => {
    for (const length of [MIN_POOLED_BYTES, 100_000, 1_000_000, 1_048_576, 3_000_001]) {
      const capacity = pooledCapacity(length);
      expect(capacity).toBeGreaterThanOrEqual(length);
      expect(capacity).toBeLessThanOrEqual(length * 1.125);
    }
    expect(pooledCapacity(1_000_000)).toBe(pooledCapacity(1_040_000));
  });
});

/** A span whose prompt makes four of them a batch of about 120 KiB, marked with its index throughout. */
function largeSpan(index: number): GenAiSpan {
  return genAiSpan({ index, extraAttributes: { 'gen_ai.input.messages': `${index}:`.padEnd(30_000, String(index % 10)) } });
}

function delivery(endpoint: string) {
  const sink = new OtlpHttpExporter({ endpoint, timeoutMs: 2000 });
  const memories: ArrayBufferLike[] = [];
  const exportEncoded = sink.exportEncoded.bind(sink);
  sink.exportEncoded = (batch, itemCount) => {
    memories.push(batch.buffer);
    return exportEncoded(batch, itemCount);
  };
  const exporter = new BatchingExporter<GenAiSpan>({
    sink,
    codec: otlpProtobufBatchCodec,
    queue: new MemoryQueue(64 * 1024 * 1024),
    batching: { maxBatch: 4, maxDelayMs: 20 },
    retry: { initialDelayMs: 20, maxDelayMs: 50 },
  });
  return { exporter, memories };
}

const receivedPrompts = (sink: OtlpSinkServer) =>
  sink.requests.flatMap((request) => request.resourceSpans.flatMap((resourceSpans) => resourceSpans.spans.map((span) => span.attributes['gen_ai.input.messages'])));

describe('delivery with batches in memory used again', () => {
  let sink: OtlpSinkServer;
  beforeEach(async () => {
    sink = new OtlpSinkServer();
    await sink.start();
  });
  afterEach(async () => {
    await sink.stop();
  });

  it('delivers every span as it was sent, in order, while the batches share a few buffers', async () => {
    const { exporter, memories } = delivery(sink.url);
    const spans = Array.from({ length: 40 }, (_, index) => largeSpan(index));
    for (let index = 0; index < spans.length; index += 4) {
      exporter.offer(spans.slice(index, index + 4));
      expect(await exporter.waitUntilDelivered(5000)).toBe(true);
    }
    await exporter.shutdown();
    expect(receivedPrompts(sink)).toEqual(spans.map((span) => span.attributes['gen_ai.input.messages']));
    expect(memories).toHaveLength(10);
    expect(new Set(memories).size).toBeLessThan(3);
  });

  it('keeps a batch the endpoint refused untouched while later batches are cut, and delivers it as it was', async () => {
    const { exporter, memories } = delivery(sink.url);
    sink.status = 503;
    const spans = Array.from({ length: 24 }, (_, index) => largeSpan(index));
    exporter.offer(spans.slice(0, 4));
    await new Promise((resolve) => setTimeout(resolve, 100)); // refused and retried a few times
    for (let index = 4; index < spans.length; index += 4) exporter.offer(spans.slice(index, index + 4));
    sink.status = 200;
    expect(await exporter.waitUntilDelivered(5000)).toBe(true);
    await exporter.shutdown();
    expect(receivedPrompts(sink)).toEqual(spans.map((span) => span.attributes['gen_ai.input.messages']));
    // Six batches waited in the queue at once: each had memory of its own.
    expect(new Set(memories).size).toBeGreaterThanOrEqual(6);
  });
});

describe('an endpoint that answers before it has read the request', () => {
  it('has the export resolve only once the body is written out, so its memory can be used again', async () => {
    let received: Promise<{ bytes: number; other: number }> | undefined;
    const server = http.createServer((request, response) => {
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      received = new Promise((resolve) => {
        let bytes = 0;
        let other = 0;
        request.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          for (const byte of chunk) if (byte !== 1) other++;
        });
        request.on('end', () => resolve({ bytes, other }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const sink = new OtlpHttpExporter({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, timeoutMs: 5000 });
      // Far more than the sockets' buffers hold: the answer comes while the body is still being written from `body`.
      const body = Buffer.alloc(32 * 1024 * 1024, 1);
      await sink.exportEncoded(body, 1);
      body.fill(2); // the next batch, written into the same memory
      expect(await received).toEqual({ bytes: body.length, other: 0 });
      await sink.shutdown();
    } finally {
      server.close();
    }
  });
});
