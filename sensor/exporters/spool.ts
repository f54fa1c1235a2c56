/**
 * Bounded FIFO of encoded batches waiting for a sink: on disk (survives a sink outage and a process restart) or in
 * memory (when no spool directory is configured). With a spool directory, the exporters put a WriteBehindSpool in
 * front of the disk, so batches their sink takes at once are never written.
 *
 * Disk layout: `segment-<16-digit sequence>.spool` files, append-only, each a run of records
 * `[u32 payload length][u32 crc32(payload)][u32 item count][payload]` (little endian), plus `cursor.json`
 * naming the first unacknowledged byte. A segment is fsync'd when it is rotated; a record is acknowledged only
 * after its sink accepted it, so a restart loses nothing that was not accepted. The cursor is written at most once
 * per `cursorDelayMs` (and at close): a crash resends what was accepted since the last write, never loses it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';

export interface QueuedBatch {
  readonly bytes: Buffer;
  readonly itemCount: number;
}

export interface BatchQueue {
  /** `durable`: the appender waits for the batch to be stored (see WriteBehindSpool); queues that always store ignore it. */
  append(bytes: Buffer, itemCount: number, durable?: boolean): void;
  /** The oldest unacknowledged batch, the same one until `ack`. */
  peek(): QueuedBatch | undefined;
  /**
   * The oldest unacknowledged batches, in order, whose payloads together stay within `maxBytes` (the first one is
   * always included): several queued batches delivered as one, e.g. one S3 object. Acknowledge them in order.
   */
  peekRun(maxBytes: number): QueuedBatch[];
  /** Acknowledges the batch `peek` returned (or the first not yet acknowledged of a `peekRun`). */
  ack(batch: QueuedBatch): void;
  /** Acknowledges a run `peekRun` returned, in order, recording the new head once rather than once per batch. */
  ackRun(batches: readonly QueuedBatch[]): void;
  readonly pendingBatches: number;
  readonly pendingBytes: number;
  /** Payload bytes of the unacknowledged batches (pendingBytes also counts acknowledged records not yet cleaned up). */
  readonly unackedBytes: number;
  readonly droppedBatches: number;
  readonly droppedItems: number;
  close(): void;
}

const HEADER_BYTES = 12;

/** The first batches of `batches` whose payloads together stay within `maxBytes`; the first always (see peekRun). */
export function leadingRun<B extends QueuedBatch>(batches: readonly B[], maxBytes: number): B[] {
  const run: B[] = [];
  let bytes = 0;
  for (const batch of batches) {
    if (run.length > 0 && bytes + batch.bytes.length > maxBytes) break;
    run.push(batch);
    bytes += batch.bytes.length;
  }
  return run;
}

/** Writes every byte of `buffers`, in order, at the file's position, resuming after a short write. */
export function writeAllSync(fd: number, buffers: Buffer[], writev: (fd: number, buffers: Buffer[]) => number = fs.writevSync): void {
  let pending = buffers.filter((buffer) => buffer.length > 0);
  while (pending.length > 0) {
    let written = writev(fd, pending);
    if (written <= 0) throw new Error(`spool: write made no progress (${written} bytes)`);
    const rest: Buffer[] = [];
    for (const buffer of pending) {
      if (written >= buffer.length) written -= buffer.length;
      else {
        rest.push(written > 0 ? buffer.subarray(written) : buffer);
        written = 0;
      }
    }
    pending = rest;
  }
}
const SEGMENT_FILE = /^segment-(\d{16})\.spool$/;
const CURSOR_FILE = 'cursor.json';

interface RecordEntry {
  offset: number;
  length: number;
  itemCount: number;
}

interface Segment {
  sequence: number;
  file: string;
  size: number;
  records: RecordEntry[];
}

interface DiskBatch extends QueuedBatch {
  readonly segment: number;
  readonly offset: number;
}

export interface DiskSpoolOptions {
  dir: string;
  /** Upper bound of all segment files together; when full the oldest segment is dropped. */
  maxBytes: number;
  /** Rotation size. Default: a quarter of maxBytes, at most 16 MiB. */
  segmentBytes?: number;
  /** Called with the batches and items lost when the spool drops its oldest segment or refuses an oversized batch. */
  onDrop?: (batches: number, items: number, reason: 'full' | 'oversized') => void;
  /** How records reach the segment file; `fs.writevSync` unless a test stands in a failing disk. */
  writev?: (fd: number, buffers: Buffer[]) => number;
  /**
   * Longest time an acknowledgement waits to be written to the cursor file; 0 writes it at once. Default 1000: a
   * busy sink acknowledges many batches a second, and each cursor write is a file write and a rename.
   */
  cursorDelayMs?: number;
}

