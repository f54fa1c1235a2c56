import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BatchingExporter } from '../../sensor/exporters/batching-exporter';
import { jsonBatchCodec } from '../../sensor/exporters/span-json';
import type { Exporter } from '../../sensor/exporters/span-exporter';
import { DiskSpool } from '../../sensor/exporters/spool';
import { WriteBehindSpool } from '../../sensor/exporters/write-behind-spool';
import { drain, numberOf, record } from './spool-fixture';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-write-behind-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));


/** Bytes of every segment file: what a crash right now would leave for the next start. */
const bytesOnDisk = () =>
  fs
    .readdirSync(dir)
    .filter((file) => file.endsWith('.spool'))
    .reduce((sum, file) => sum + fs.statSync(path.join(dir, file)).size, 0);

/** What a process started on the directory after a crash (no close) would send, in order. */
function afterCrash(): number[] {
  const reopened = new DiskSpool({ dir, maxBytes: 1_000_000 });
  const seen = reopened.peekRun(Infinity).map((batch) => numberOf(batch.bytes));
  reopened.close();
  return seen;
}

function spool(options: { spillAfterMs?: number; maxMemoryBytes?: number; now?: () => number } = {}) {
  return new WriteBehindSpool({
    disk: new DiskSpool({ dir, maxBytes: 1_000_000, cursorDelayMs: 0 }),
    spillAfterMs: options.spillAfterMs ?? 60_000,
    maxMemoryBytes: options.maxMemoryBytes ?? 1_000_000,
    now: options.now,
  });
}

