/**
 * A disk spool that writes a batch only when its sink has not taken it in time: captured spans, which nobody waits
 * for, go to the sink from memory, and reach the disk only when the sink is slow or down, or at a graceful stop.
 *
 * Why: a healthy gateway takes each batch within milliseconds, yet every batch was written to the spool first, and
 * its segments were fsync'd as they rotated, on the sensor's only JS thread: at ~4,000 calls/s the spool's writes,
 * fsyncs and unlinks were a tenth of that thread's time (a CPU profile of the LLM loop in `npm run bench`). What a
 * crash (SIGKILL, OOM) can lose grows from the batch being filled to that plus the batches cut in the last
 * `spillAfterMs`; a batch whose appender waits for it (`durable`, e.g. spans the gateway's receiver acknowledges
 * only once spooled) is written at once, after the older ones, as before.
 *
 * Order is kept: the disk holds the oldest batches and memory the newest, so a batch is written only after every
 * older one.
 */
import { DiskSpool, leadingRun, type BatchQueue, type QueuedBatch } from './spool';

export interface WriteBehindSpoolOptions {
  disk: DiskSpool;
  /** How long a batch nobody waits for may stay in memory only; past it, it is written to the disk. */
  spillAfterMs: number;
  /** Memory held by such batches at most; past it, the oldest are written. */
  maxMemoryBytes: number;
  /** A write that failed (disk full): the batches stay in memory and are tried again at the next spill. */
  onSpillError?: (error: Error) => void;
  now?: () => number;
}

interface MemoryBatch extends QueuedBatch {
  readonly appendedAtMs: number;
  /** Written to the disk after it was handed out: its acknowledgement is the disk's head's. */
  spilled: boolean;
}

export class WriteBehindSpool implements BatchQueue {
  private readonly disk: DiskSpool;
  private readonly memory: MemoryBatch[] = [];
  private memoryBytes = 0;
  private spillTimer: NodeJS.Timeout | undefined;
  /** Batches memory gave up on: over its bound while the disk refused writes. */
  private readonly dropped = { batches: 0, items: 0 };
  private readonly now: () => number;

  constructor(private readonly options: WriteBehindSpoolOptions) {
    this.disk = options.disk;
    this.now = options.now ?? Date.now;
  }

  get pendingBatches(): number {
    return this.disk.pendingBatches + this.memory.length;
  }

  get pendingBytes(): number {
    return this.disk.pendingBytes + this.memoryBytes;
  }

  get unackedBytes(): number {
    return this.disk.unackedBytes + this.memoryBytes;
  }

  get droppedBatches(): number {
    return this.disk.droppedBatches + this.dropped.batches;
  }

  get droppedItems(): number {
    return this.disk.droppedItems + this.dropped.items;
  }

  /** `durable`: someone waits for the batch to be on disk; it is written now, after every older batch. */
  append(bytes: Buffer, itemCount: number, durable = false): void {
    if (durable || this.options.spillAfterMs <= 0) {
      this.spill(this.memory.length);
      this.disk.append(bytes, itemCount);
      return;
    }
    this.memory.push({ bytes, itemCount, appendedAtMs: this.now(), spilled: false });
    this.memoryBytes += bytes.length;
    if (this.memoryBytes > this.options.maxMemoryBytes && !this.spillQuietly(this.countOverMemory())) this.dropOverMemory();
    this.armSpill();
  }

  peek(): QueuedBatch | undefined {
    // Spilled batches went to the disk's tail; while older ones are there, the disk's head comes first.
    return this.disk.peek() ?? this.memory[0];
  }

  peekRun(maxBytes: number): QueuedBatch[] {
    const fromDisk = this.disk.peekRun(maxBytes);
    return fromDisk.length > 0 ? fromDisk : leadingRun(this.memory, maxBytes);
  }

  ack(batch: QueuedBatch): void {
    this.ackRun([batch]);
  }

  ackRun(batches: readonly QueuedBatch[]): void {
    const fromDisk: QueuedBatch[] = [];
    for (const batch of batches) {
      if (this.memory[0] === batch) {
        this.memory.shift();
        this.memoryBytes -= batch.bytes.length;
      } else if ((batch as MemoryBatch).spilled) {
        // Handed out from memory, then written: it is the disk's head now (memory is handed out only when the disk
        // holds nothing older). Unless a full disk dropped it meanwhile: then it is left alone (sent again, not lost).
        const head = this.disk.peek();
        if (head && (head.bytes === batch.bytes || head.bytes.equals(batch.bytes))) this.disk.ack(head);
      } else {
        fromDisk.push(batch);
      }
    }
    if (fromDisk.length > 0) this.disk.ackRun(fromDisk);
    if (this.memory.length === 0) this.disarmSpill();
  }

  /** Writes what memory still holds, then closes the disk: a graceful stop loses nothing undelivered. */
  close(): void {
    this.disarmSpill();
    this.spillQuietly(this.memory.length);
    this.disk.close();
  }

  private countOverMemory(): number {
    let bytes = this.memoryBytes;
    let count = 0;
    while (count < this.memory.length && bytes > this.options.maxMemoryBytes) bytes -= this.memory[count++].bytes.length;
    return count;
  }

  /** Writes the oldest `count` memory batches to the disk, in order; throws when the disk refuses one. */
  private spill(count: number): void {
    while (count-- > 0 && this.memory.length > 0) {
      const batch = this.memory[0];
      this.disk.append(batch.bytes, batch.itemCount);
      this.memory.shift();
      this.memoryBytes -= batch.bytes.length;
      batch.spilled = true;
    }
  }

  /** `spill`, with a refusal reported instead of thrown; false when the disk refused. */
  private spillQuietly(count: number): boolean {
    try {
      this.spill(count);
      return true;
    } catch (error) {
      this.options.onSpillError?.(error as Error);
      return false;
    }
  }

  /** The oldest batches beyond the memory bound, dropped and counted (the disk refused them). */
  private dropOverMemory(): void {
    // The head may be with the sink now: it stays, so its acknowledgement still finds it.
    while (this.memory.length > 1 && this.memoryBytes > this.options.maxMemoryBytes) {
      const [oldest] = this.memory.splice(1, 1);
      this.memoryBytes -= oldest.bytes.length;
      this.dropped.batches++;
      this.dropped.items += oldest.itemCount;
    }
  }

  /** Wakes when the oldest memory batch is due; after a refused write, a whole `spillAfterMs` later. */
  private armSpill(retry = false): void {
    if (this.spillTimer || this.memory.length === 0) return;
    const dueInMs = retry ? this.options.spillAfterMs : Math.max(0, this.memory[0].appendedAtMs + this.options.spillAfterMs - this.now());
    this.spillTimer = setTimeout(() => {
      this.spillTimer = undefined;
      const dueBefore = this.now() - this.options.spillAfterMs;
      let count = 0;
      while (count < this.memory.length && this.memory[count].appendedAtMs <= dueBefore) count++;
      this.armSpill(!this.spillQuietly(count));
    }, dueInMs);
    this.spillTimer.unref();
  }

  private disarmSpill(): void {
    if (!this.spillTimer) return;
    clearTimeout(this.spillTimer);
    this.spillTimer = undefined;
  }
}