export class DiskSpool implements BatchQueue {
  readonly dir: string;
  private readonly maxBytes: number;
  private readonly segmentBytes: number;
  private readonly onDrop?: DiskSpoolOptions['onDrop'];
  private readonly writev?: DiskSpoolOptions['writev'];
  private readonly cursorDelayMs: number;
  private cursorTimer: NodeJS.Timeout | undefined;
  private segments: Segment[] = [];
  /** Index of the first unacknowledged record in segments[0]. */
  private headIndex = 0;
  /** Never reused, so a cursor naming an old segment can never match a new one. */
  private nextSequence = 1;
  private activeFd: number | undefined;
  private totalBytes = 0;
  private unacked = 0;
  private dropped = { batches: 0, items: 0 };
  private recent = new Map<string, Buffer>();
  private recentBytes = 0;
  private readonly maxRecentBytes: number;

  constructor(options: DiskSpoolOptions) {
    if (!(options.maxBytes > HEADER_BYTES)) throw new Error(`spool: maxBytes must be larger than ${HEADER_BYTES}, got ${options.maxBytes}`);
    this.dir = options.dir;
    this.maxBytes = options.maxBytes;
    this.segmentBytes = Math.max(HEADER_BYTES + 1, options.segmentBytes ?? Math.min(Math.floor(options.maxBytes / 4), 16 * 1024 * 1024));
    this.maxRecentBytes = Math.min(this.maxBytes, 8 * 1024 * 1024);
    this.onDrop = options.onDrop;
    this.writev = options.writev;
    this.cursorDelayMs = options.cursorDelayMs ?? 1000;
    fs.mkdirSync(this.dir, { recursive: true });
    this.recover();
  }

  get pendingBatches(): number {
    let count = 0;
    this.segments.forEach((segment, i) => (count += segment.records.length - (i === 0 ? this.headIndex : 0)));
    return count;
  }

  get pendingBytes(): number {
    return this.totalBytes;
  }

  get unackedBytes(): number {
    return this.unacked;
  }

  get droppedBatches(): number {
    return this.dropped.batches;
  }

  get droppedItems(): number {
    return this.dropped.items;
  }

  append(bytes: Buffer, itemCount: number): void {
    const recordBytes = HEADER_BYTES + bytes.length;
    if (recordBytes > this.maxBytes) {
      this.countDrop(1, itemCount, 'oversized');
      return;
    }
    let active = this.activeSegment();
    if (!active || active.size >= this.segmentBytes) active = this.rotate();
    while (this.totalBytes + recordBytes > this.maxBytes) {
      if (this.segments[0] === active) active = this.rotate();
      this.dropOldestSegment();
    }
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeUInt32LE(bytes.length, 0);
    header.writeUInt32LE(crc32(bytes), 4);
    header.writeUInt32LE(itemCount, 8);
    try {
      writeAllSync(this.activeFd!, [header, bytes], this.writev); // no copy of a large batch into one buffer
    } catch (error) {
      // A torn record (disk full mid-write) would shift every later record in this segment: cut it off.
      try {
        fs.ftruncateSync(this.activeFd!, active.size);
      } catch {
        // The restart scan drops a torn tail too.
      }
      throw error;
    }
    const entry: RecordEntry = { offset: active.size, length: bytes.length, itemCount };
    active.records.push(entry);
    active.size += recordBytes;
    this.totalBytes += recordBytes;
    this.unacked += bytes.length;
    this.remember(active.sequence, entry.offset, bytes);
  }

  peek(): DiskBatch | undefined {
    while (this.segments.length > 0) {
      const head = this.segments[0];
      if (this.headIndex < head.records.length) {
        const entry = head.records[this.headIndex];
        return { segment: head.sequence, offset: entry.offset, itemCount: entry.itemCount, bytes: this.readPayload(head, entry) };
      }
      if (head === this.activeSegment()) return undefined;
      this.removeHeadSegment();
    }
    return undefined;
  }

  peekRun(maxBytes: number): DiskBatch[] {
    const first = this.peek(); // also skips fully acknowledged head segments
    if (!first) return [];
    const run: DiskBatch[] = [first];
    let bytes = first.bytes.length;
    let index = this.headIndex + 1;
    for (const segment of this.segments) {
      for (; index < segment.records.length; index++) {
        const entry = segment.records[index];
        if (bytes + entry.length > maxBytes) return run;
        run.push({ segment: segment.sequence, offset: entry.offset, itemCount: entry.itemCount, bytes: this.readPayload(segment, entry) });
        bytes += entry.length;
      }
      index = 0;
    }
    return run;
  }

  ack(batch: QueuedBatch): void {
    if (this.advancePast(batch)) this.scheduleCursor();
  }

