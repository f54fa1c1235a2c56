/**
 * A batch being filled: each encoded item is copied, framed, into one buffer that is kept from batch to batch, and
 * a cut hands out one copy of the framed batch (in memory of a BatchBufferPool, where its owner has one).
 *
 * Why one reused buffer: items kept as buffers of their own until the cut lived up to `exporters.batching.maxDelayMs`
 * (a second), long enough to be promoted by the collector with their memory, which only a full collection frees.
 * At 1,000 calls/s the sensor's array buffers grew by ~2.5 MB/s between full collections, and V8 started one every
 * 2.5 s to free them. The reused buffer is never garbage; the cut copy lives until its sink accepts it.
 */
import type { BatchBufferPool } from './batch-buffer-pool';
import { encodedItemBytes, type BatchFraming } from './span-json';

/** The buffer's first size; it grows to fit the largest batch and is let go after a batch far beyond `retainBytes`. */
const INITIAL_BYTES = 64 * 1024;

export class BatchBuilder {
  private buffer = Buffer.alloc(0);
  private length = 0;
  private count = 0;
  private readonly openBytes: number;
  private readonly separatorBytes: number;
  private readonly closeBytes: number;

  /**
   * `retainBytes`: the largest buffer kept for the next batch (a larger one, grown for a huge item, is freed).
   * `pool`: where cut batches get their memory, for an owner that gives it back once a batch was delivered.
   */
  constructor(
    private readonly framing: BatchFraming,
    private readonly retainBytes: number,
    private readonly pool?: BatchBufferPool,
  ) {
    this.openBytes = Buffer.byteLength(framing.open);
    this.separatorBytes = Buffer.byteLength(framing.separator);
    this.closeBytes = Buffer.byteLength(framing.close);
  }

  /** Items in the batch. */
  get items(): number {
    return this.count;
  }

  /** The items' bytes with a separator each: what a batch's size limit is held against. */
  get bytes(): number {
    // The buffer holds the opening, the items and a separator between each two.
    return this.count === 0 ? 0 : this.length - this.openBytes + this.separatorBytes;
  }

  /** `bytes` once an item of `itemBytes` is added. */
  bytesWith(itemBytes: number): number {
    return this.bytes + itemBytes + this.separatorBytes;
  }

  /** Copies one encoded item in; `bytes` is its UTF-8 size when the caller has measured it already. */
  add(item: string | Uint8Array, bytes: number = encodedItemBytes(item)): void {
    // Room for the closing bytes too, so the cut never grows the buffer.
    this.reserve((this.count === 0 ? this.openBytes : this.separatorBytes) + bytes + this.closeBytes);
    if (this.count === 0) this.length += this.buffer.write(this.framing.open, this.length, 'utf8');
    else if (this.separatorBytes > 0) this.length += this.buffer.write(this.framing.separator, this.length, 'utf8');
    if (typeof item === 'string') {
      this.length += this.buffer.write(item, this.length, bytes, 'utf8');
    } else {
      this.buffer.set(item, this.length);
      this.length += item.length;
    }
    this.count++;
  }

  /** The framed batch (its own copy; an empty batch is just the framing), and the builder empty for the next. */
  take(): Buffer {
    if (this.count === 0) return Buffer.from(this.framing.open + this.framing.close, 'utf8');
    this.length += this.buffer.write(this.framing.close, this.length, 'utf8');
    const batch = this.pool ? this.pool.take(this.length) : Buffer.allocUnsafe(this.length);
    this.buffer.copy(batch, 0, 0, this.length);
    this.length = 0;
    this.count = 0;
    if (this.buffer.length > Math.max(INITIAL_BYTES, 2 * this.retainBytes)) this.buffer = Buffer.alloc(0);
    return batch;
  }

  private reserve(bytes: number): void {
    const needed = this.length + bytes;
    if (needed <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(needed, INITIAL_BYTES, this.buffer.length * 2));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }
}

/** The framed batch of these encoded items, in one buffer. */
export function joinEncodedItems(items: ReadonlyArray<string | Uint8Array>, framing: BatchFraming): Buffer {
  const builder = new BatchBuilder(framing, 0);
  for (const item of items) builder.add(item);
  return builder.take();
}
