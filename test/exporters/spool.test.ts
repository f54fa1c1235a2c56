import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Registry } from 'prom-client';
import { BatchingExporter, backoffDelayMs } from '../../sensor/exporters/batching-exporter';
import { jsonBatchCodec } from '../../sensor/exporters/span-json';
import type { Exporter } from '../../sensor/exporters/span-exporter';
import { DiskSpool, MemoryQueue, writeAllSync } from '../../sensor/exporters/spool';
import { drain, numberOf, record } from './spool-fixture';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-spool-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));


/** What a spool opened on the directory would send, without acknowledging anything. */
const waiting = (spool: DiskSpool) => spool.peekRun(Infinity).map((batch) => numberOf(batch.bytes));

describe('DiskSpool', () => {
  it('replays unacknowledged batches in order after a restart, and never an acknowledged one', () => {
    const spool = new DiskSpool({ dir, maxBytes: 100_000, segmentBytes: 300 });
    for (let n = 0; n < 10; n++) spool.append(record(n), 1);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.spool')).length).toBeGreaterThan(2);
    for (let n = 0; n < 4; n++) spool.ack(spool.peek()!);
    spool.close();

    const reopened = new DiskSpool({ dir, maxBytes: 100_000, segmentBytes: 300 });
    expect(reopened.pendingBatches).toBe(6);
    reopened.append(record(10), 1);
    expect(drain(reopened)).toEqual([4, 5, 6, 7, 8, 9, 10]);
    reopened.close();
    expect(new DiskSpool({ dir, maxBytes: 100_000 }).peek()).toBeUndefined();
  });

  it('writes acknowledgements to the cursor within cursorDelayMs: a crash before that resends them, loses nothing', async () => {
    const spool = new DiskSpool({ dir, maxBytes: 100_000, cursorDelayMs: 100 });
    for (let n = 0; n < 4; n++) spool.append(record(n), 1);
    spool.ack(spool.peek()!);
    spool.ack(spool.peek()!);
    // A crash now (no close): the cursor file is behind, so the two accepted batches come again, and the rest.
    expect(waiting(new DiskSpool({ dir, maxBytes: 100_000 }))).toEqual([0, 1, 2, 3]);
    await new Promise((resolve) => setTimeout(resolve, 250));
    // Once the delay passed, the cursor names the first unacknowledged batch.
    expect(waiting(new DiskSpool({ dir, maxBytes: 100_000 }))).toEqual([2, 3]);
    spool.ack(spool.peek()!);
    spool.close(); // close writes what is pending at once
    expect(waiting(new DiskSpool({ dir, maxBytes: 100_000 }))).toEqual([3]);
  });

  it('drops the oldest segment when full and counts what was lost', () => {
    const drops: Array<[number, number]> = [];
    const spool = new DiskSpool({ dir, maxBytes: 1000, segmentBytes: 250, onDrop: (batches, items) => drops.push([batches, items]) });
    const recordBytes = 12 + record(0).length;
    for (let n = 0; n < 20; n++) spool.append(record(n), 3);
    expect(spool.pendingBytes).toBeLessThanOrEqual(1000);
    const kept = drain(spool);
    expect(kept[kept.length - 1]).toBe(19);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => 20 - kept.length + i));
    expect(kept.length).toBeGreaterThanOrEqual(Math.floor(1000 / recordBytes) - 3);
    expect(spool.droppedBatches).toBe(20 - kept.length);
    expect(spool.droppedItems).toBe(3 * (20 - kept.length));
    expect(drops.reduce((sum, [batches]) => sum + batches, 0)).toBe(20 - kept.length);
  });

  it('cuts off a torn record at the tail left by a crash mid-write', () => {
    const spool = new DiskSpool({ dir, maxBytes: 100_000 });
    spool.append(record(1), 1);
    spool.append(record(2), 1);
    spool.close();
    const segment = path.join(dir, fs.readdirSync(dir).find((f) => f.endsWith('.spool'))!);
    fs.appendFileSync(segment, Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 1, 0, 0, 0, 0x7b]));
    const reopened = new DiskSpool({ dir, maxBytes: 100_000 });
    reopened.append(record(3), 1);
    expect(drain(reopened)).toEqual([1, 2, 3]);
  });

  it('writes every byte, in order, when the disk takes them in short writes', () => {
    const file = path.join(dir, 'short-writes');
    const fd = fs.openSync(file, 'a');
    const parts = [Buffer.from('header-12345'), Buffer.alloc(0), Buffer.from('body '.repeat(20))];
    let calls = 0;
    // Each call writes at most 7 bytes, so the write crosses many calls and splits inside both buffers.
    writeAllSync(fd, parts, (target, buffers) => {
      calls++;
      return fs.writeSync(target, Buffer.concat(buffers).subarray(0, 7));
    });
    fs.closeSync(fd);
    expect(fs.readFileSync(file)).toEqual(Buffer.concat(parts));
    expect(calls).toBe(Math.ceil(Buffer.concat(parts).length / 7));
  });

  it('cuts off a record torn by a failing disk, so the records after it stay readable', () => {
    let failNext = false;
    const disk = (fd: number, buffers: Buffer[]) => {
      if (!failNext) return fs.writevSync(fd, buffers);
      failNext = false;
      fs.writeSync(fd, Buffer.concat(buffers).subarray(0, 20)); // part of the record lands, then the disk is full
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    };
    const spool = new DiskSpool({ dir, maxBytes: 100_000, writev: disk });
    spool.append(record(1), 1);
    failNext = true;
    expect(() => spool.append(record(2), 1)).toThrow(/ENOSPC/);
    spool.append(record(3), 1);
    spool.close();
    // Read back from the file (not from the spool's cache of recent batches): exactly the two whole records.
    const reopened = new DiskSpool({ dir, maxBytes: 100_000 });
    expect(drain(reopened)).toEqual([1, 3]);
  });

  it('stops with an error instead of spinning when the disk accepts nothing', () => {
    const file = path.join(dir, 'stuck');
    const fd = fs.openSync(file, 'a');
    expect(() => writeAllSync(fd, [Buffer.from('abc')], () => 0)).toThrow(/no progress/);
    fs.closeSync(fd);
  });

  it('refuses a batch larger than the whole spool, counted', () => {
    const spool = new DiskSpool({ dir, maxBytes: 64 });
    spool.append(record(1), 5);
    expect(spool.peek()).toBeUndefined();
    expect(spool.droppedItems).toBe(5);
  });
});