  ackRun(batches: readonly QueuedBatch[]): void {
    let advanced = false;
    for (const batch of batches) advanced = this.advancePast(batch) || advanced;
    if (advanced) this.scheduleCursor();
  }

  /** Moves the head past `batch` in memory; false when it is not the head (see `ack`). The cursor file is the caller's. */
  private advancePast(batch: QueuedBatch): boolean {
    const head = this.segments[0];
    const entry = head?.records[this.headIndex];
    const diskBatch = batch as DiskBatch;
    // After a drop-oldest the acknowledged batch may already be gone; only the current head moves the cursor.
    if (!entry || diskBatch.segment !== head.sequence || diskBatch.offset !== entry.offset) return false;
    this.forget(head.sequence, entry.offset);
    this.unacked -= entry.length;
    this.headIndex++;
    if (this.headIndex >= head.records.length && head !== this.activeSegment()) this.removeHeadSegment();
    return true;
  }

  close(): void {
    if (this.cursorTimer) {
      clearTimeout(this.cursorTimer);
      this.cursorTimer = undefined;
      this.writeCursor();
    }
    if (this.activeFd !== undefined) {
      fs.fsyncSync(this.activeFd);
      fs.closeSync(this.activeFd);
      this.activeFd = undefined;
    }
  }

  private activeSegment(): Segment | undefined {
    return this.activeFd === undefined ? undefined : this.segments[this.segments.length - 1];
  }

  private rotate(): Segment {
    if (this.activeFd !== undefined) {
      fs.fsyncSync(this.activeFd);
      fs.closeSync(this.activeFd);
    }
    const sequence = this.nextSequence++;
    const file = path.join(this.dir, `segment-${String(sequence).padStart(16, '0')}.spool`);
    this.activeFd = fs.openSync(file, 'a');
    const segment: Segment = { sequence, file, size: 0, records: [] };
    this.segments.push(segment);
    return segment;
  }

  private dropOldestSegment(): void {
    const oldest = this.segments[0];
    const unacked = oldest.records.slice(this.headIndex);
    this.unacked -= unacked.reduce((sum, entry) => sum + entry.length, 0);
    this.countDrop(
      unacked.length,
      unacked.reduce((sum, entry) => sum + entry.itemCount, 0),
      'full',
    );
    this.removeHeadSegment();
    this.scheduleCursor();
  }

  private removeHeadSegment(): void {
    const head = this.segments.shift()!;
    for (const entry of head.records) this.forget(head.sequence, entry.offset);
    this.totalBytes -= head.size;
    this.headIndex = 0;
    fs.rmSync(head.file, { force: true });
  }

  private countDrop(batches: number, items: number, reason: 'full' | 'oversized'): void {
    if (batches === 0) return;
    this.dropped.batches += batches;
    this.dropped.items += items;
    this.onDrop?.(batches, items, reason);
  }

  /**
   * The cursor file catches up within cursorDelayMs. A cursor behind the head only makes a restart resend what was
   * accepted meanwhile. A failed write is retried by the next acknowledgement.
   */
  private scheduleCursor(): void {
    if (this.cursorDelayMs <= 0) return this.writeCursor();
    if (this.cursorTimer) return;
    this.cursorTimer = setTimeout(() => {
      this.cursorTimer = undefined;
      try {
        this.writeCursor();
      } catch {
        // The disk refused; the cursor stays behind, which only means resending after a restart.
      }
    }, this.cursorDelayMs);
    this.cursorTimer.unref();
  }

  private writeCursor(): void {
    const head = this.segments[0];
    const cursor = head ? { segment: head.sequence, offset: head.records[this.headIndex]?.offset ?? head.size } : { segment: 0, offset: 0 };
    const temporary = path.join(this.dir, `${CURSOR_FILE}.tmp`);
    fs.writeFileSync(temporary, JSON.stringify(cursor));
    fs.renameSync(temporary, path.join(this.dir, CURSOR_FILE));
  }

  private readCursor(): { segment: number; offset: number } {
    try {
      const cursor = JSON.parse(fs.readFileSync(path.join(this.dir, CURSOR_FILE), 'utf8')) as { segment: number; offset: number };
      if (Number.isInteger(cursor.segment) && Number.isInteger(cursor.offset)) return cursor;
    } catch {
      // No cursor yet: nothing was ever acknowledged.
    }
    return { segment: 0, offset: 0 };
  }

