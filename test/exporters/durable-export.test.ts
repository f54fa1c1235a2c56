/**
 * `export` resolves only once the items are in the spool, so the gateway's OTLP receiver can acknowledge a sensor
 * then and a gateway killed right after its reply still holds every acknowledged span on disk.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { BatchingExporter } from '../../sensor/exporters/batching-exporter';
import { exportersConfigSchema } from '../../sensor/exporters/config';
import { createExporters } from '../../sensor/exporters/create-exporters';
import { jsonBatchCodec } from '../../sensor/exporters/span-json';
import { decodeTraceRequest } from '../../sensor/receiver/otlp-codec';
import type { Exporter } from '../../sensor/exporters/span-exporter';
import { DiskSpool } from '../../sensor/exporters/spool';
import { genAiSpan } from './span-fixture';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-durable-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A sink that is down for the whole test. */
class UnreachableSink implements Exporter<number> {
  readonly name = 'down';
  async export(): Promise<void> {
    throw new Error('sink unavailable');
  }
  async shutdown(): Promise<void> {}
}

/** What a process started after a crash would find: the spool directory copied now, read by a new DiskSpool. */
function itemsOnDiskNow(spoolDir: string): number {
  const copy = fs.mkdtempSync(path.join(dir, 'after-crash-'));
  fs.cpSync(spoolDir, copy, { recursive: true });
  const reader = new DiskSpool({ dir: copy, maxBytes: 1 << 20 });
  let items = 0;
  for (let batch = reader.peek(); batch; batch = reader.peek()) {
    items += batch.itemCount;
    reader.ack(batch);
  }
  return items;
}

describe('BatchingExporter.export', () => {
  it('resolves only after its items are written to the disk spool, while batching still waits for maxDelayMs', async () => {
    const spoolDir = path.join(dir, 'down');
    const exporter = new BatchingExporter({
      sink: new UnreachableSink(),
      codec: jsonBatchCodec<number>(),
      queue: new DiskSpool({ dir: spoolDir, maxBytes: 1 << 20 }),
      batching: { maxBatch: 100, maxDelayMs: 150 },
      retry: { initialDelayMs: 10_000, maxDelayMs: 10_000 },
    });
    const startedAt = Date.now();
    const first = exporter.export([1, 2]);
    const second = exporter.export([3]);
    await Promise.all([first, second]);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(140);
    // Before any graceful shutdown: this is what survives a SIGKILL now.
    expect(itemsOnDiskNow(spoolDir)).toBe(3);
    await exporter.shutdown(10);
  });

  it('resolves at once when its items fill a batch', async () => {
    const spoolDir = path.join(dir, 'down');
    const exporter = new BatchingExporter({
      sink: new UnreachableSink(),
      codec: jsonBatchCodec<number>(),
      queue: new DiskSpool({ dir: spoolDir, maxBytes: 1 << 20 }),
      batching: { maxBatch: 2, maxDelayMs: 60_000 },
      retry: { initialDelayMs: 10_000, maxDelayMs: 10_000 },
    });
    const startedAt = Date.now();
    await exporter.export([1, 2]);
    expect(Date.now() - startedAt).toBeLessThan(1000);
    expect(itemsOnDiskNow(spoolDir)).toBe(2);
    await exporter.shutdown(10);
  });
});

describe('createExporters fan-out export', () => {
  it('resolves once every sink has spooled the spans, and never rejects while a sink is down', async () => {
    // A port nobody listens on: the OTLP sink fails every attempt.
    const closedPort = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const config = exportersConfigSchema.parse({
      otlp: { enabled: true, endpoint: `http://127.0.0.1:${closedPort}` },
      spool: { dir: path.join(dir, 'spool') },
      batching: { maxBatch: 100, maxDelayMs: 100 },
      retry: { initialDelayMs: 10_000, maxDelayMs: 10_000 },
    });
    const fanOut = createExporters(config);
    await expect(fanOut.export([genAiSpan({ index: 1 }), genAiSpan({ index: 2 })])).resolves.toBeUndefined();

    const copy = fs.mkdtempSync(path.join(dir, 'after-crash-'));
    fs.cpSync(path.join(dir, 'spool', 'otlp'), copy, { recursive: true });
    const reader = new DiskSpool({ dir: copy, maxBytes: 1 << 20 });
    const batch = reader.peek()!;
    // The spooled batch is the OTLP request itself, ready to send again after the crash.
    expect(decodeTraceRequest(Buffer.from(batch.bytes), 'protobuf').spans.map((decoded) => decoded.span.spanId)).toEqual([genAiSpan({ index: 1 }).spanId, genAiSpan({ index: 2 }).spanId]);
    await fanOut.shutdown(10);
  });

  it('rejects when a sink could not queue the spans (its spool cannot be written), and counts them as lost', async () => {
    const spoolDir = path.join(dir, 'spool-lost');
    const config = exportersConfigSchema.parse({
      file: { enabled: true, path: path.join(dir, 'lost.jsonl') },
      spool: { dir: spoolDir, maxBytes: 8192 }, // 2 KiB segments: the second batch opens a new segment file
      batching: { maxBatch: 4, maxDelayMs: 10 },
    });
    const fanOut = createExporters(config);
    const spans = (from: number) => Array.from({ length: 4 }, (_, i) => genAiSpan({ index: from + i }));
    await expect(fanOut.export(spans(1))).resolves.toBeUndefined();
    fs.rmSync(spoolDir, { recursive: true, force: true }); // the disk goes away under the spool
    await expect(fanOut.export(spans(5))).rejects.toThrow(/spans not queued by file/);
    await fanOut.shutdown(100);
    // Every span of the failed export is counted: those in the batch that failed, and the one still buffered,
    // whose batch failed in turn at shutdown.
    const file = fanOut.exporters[0] as BatchingExporter<unknown>;
    expect(file.stats().unqueuedItems).toBe(4);
  });
});