describe('peekRun', () => {
  it('ackRun acknowledges a whole run across segments, and a restart resumes after it', () => {
    const spool = new DiskSpool({ dir, maxBytes: 100_000, segmentBytes: 300 });
    for (let n = 0; n < 10; n++) spool.append(record(n), 1);
    const run = spool.peekRun(5 * record(0).length);
    expect(run.map((batch) => numberOf(batch.bytes))).toEqual([0, 1, 2, 3, 4]);
    spool.ackRun(run);
    expect(spool.pendingBatches).toBe(5);
    spool.close();

    const reopened = new DiskSpool({ dir, maxBytes: 100_000, segmentBytes: 300 });
    expect(drain(reopened)).toEqual([5, 6, 7, 8, 9]);
    reopened.close();

    const memory = new MemoryQueue(100_000);
    for (let n = 0; n < 4; n++) memory.append(record(n), 1);
    memory.ackRun(memory.peekRun(2 * record(0).length));
    expect(drain(memory)).toEqual([2, 3]);
  });

  it('returns the oldest unacknowledged batches within a byte budget, across segments and after a restart', () => {
    const spool = new DiskSpool({ dir, maxBytes: 100_000, segmentBytes: 300 });
    const size = record(0).length;
    for (let n = 0; n < 10; n++) spool.append(record(n), 1);
    expect(spool.unackedBytes).toBe(10 * size);
    spool.ack(spool.peek()!);
    const run = spool.peekRun(3 * size);
    expect(run.map((batch) => numberOf(batch.bytes))).toEqual([1, 2, 3]);
    for (const batch of run) spool.ack(batch);
    expect(spool.unackedBytes).toBe(6 * size);
    spool.close();

    const reopened = new DiskSpool({ dir, maxBytes: 100_000, segmentBytes: 300 });
    expect(reopened.unackedBytes).toBe(6 * size);
    // The first batch always comes, even when it alone is over the budget.
    expect(reopened.peekRun(1).map((batch) => numberOf(batch.bytes))).toEqual([4]);
    expect(reopened.peekRun(100_000).map((batch) => numberOf(batch.bytes))).toEqual([4, 5, 6, 7, 8, 9]);
    reopened.close();
  });

  it('counts dropped segments out of the unacknowledged bytes', () => {
    const spool = new DiskSpool({ dir, maxBytes: 1000, segmentBytes: 250 });
    for (let n = 0; n < 20; n++) spool.append(record(n), 1);
    expect(spool.droppedBatches).toBeGreaterThan(0);
    const left = spool.peekRun(Infinity);
    expect(left.length).toBe(spool.pendingBatches);
    expect(spool.unackedBytes).toBe(left.reduce((sum, batch) => sum + batch.bytes.length, 0));
  });

  it('works the same on the in-memory queue', () => {
    const queue = new MemoryQueue(100_000);
    for (let n = 0; n < 5; n++) queue.append(record(n), 1);
    expect(queue.peekRun(2 * record(0).length).map((batch) => numberOf(batch.bytes))).toEqual([0, 1]);
    expect(queue.unackedBytes).toBe(5 * record(0).length);
  });
});