  /** Rebuilds the segment index from disk; a torn record at the tail of the last segment (crash mid-write) is cut off. */
  private recover(): void {
    const cursor = this.readCursor();
    const files = fs
      .readdirSync(this.dir)
      .map((name) => ({ name, match: SEGMENT_FILE.exec(name) }))
      .filter((f) => f.match)
      .map((f) => ({ file: path.join(this.dir, f.name), sequence: Number(f.match![1]) }))
      .sort((a, b) => a.sequence - b.sequence);
    this.nextSequence = Math.max(cursor.segment, files.length > 0 ? files[files.length - 1].sequence : 0) + 1;
    for (const { file, sequence } of files) {
      if (sequence < cursor.segment) {
        fs.rmSync(file, { force: true });
        continue;
      }
      const contents = fs.readFileSync(file);
      const records: RecordEntry[] = [];
      let offset = 0;
      while (offset + HEADER_BYTES <= contents.length) {
        const length = contents.readUInt32LE(offset);
        const end = offset + HEADER_BYTES + length;
        if (end > contents.length) break;
        const payload = contents.subarray(offset + HEADER_BYTES, end);
        if (crc32(payload) !== contents.readUInt32LE(offset + 4)) break;
        records.push({ offset, length, itemCount: contents.readUInt32LE(offset + 8) });
        offset = end;
      }
      if (offset < contents.length) fs.truncateSync(file, offset);
      this.segments.push({ sequence, file, size: offset, records });
      this.totalBytes += offset;
    }
    const head = this.segments[0];
    if (head && head.sequence === cursor.segment) {
      this.headIndex = head.records.findIndex((entry) => entry.offset >= cursor.offset);
      if (this.headIndex < 0) this.headIndex = head.records.length;
    }
    while (this.segments.length > 0 && this.headIndex >= this.segments[0].records.length) this.removeHeadSegment();
    this.segments.forEach((segment, i) => {
      for (const entry of segment.records.slice(i === 0 ? this.headIndex : 0)) this.unacked += entry.length;
    });
  }

  private readPayload(segment: Segment, entry: RecordEntry): Buffer {
    const cached = this.recent.get(`${segment.sequence}:${entry.offset}`);
    if (cached) return cached;
    const payload = Buffer.alloc(entry.length);
    const fd = fs.openSync(segment.file, 'r');
    try {
      fs.readSync(fd, payload, 0, entry.length, entry.offset + HEADER_BYTES);
    } finally {
      fs.closeSync(fd);
    }
    return payload;
  }

  // Recently appended payloads stay in memory so a healthy sink never waits on a disk read.
  private remember(sequence: number, offset: number, bytes: Buffer): void {
    if (bytes.length > this.maxRecentBytes) return;
    this.recent.set(`${sequence}:${offset}`, bytes);
    this.recentBytes += bytes.length;
    for (const [key, value] of this.recent) {
      if (this.recentBytes <= this.maxRecentBytes) break;
      this.recent.delete(key);
      this.recentBytes -= value.length;
    }
  }

  private forget(sequence: number, offset: number): void {
    const key = `${sequence}:${offset}`;
    const cached = this.recent.get(key);
    if (cached) {
      this.recent.delete(key);
      this.recentBytes -= cached.length;
    }
  }
}

/** In-memory bounded FIFO with the same contract, for sinks without a spool directory. */
export class MemoryQueue implements BatchQueue {
  private readonly batches: QueuedBatch[] = [];
  private bytes = 0;
  private dropped = { batches: 0, items: 0 };

  constructor(
    private readonly maxBytes: number,
    private readonly onDrop?: DiskSpoolOptions['onDrop'],
  ) {}

  get pendingBatches(): number {
    return this.batches.length;
  }
  get pendingBytes(): number {
    return this.bytes;
  }
  get unackedBytes(): number {
    return this.bytes;
  }
  get droppedBatches(): number {
    return this.dropped.batches;
  }
  get droppedItems(): number {
    return this.dropped.items;
  }

  append(bytes: Buffer, itemCount: number): void {
    if (bytes.length > this.maxBytes) {
      this.drop(1, itemCount, 'oversized');
      return;
    }
    while (this.bytes + bytes.length > this.maxBytes && this.batches.length > 0) {
      const oldest = this.batches.shift()!;
      this.bytes -= oldest.bytes.length;
      this.drop(1, oldest.itemCount, 'full');
    }
    this.batches.push({ bytes, itemCount });
    this.bytes += bytes.length;
  }

  peek(): QueuedBatch | undefined {
    return this.batches[0];
  }

  peekRun(maxBytes: number): QueuedBatch[] {
    return leadingRun(this.batches, maxBytes);
  }

  ack(batch: QueuedBatch): void {
    if (this.batches[0] !== batch) return;
    this.batches.shift();
    this.bytes -= batch.bytes.length;
  }

  ackRun(batches: readonly QueuedBatch[]): void {
    for (const batch of batches) this.ack(batch);
  }

  close(): void {}

  private drop(batches: number, items: number, reason: 'full' | 'oversized'): void {
    this.dropped.batches += batches;
    this.dropped.items += items;
    this.onDrop?.(batches, items, reason);
  }
}