describe('WriteBehindSpool', () => {
  it('sends batches taken in time from memory, and writes none of them', () => {
    const queue = spool();
    for (let n = 0; n < 5; n++) queue.append(record(n), 1);
    expect(queue.pendingBatches).toBe(5);
    expect(drain(queue)).toEqual([0, 1, 2, 3, 4]);
    expect(bytesOnDisk()).toBe(0);
    queue.close();
    expect(afterCrash()).toEqual([]);
  });

  it('writes a batch its sink has not taken within spillAfterMs, so a crash after that loses it not', async () => {
    const queue = spool({ spillAfterMs: 40 });
    queue.append(record(1), 1);
    queue.append(record(2), 1);
    expect(afterCrash()).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(afterCrash()).toEqual([1, 2]);
    // Still sent once, in order, and acknowledged on the disk.
    expect(drain(queue)).toEqual([1, 2]);
    queue.close();
    expect(afterCrash()).toEqual([]);
  });

  it('writes a batch someone waits for at once, after every older batch', () => {
    const queue = spool();
    queue.append(record(1), 1);
    queue.append(record(2), 1);
    queue.append(record(3), 1, true);
    expect(afterCrash()).toEqual([1, 2, 3]);
    queue.append(record(4), 1);
    expect(drain(queue)).toEqual([1, 2, 3, 4]);
    queue.close();
    expect(afterCrash()).toEqual([]);
  });

  it('writes what memory holds at a graceful stop, in order after what the disk held', () => {
    const queue = spool();
    queue.append(record(1), 1, true);
    queue.append(record(2), 1);
    queue.append(record(3), 1);
    queue.close();
    expect(afterCrash()).toEqual([1, 2, 3]);
  });

  it('acknowledges on the disk a batch written while its sink had it', async () => {
    const queue = spool({ spillAfterMs: 30 });
    queue.append(record(1), 1);
    queue.append(record(2), 1);
    const inFlight = queue.peekRun(Infinity);
    expect(inFlight.map((batch) => numberOf(batch.bytes))).toEqual([1, 2]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(afterCrash()).toEqual([1, 2]);
    queue.ackRun(inFlight);
    expect(queue.pendingBatches).toBe(0);
    expect(afterCrash()).toEqual([]);
    queue.append(record(3), 1);
    expect(drain(queue)).toEqual([3]);
    queue.close();
  });

  it('writes the oldest batches once memory holds more than its bound', () => {
    const queue = spool({ maxMemoryBytes: 3 * record(0).length });
    for (let n = 0; n < 5; n++) queue.append(record(n), 1);
    expect(afterCrash()).toEqual([0, 1]);
    expect(queue.pendingBatches).toBe(5);
    expect(drain(queue)).toEqual([0, 1, 2, 3, 4]);
    queue.close();
  });

  it('keeps batches in memory when the disk refuses them, tries again later, and counts what its bound drops', async () => {
    let refuse = true;
    const errors: string[] = [];
    const queue = new WriteBehindSpool({
      disk: new DiskSpool({
        dir,
        maxBytes: 1_000_000,
        writev: (fd, buffers) => {
          if (refuse) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
          return fs.writevSync(fd, buffers);
        },
      }),
      spillAfterMs: 20,
      maxMemoryBytes: 3 * record(0).length,
      onSpillError: (error) => errors.push(error.message),
    });
    for (let n = 0; n < 5; n++) queue.append(record(n), 1);
    expect(errors.length).toBeGreaterThan(0);
    // Over the bound with the disk refusing: the head stays (its sink may have it), the next oldest are dropped.
    expect(queue.droppedBatches).toBe(2);
    expect(queue.droppedItems).toBe(2);
    expect(queue.pendingBatches).toBe(3);
    refuse = false;
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(afterCrash()).toEqual([0, 3, 4]);
    expect(drain(queue)).toEqual([0, 3, 4]);
    queue.close();
  });
});

describe('BatchingExporter over a write-behind spool', () => {
  const codec = jsonBatchCodec<{ n: number }>();

  /** The items a process started on the directory after a crash would send, in order. */
  function itemsAfterCrash(): number[] {
    const reopened = new DiskSpool({ dir, maxBytes: 1_000_000 });
    const items = reopened.peekRun(Infinity).flatMap((batch) => codec.decode!(batch.bytes).map((item) => item.n));
    reopened.close();
    return items;
  }

  function exporter(sink: Exporter<{ n: number }>, spillAfterMs: number) {
    return new BatchingExporter<{ n: number }>({
      sink,
      codec,
      queue: new WriteBehindSpool({ disk: new DiskSpool({ dir, maxBytes: 1_000_000, cursorDelayMs: 0 }), spillAfterMs, maxMemoryBytes: 1_000_000 }),
      batching: { maxBatch: 2, maxDelayMs: 10 },
      retry: { initialDelayMs: 10, maxDelayMs: 20 },
    });
  }

  it('delivers offered items to a healthy sink without writing them', async () => {
    const received: number[] = [];
    const sending = exporter({ name: 'sink', export: async (items) => void received.push(...items.map((item) => item.n)), shutdown: async () => undefined }, 60_000);
    for (let n = 0; n < 6; n++) sending.offer([{ n }]);
    expect(await sending.waitUntilDelivered(2000)).toBe(true);
    expect(received).toEqual([0, 1, 2, 3, 4, 5]);
    expect(bytesOnDisk()).toBe(0);
    await sending.shutdown(100);
  });

  it('writes offered items a down sink has not taken, and a restarted exporter delivers them', async () => {
    const down = exporter({ name: 'sink', export: async () => Promise.reject(new Error('connect ECONNREFUSED')), shutdown: async () => undefined }, 30);
    for (let n = 0; n < 4; n++) down.offer([{ n }]);
    await new Promise((resolve) => setTimeout(resolve, 150));
    // On disk before any stop: a crash now would lose nothing.
    expect(itemsAfterCrash()).toEqual([0, 1, 2, 3]);
    await down.shutdown(50);

    const received: number[] = [];
    const restarted = exporter({ name: 'sink', export: async (items) => void received.push(...items.map((item) => item.n)), shutdown: async () => undefined }, 60_000);
    expect(await restarted.waitUntilDelivered(2000)).toBe(true);
    expect(received).toEqual([0, 1, 2, 3]);
    await restarted.shutdown(100);
  });

  it('writes exported items before their caller is answered, whatever the delay', async () => {
    const sending = exporter({ name: 'sink', export: async () => Promise.reject(new Error('down')), shutdown: async () => undefined }, 60_000);
    await sending.export([{ n: 7 }, { n: 8 }]);
    expect(itemsAfterCrash()).toEqual([7, 8]);
    await sending.shutdown(50);
  });
});