describe('MemoryQueue', () => {
  it('keeps order and drops the oldest past its byte bound', () => {
    const queue = new MemoryQueue(3 * record(0).length);
    for (let n = 0; n < 5; n++) queue.append(record(n), 1);
    expect(drain(queue)).toEqual([2, 3, 4]);
    expect(queue.droppedBatches).toBe(2);
  });
});

describe('BatchingExporter', () => {
  class FlakySink<T = number> implements Exporter<T> {
    readonly name = 'flaky';
    readonly received: T[][] = [];
    failuresLeft = 0;
    async export(items: T[]): Promise<void> {
      if (this.failuresLeft > 0) {
        this.failuresLeft--;
        throw new Error('sink unavailable');
      }
      this.received.push(items);
    }
    async shutdown(): Promise<void> {}
  }

  it('cuts batches at maxBatch and after maxDelayMs', async () => {
    const sink = new FlakySink();
    const exporter = new BatchingExporter({ sink, codec: jsonBatchCodec<number>(), queue: new MemoryQueue(1 << 20), batching: { maxBatch: 3, maxDelayMs: 30 }, retry: { initialDelayMs: 5, maxDelayMs: 10 } });
    exporter.offer([1, 2, 3, 4, 5, 6, 7]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(sink.received).toEqual([[1, 2, 3], [4, 5, 6]]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(sink.received).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
    await exporter.shutdown();
  });

  it('cuts a batch before its encoded size passes maxBatchBytes; an item bigger on its own goes alone', async () => {
    const sink = new FlakySink<string>();
    const codec = jsonBatchCodec<string>();
    const exporter = new BatchingExporter({ sink, codec, queue: new MemoryQueue(1 << 20), batching: { maxBatch: 100, maxDelayMs: 20, maxBatchBytes: 250 }, retry: { initialDelayMs: 5, maxDelayMs: 10 } });
    const item = (letter: string, length: number) => letter.repeat(length);
    exporter.offer([item('a', 100), item('b', 100), item('c', 100), item('d', 400), item('e', 10)]);
    expect(await exporter.waitUntilDelivered(5000)).toBe(true);
    await exporter.shutdown();
    expect(sink.received.map((batch) => batch.map((s) => s[0]).join(''))).toEqual(['ab', 'c', 'd', 'e']);
    expect(sink.received.flat()).toEqual([item('a', 100), item('b', 100), item('c', 100), item('d', 400), item('e', 10)]);
  });

  it('counts batch size in UTF-8 bytes, so multi-byte text cannot overrun maxBatchBytes', async () => {
    const sink = new FlakySink<string>();
    const exporter = new BatchingExporter({ sink, codec: jsonBatchCodec<string>(), queue: new MemoryQueue(1 << 20), batching: { maxBatch: 100, maxDelayMs: 20, maxBatchBytes: 500 }, retry: { initialDelayMs: 5, maxDelayMs: 10 } });
    const cjk = '漢'.repeat(60); // 60 characters, 180 bytes
    exporter.offer([cjk, cjk, cjk, cjk]);
    expect(await exporter.waitUntilDelivered(5000)).toBe(true);
    await exporter.shutdown();
    // Counted as string length (62 each) all four would fit 500; as bytes (182 each) two do.
    expect(sink.received.map((batch) => batch.length)).toEqual([2, 2]);
    expect(sink.received.flat()).toEqual([cjk, cjk, cjk, cjk]);
  });

  it('counts items the sink refused inside an accepted batch as dropped, not delivered', async () => {
    const registry = new Registry();
    const sink: Exporter<number> = { name: 'partial', export: async (items) => ({ refusedItems: items.length > 1 ? 1 : 0 }), shutdown: async () => {} };
    const exporter = new BatchingExporter({ sink, codec: jsonBatchCodec<number>(), queue: new MemoryQueue(1 << 20), batching: { maxBatch: 3, maxDelayMs: 5 }, retry: { initialDelayMs: 5, maxDelayMs: 10 }, registry });
    exporter.offer([1, 2, 3, 4]);
    expect(await exporter.waitUntilDelivered(5000)).toBe(true);
    await exporter.shutdown();
    expect(exporter.stats()).toMatchObject({ deliveredItems: 3, rejectedItems: 1, deliveredBatches: 2 });
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/sightline_exporter_items_total\{exporter="partial",outcome="delivered"\} 3/);
    expect(metrics).toMatch(/sightline_exporter_items_total\{exporter="partial",outcome="dropped"\} 1/);
  });

  it('drops and counts an item that cannot be encoded, and delivers the rest', async () => {
    const sink = new FlakySink<unknown>();
    const exporter = new BatchingExporter<unknown>({ sink, codec: jsonBatchCodec<unknown>(), queue: new MemoryQueue(1 << 20), batching: { maxBatch: 10, maxDelayMs: 5 }, retry: { initialDelayMs: 5, maxDelayMs: 10 } });
    exporter.offer([1, { big: 2n }, 3]);
    expect(await exporter.waitUntilDelivered(5000)).toBe(true);
    await exporter.shutdown();
    expect(sink.received.flat()).toEqual([1, 3]);
    expect(exporter.stats()).toMatchObject({ deliveredItems: 2, rejectedItems: 1 });
  });

  it('retries with backoff until the sink accepts, without reordering', async () => {
    const sink = new FlakySink();
    sink.failuresLeft = 3;
    const exporter = new BatchingExporter({ sink, codec: jsonBatchCodec<number>(), queue: new MemoryQueue(1 << 20), batching: { maxBatch: 2, maxDelayMs: 5 }, retry: { initialDelayMs: 5, maxDelayMs: 20 } });
    exporter.offer([1, 2, 3, 4, 5]);
    expect(await exporter.waitUntilDelivered(5000)).toBe(true);
    await exporter.shutdown();
    expect(sink.received.flat()).toEqual([1, 2, 3, 4, 5]);
    expect(exporter.stats().failedAttempts).toBe(3);
  });

  it('grows the retry delay exponentially up to the cap, minus jitter', () => {
    const retry = { initialDelayMs: 100, maxDelayMs: 1000, jitter: 0.5 };
    expect([0, 1, 2, 3, 4, 5].map((attempt) => backoffDelayMs(attempt, retry, () => 0))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelayMs(2, retry, () => 1)).toBe(200);
  });
});
