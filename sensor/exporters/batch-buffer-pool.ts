/**
 * The memory of cut batches, used again once their sink has taken them.
 *
 * Why: a cut batch lives until its sink accepts it, which under load is longer than the young generation's
 * collections are apart, so each batch's ArrayBuffer was promoted, and its memory (a MiB per batch of 512 1 KiB calls)
 * stayed in use until a full collection. V8 counts that memory against the old generation's limit: in the LLM loop the
 * sensor's array buffers grew by 1-2 MB/s of dead batches and V8 ran a full collection about once a second to free
 * them, on the JS thread and on its workers. With batches written into buffers used again, no full collection ran in
 * the same 5 s, and the sensor's CPU per call fell by 9-27 µs in three paired runs (docs/benchmarks.md).
 *
 * A buffer goes back only through `release`, which the batching exporter calls for a batch its sink took whole and
 * no queue holds any more (see BatchingExporter.deliver); a batch that is dropped, or stays on disk, is left to the
 * collector as before. Small batches are not pooled: Node's own pool serves them, and a pooled buffer much larger than
 * its batch would hold memory a queue of many small batches (a sink that is down) does not account for.
 */

/** Batches below this are allocated as before. */
export const MIN_POOLED_BYTES = 64 * 1024;
/** Free buffers kept for the next batches: a healthy sink holds one or two at a time. */
const MAX_FREE_BUFFERS = 4;

/**
 * A buffer's capacity for a batch of `length` bytes: rounded up to an eighth of the power of two below it, so batches
 * of nearly the same size (a full batch varies by a few KiB) share buffers, at most 12.5% larger than the batch.
 */
export function pooledCapacity(length: number): number {
  const step = 2 ** Math.floor(Math.log2(length)) / 8;
  return Math.ceil(length / step) * step;
}

export class BatchBufferPool {
  private readonly free: Buffer[] = [];
  /** Each handed-out batch's whole buffer, by the batch (a view of its start); weak, as a batch may never come back. */
  private readonly handedOut = new WeakMap<Uint8Array, Buffer>();

  /** `maxRetainedBytes`: a buffer larger than this (grown for a huge item) is not kept once released. */
  constructor(private readonly maxRetainedBytes: number) {}

  /** Free buffers waiting to be used again. */
  get freeBuffers(): number {
    return this.free.length;
  }

  /** `length` bytes to write a batch into: the start of a free buffer that fits, or of a new one. */
  take(length: number): Buffer {
    if (length < MIN_POOLED_BYTES) return Buffer.allocUnsafe(length);
    let whole: Buffer | undefined;
    for (let index = 0; index < this.free.length; index++) {
      if (this.free[index].length >= length) {
        whole = this.free.splice(index, 1)[0];
        break;
      }
    }
    whole ??= Buffer.allocUnsafe(pooledCapacity(length));
    const batch = whole.subarray(0, length);
    this.handedOut.set(batch, whole);
    return batch;
  }

  /**
   * The batch's buffer is free again: its caller guarantees nothing reads or writes `batch` from now on. A batch this
   * pool did not hand out, or one released already, is ignored.
   */
  release(batch: Uint8Array): void {
    const whole = this.handedOut.get(batch);
    if (whole === undefined) return;
    this.handedOut.delete(batch);
    if (this.free.length < MAX_FREE_BUFFERS && whole.length <= this.maxRetainedBytes) this.free.push(whole);
  }
}
