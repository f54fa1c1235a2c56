/**
 * Coalescing (the S3 sink): spans are spooled within the batching delay, so the receiver acknowledges its sender
 * quickly, but they reach the sink together: once `maxBytes` wait, or when the oldest has waited `maxWaitMs`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BatchingExporter } from '../../sensor/exporters/batching-exporter';
import { jsonBatchCodec } from '../../sensor/exporters/span-json';
import type { Exporter } from '../../sensor/exporters/span-exporter';
import { DiskSpool } from '../../sensor/exporters/spool';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-coalesce-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

class RecordingSink implements Exporter<string> {
  readonly name = 'objects';
  readonly calls: Array<{ atMs: number; items: string[] }> = [];
  down = false;
  async export(items: string[]): Promise<void> {
    if (this.down) throw new Error('sink unavailable');
    this.calls.push({ atMs: Date.now(), items });
  }
  async shutdown(): Promise<void> {}
}

const item = (n: number) => `span-${String(n).padStart(4, '0')}-${'x'.repeat(90)}`;
const itemBytes = JSON.stringify(item(0)).length;

function exporterOver(sink: RecordingSink, coalesce: { maxBytes: number; maxWaitMs: number }): BatchingExporter<string> {
  return new BatchingExporter({
    sink,
    codec: jsonBatchCodec<string>(),
    queue: new DiskSpool({ dir, maxBytes: 10 << 20 }),
    batching: { maxBatch: 1000, maxDelayMs: 20 },
    retry: { initialDelayMs: 10, maxDelayMs: 20 },
    coalesce,
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('spans offered over time are acknowledged within the batching delay and written as one sink call after maxWaitMs', async () => {
  const sink = new RecordingSink();
  const exporter = exporterOver(sink, { maxBytes: 1 << 20, maxWaitMs: 600 });
  const started = Date.now();
  for (let n = 0; n < 5; n++) {
    const offered = Date.now();
    await exporter.export([item(n)]); // resolves once on disk
    expect(Date.now() - offered).toBeLessThan(300);
    await sleep(50);
  }
  expect(sink.calls).toEqual([]);
  await sleep(700);
  expect(sink.calls.map((call) => call.items.length)).toEqual([5]);
  expect(sink.calls[0].atMs - started).toBeGreaterThanOrEqual(600);
  await exporter.shutdown();
});

test('a sink call goes out as soon as maxBytes are waiting, without waiting for maxWaitMs', async () => {
  const sink = new RecordingSink();
  const exporter = exporterOver(sink, { maxBytes: 10 * (itemBytes + 1), maxWaitMs: 60_000 });
  for (let n = 0; n < 25; n++) await exporter.export([item(n)]);
  await sleep(100);
  // Every call holds at most maxBytes; what is left waits for more (or for maxWaitMs).
  expect(sink.calls.length).toBeGreaterThanOrEqual(2);
  for (const call of sink.calls) expect(JSON.stringify(call.items).length).toBeLessThanOrEqual(10 * (itemBytes + 1) + 2);
  const written = sink.calls.flatMap((call) => call.items);
  expect(written).toEqual(Array.from({ length: written.length }, (_, n) => item(n)));
  expect(written.length).toBeLessThan(25);
  // Shutting down drains: no coalescing wait holds back the rest.
  await exporter.shutdown(2000);
  expect(sink.calls.flatMap((call) => call.items)).toEqual(Array.from({ length: 25 }, (_, n) => item(n)));
});

test('batches found on disk at start go out at once, and a failed call is retried with what has joined since', async () => {
  const sink = new RecordingSink();
  sink.down = true;
  const first = exporterOver(sink, { maxBytes: 1 << 20, maxWaitMs: 50 });
  for (let n = 0; n < 3; n++) await first.export([item(n)]);
  await sleep(150);
  await first.shutdown(100); // the sink is down: the batches stay in the spool
  expect(sink.calls).toEqual([]);

  sink.down = false;
  const second = exporterOver(sink, { maxBytes: 1 << 20, maxWaitMs: 60_000 });
  await sleep(100);
  expect(sink.calls.map((call) => call.items)).toEqual([[item(0), item(1), item(2)]]);
  await second.shutdown();
});
