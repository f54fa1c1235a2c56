/**
 * Delivery wrapper shared by every sink: batches items (max size, max delay), puts each batch in a queue before
 * sending (with a spool directory, a WriteBehindSpool: written at once when a caller of `export` waits for it,
 * otherwise only if the sink does not take it in time), sends the oldest batch first and acknowledges it only
 * after the sink accepted it, retrying with capped exponential backoff and jitter while the sink is down.
 *
 * A sink that wants few large writes (S3 objects) coalesces: the batches are still queued within `maxDelayMs`, so
 * a sender is acknowledged quickly and nothing acknowledged lives only in memory, but they are delivered together
 * once `coalesce.maxBytes` of them wait or the oldest has waited `coalesce.maxWaitMs`.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { BatchBufferPool } from './batch-buffer-pool';
import { BatchBuilder } from './batch-builder';
import { encodedItemBytes, type BatchCodec } from './span-json';
import { PermanentExportError, silentLogger, type ExportLogger, type Exporter } from './span-exporter';
import type { BatchQueue, QueuedBatch } from './spool';

export interface BatchingOptions {
  /** Items per batch handed to the sink. */
  maxBatch: number;
  /** Longest time an item waits for its batch to fill. */
  maxDelayMs: number;
  /**
   * Encoded bytes per batch: a batch is cut before it grows past this (an item bigger on its own goes alone).
   * Keeps request and object sizes sane and the memory of a batch in flight bounded when spans carry large prompts.
   */
  maxBatchBytes?: number;
}

export interface CoalesceOptions {
  /** Payload bytes delivered in one sink call at most; delivery starts as soon as this much waits. */
  maxBytes: number;
  /** Longest time a queued batch waits for others to join it. */
  maxWaitMs: number;
}

export interface RetryOptions {
  initialDelayMs: number;
  maxDelayMs: number;
  /** Growth per failed attempt. Default 2. */
  multiplier?: number;
  /** Fraction of each delay taken off at random, so many senders do not retry in step. Default 0.5. */
  jitter?: number;
}

export interface BatchingExporterOptions<T> {
  sink: Exporter<T>;
  codec: BatchCodec<T>;
  queue: BatchQueue;
  batching: BatchingOptions;
  retry: RetryOptions;
  /**
   * Deliver several queued batches as one.
   * @default - each batch on its own, as soon as it is queued
   */
  coalesce?: CoalesceOptions;
  logger?: ExportLogger;
  /** Registry for the delivery counters (`sightline_exporter_*`). */
  registry?: Registry;
  random?: () => number;
}

export function backoffDelayMs(attempt: number, retry: RetryOptions, random: () => number = Math.random): number {
  const capped = Math.min(retry.maxDelayMs, retry.initialDelayMs * Math.pow(retry.multiplier ?? 2, attempt));
  return capped * (1 - (retry.jitter ?? 0.5) * random());
}

interface DeliveryMetrics {
  items: Counter<'exporter' | 'outcome'>;
  failedAttempts: Counter<'exporter'>;
  queuedBatches: Gauge<'exporter'>;
}

function deliveryMetrics(registry: Registry): DeliveryMetrics {
  // Several exporters share one registry, so the metrics are created once per registry.
  const existing = (name: string) => registry.getSingleMetric(name);
  return {
    items: (existing('sightline_exporter_items_total') as Counter<'exporter' | 'outcome'>) ??
      new Counter({
        name: 'sightline_exporter_items_total',
        help: 'Items (spans or metric aggregates) per exporter by outcome: delivered, or dropped (spool full, oversized, rejected by the sink).',
        labelNames: ['exporter', 'outcome'],
        registers: [registry],
      }),
    failedAttempts: (existing('sightline_exporter_failed_attempts_total') as Counter<'exporter'>) ??
      new Counter({
        name: 'sightline_exporter_failed_attempts_total',
        help: 'Delivery attempts that failed and will be retried.',
        labelNames: ['exporter'],
        registers: [registry],
      }),
    queuedBatches: (existing('sightline_exporter_queued_batches') as Gauge<'exporter'>) ??
      new Gauge({
        name: 'sightline_exporter_queued_batches',
        help: 'Batches waiting in the spool for their sink.',
        labelNames: ['exporter'],
        registers: [registry],
      }),
  };
}

export interface DeliveryStats {
  deliveredItems: number;
  deliveredBatches: number;
  failedAttempts: number;
  /** Refused by the sink as permanently bad (a whole batch, or some items of one). */
  rejectedItems: number;
  queuedBatches: number;
  /** Lost to a full spool or an oversized batch. */
  spoolDroppedItems: number;
  /** Lost because the queue could not store them (a spool write failed, e.g. disk full); their senders were told. */
  unqueuedItems: number;
}

export class BatchingExporter<T> implements Exporter<T> {
  readonly name: string;
  private readonly sink: Exporter<T>;
  private readonly codec: BatchCodec<T>;
  private readonly queue: BatchQueue;

  /** Undelivered payload bytes (the spool files may hold delivered records a while longer). */
  get pendingBytes(): number {
    return this.queue.unackedBytes;
  }
  private readonly batching: BatchingOptions;
  private readonly retry: RetryOptions;
  private readonly coalesce?: CoalesceOptions;
  private readonly logger: ExportLogger;
  private readonly random: () => number;
  private readonly metrics?: DeliveryMetrics;
  /** Items offered and not yet cut into a batch, already encoded (see BatchCodec) and copied in. */
  private readonly pending: BatchBuilder;
  /** The codec writes batches in the sink's own wire format: they are sent as they are. */
  private readonly sendsEncoded: boolean;
  /** Memory for cut batches, given back once a batch sent as it is was delivered (batch-buffer-pool.ts). */
  private readonly batchBuffers?: BatchBufferPool;
  /** The batch being filled holds items of `export`: it is stored at once when cut (see BatchQueue.append). */
  private pendingDurable = false;
  /** Callers of `export` whose items wait in `buffer`; settled when that buffer is cut into the queue. */
  private bufferWaiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  private batchTimer: NodeJS.Timeout | undefined;
  private pumping: Promise<void> | undefined;
  private attempt = 0;
  private stopped = false;
  private wakeUp: (() => void) | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];
  private spoolDroppedSeen = 0;
  /** When each batch queued by this process was appended, oldest first; batches found on disk at start count as old. */
  private readonly queuedAtMs: number[] = [];
  private recoveredBatches = 0;
  private coalesceTimer: NodeJS.Timeout | undefined;
  /** While set, coalescing waits for nobody: everything queued goes out now (flush before shutdown). */
  private draining = false;
  private readonly counts = { deliveredItems: 0, deliveredBatches: 0, failedAttempts: 0, rejectedItems: 0, unqueuedItems: 0 };

  constructor(options: BatchingExporterOptions<T>) {
    if (!(options.batching.maxBatch >= 1)) throw new Error(`exporters.batching.maxBatch must be at least 1, got ${options.batching.maxBatch}`);
    this.sink = options.sink;
    this.name = options.sink.name;
    this.codec = options.codec;
    this.sendsEncoded = this.sink.exportEncoded !== undefined && this.codec.format !== undefined && this.codec.format === this.sink.encodedFormat;
    if (!this.sendsEncoded && !this.codec.decode) {
      throw new Error(`exporter ${this.name}: its batch codec (${this.codec.format ?? 'no format'}) neither decodes nor matches what the sink sends`);
    }
    const maxBatchBytes = options.batching.maxBatchBytes ?? 1024 * 1024;
    // Only batches sent as they are come back whole (see deliver); decoded ones may live on in their items.
    this.batchBuffers = this.sendsEncoded ? new BatchBufferPool(2 * maxBatchBytes) : undefined;
    this.pending = new BatchBuilder(this.codec.framing, maxBatchBytes, this.batchBuffers);
    this.queue = options.queue;
    this.batching = options.batching;
    this.retry = options.retry;
    this.coalesce = options.coalesce;
    if (this.coalesce && this.sendsEncoded) throw new Error(`exporter ${this.name}: a sink that sends encoded batches as they are cannot coalesce them`);
    this.logger = options.logger ?? silentLogger;
    this.random = options.random ?? Math.random;
    this.metrics = options.registry ? deliveryMetrics(options.registry) : undefined;
    // Batches left by an earlier run go out first, without waiting to coalesce.
    this.recoveredBatches = this.queue.pendingBatches;
    if (this.queue.peek()) this.kick();
  }

  /**
   * Buffers the items; never blocks and never throws for a sink problem. Throws when a batch could not be queued
   * (a spool write failed), after offering every item: each is then queued, buffered, or counted as unqueued.
   */
  offer(items: readonly T[]): void {
    this.addItems(items, false);
  }

  /** `durable`: the caller waits until the items are stored, so the batch holding them is written at once. */
  private addItems(items: readonly T[], durable: boolean): void {
    if (this.stopped) throw new Error(`exporter ${this.name}: offer after shutdown`);
    const maxBatchBytes = this.batching.maxBatchBytes ?? Infinity;
    let queueError: unknown;
    const cut = () => {
      try {
        this.cutBatch();
      } catch (error) {
        queueError ??= error;
      }
    };
    for (const item of items) {
      let encoded: string | Uint8Array;
      try {
        encoded = this.codec.encodeItem(item);
      } catch (error) {
        this.logger.error({ exporter: this.name, err: (error as Error)?.message }, 'item cannot be encoded; dropping it');
        this.counts.rejectedItems++;
        this.metrics?.items.inc({ exporter: this.name, outcome: 'dropped' });
        continue;
      }
      // UTF-8 bytes, not string length: a prompt in CJK is three bytes a character on the wire and in the spool.
      const encodedBytes = encodedItemBytes(encoded);
      if (this.pending.items > 0 && this.pending.bytesWith(encodedBytes) > maxBatchBytes) cut();
      this.pending.add(encoded, encodedBytes);
      if (durable) this.pendingDurable = true;
      if (this.pending.items >= this.batching.maxBatch) cut();
    }
    if (this.pending.items > 0 && !this.batchTimer) {
      this.batchTimer = setTimeout(() => this.cutBatchAndLog(), this.batching.maxDelayMs);
      this.batchTimer.unref();
    }
    if (queueError !== undefined) throw queueError;
  }

  /**
   * Like `offer`, but resolves only once the items are in the queue (on disk, with a spool), not when delivered:
   * a receiver that acknowledges its sender after this loses nothing if the process dies right after.
   * Items still wait for their batch to fill, at most `maxDelayMs`.
   */
  async export(items: T[]): Promise<void> {
    this.addItems(items, true);
    if (this.pending.items === 0) return;
    await new Promise<void>((resolve, reject) => this.bufferWaiters.push({ resolve, reject }));
  }

  /** Queues the partly filled batch now. */
  flush(): void {
    this.cutBatch();
  }

  /** Resolves when everything offered so far has been delivered or dropped, or after `timeoutMs`; true if the queue is empty. */
  async waitUntilDelivered(timeoutMs = 30_000): Promise<boolean> {
    this.cutBatchAndLog();
    this.draining = true;
    this.kick();
    const deadline = Date.now() + timeoutMs;
    try {
      while (this.queue.peek() && Date.now() < deadline && !this.stopped) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(50, Math.max(1, deadline - Date.now())));
          this.idleWaiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    } finally {
      this.draining = false;
    }
    return !this.queue.peek();
  }

  stats(): DeliveryStats {
    return { ...this.counts, queuedBatches: this.queue.pendingBatches, spoolDroppedItems: this.queue.droppedItems };
  }

  /** Queues what is buffered, tries to deliver it for up to `timeoutMs`, then stops; undelivered batches stay in the spool. */
  async shutdown(timeoutMs = 5_000): Promise<void> {
    if (this.stopped) return;
    await this.waitUntilDelivered(timeoutMs);
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    clearTimeout(this.coalesceTimer);
    this.wakeUp?.();
    // An export in flight must settle before the spool closes, or its acknowledgement would be lost and resent.
    await this.pumping;
    this.queue.close();
    await this.sink.shutdown();
  }

  /** Where nobody awaits the cut (a timer, a shutdown): a spool write error (disk full) is logged and counted, and the waiting callers were told. */
  private cutBatchAndLog(): void {
    try {
      this.cutBatch();
    } catch (error) {
      this.logger.error({ exporter: this.name, err: (error as Error)?.message }, 'could not queue a batch (spool write failed)');
    }
  }

  private cutBatch(): void {
    if (this.batchTimer) {
      clearTimeout(this.batchTimer);
      this.batchTimer = undefined;
    }
    const itemCount = this.pending.items;
    if (itemCount === 0) return;
    const waiters = this.bufferWaiters;
    const batch = this.pending.take();
    // Durable when it holds items of `export`, whose callers wait for them to be stored; offered items wait for nobody.
    const durable = this.pendingDurable;
    this.bufferWaiters = [];
    this.pendingDurable = false;
    try {
      this.queue.append(batch, itemCount, durable);
      this.queuedAtMs.push(Date.now());
    } catch (error) {
      this.counts.unqueuedItems += itemCount;
      this.metrics?.items.inc({ exporter: this.name, outcome: 'dropped' }, itemCount);
      for (const waiter of waiters) waiter.reject(error);
      throw error;
    }
    for (const waiter of waiters) waiter.resolve();
    this.metrics?.queuedBatches.set({ exporter: this.name }, this.queue.pendingBatches);
    this.alignQueuedTimes();
    const spoolDropped = this.queue.droppedItems - this.spoolDroppedSeen;
    if (spoolDropped > 0) {
      this.spoolDroppedSeen = this.queue.droppedItems;
      this.metrics?.items.inc({ exporter: this.name, outcome: 'dropped' }, spoolDropped);
      this.logger.warn({ exporter: this.name, droppedItems: spoolDropped }, 'spool full; dropped the oldest batches');
    }
    this.kick();
  }

  private kick(): void {
    if (this.pumping || this.stopped) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
      this.notifyIdle();
    });
    // Observed here so a spool error (disk full) is logged instead of becoming an unhandled rejection.
    this.pumping.catch((error: unknown) => this.logger.error({ exporter: this.name, err: (error as Error)?.message }, 'delivery stopped on a spool error; it resumes with the next batch'));
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const waiter of waiters) waiter();
  }

  private async pump(): Promise<void> {
    for (let run = this.nextRun(); run.length > 0 && !this.stopped; run = this.nextRun()) {
      await this.deliver(run);
      this.metrics?.queuedBatches.set({ exporter: this.name }, this.queue.pendingBatches);
      this.notifyIdle();
    }
  }

  /** The batches to deliver now: the oldest one, or with coalescing a run of them once it is worth a sink call. */
  private nextRun(): QueuedBatch[] {
    if (!this.coalesce) {
      const batch = this.queue.peek();
      return batch ? [batch] : [];
    }
    if (!this.queue.peek()) return [];
    const waitedMs = this.recoveredBatches > 0 ? Infinity : Date.now() - (this.queuedAtMs[0] ?? Date.now());
    if (!this.draining && this.queue.unackedBytes < this.coalesce.maxBytes && waitedMs < this.coalesce.maxWaitMs) {
      if (!this.coalesceTimer) {
        this.coalesceTimer = setTimeout(() => {
          this.coalesceTimer = undefined;
          this.kick();
        }, this.coalesce.maxWaitMs - waitedMs);
        this.coalesceTimer.unref();
      }
      return [];
    }
    return this.queue.peekRun(this.coalesce.maxBytes);
  }

  /**
   * Batches acknowledged, or dropped by a full spool, leave the head of the queue: their times go too. The queue's
   * count is the truth, so a batch the spool refused outright costs at most one batch of timing accuracy.
   */
  private alignQueuedTimes(): void {
    let excess = this.recoveredBatches + this.queuedAtMs.length - this.queue.pendingBatches;
    for (; excess > 0 && this.recoveredBatches > 0; excess--) this.recoveredBatches--;
    if (excess > 0) this.queuedAtMs.splice(0, excess);
  }

  private ackAll(run: readonly QueuedBatch[]): void {
    this.queue.ackRun(run);
    this.alignQueuedTimes();
  }

  /**
   * What to send for a run: the head batch's bytes as they are, when the codec writes the sink's own wire format
   * (one batch at a time: such sinks do not coalesce); otherwise the items of the run's leading decodable batches.
   * A batch an earlier version spooled in another format goes out as items, through the sink's own encoding.
   */
  private prepare(run: QueuedBatch[]): { bytes: Uint8Array; batches: QueuedBatch[]; itemCount: number } | { items: T[]; batches: QueuedBatch[] } | undefined {
    const items: T[] = [];
    const decoded: QueuedBatch[] = [];
    for (const batch of run) {
      try {
        const earlier = this.codec.decodeEarlierFormat?.(batch.bytes);
        if (!earlier && this.sendsEncoded) {
          if (decoded.length > 0) break;
          return { bytes: batch.bytes, batches: [batch], itemCount: batch.itemCount };
        }
        for (const item of earlier ?? this.codec.decode!(batch.bytes)) items.push(item);
        decoded.push(batch);
        if (this.sendsEncoded) break;
      } catch (error) {
        // Only a batch at the head can be acknowledged: deliver the good ones before it first.
        if (decoded.length > 0) break;
        this.logger.error({ exporter: this.name, err: error }, 'spooled batch cannot be decoded; dropping it');
        this.reject([batch], batch.itemCount);
        return undefined;
      }
    }
    return { items, batches: decoded };
  }

  private async deliver(run: QueuedBatch[]): Promise<void> {
    const send = this.prepare(run);
    if (!send) return;
    const itemCount = 'items' in send ? send.items.length : send.itemCount;
    try {
      const outcome = 'items' in send ? await this.sink.export(send.items) : await this.sink.exportEncoded!(send.bytes, send.itemCount);
      this.ackAll(send.batches);
      // Taken whole by a sink that keeps nothing of it (Exporter.exportEncoded), and out of the queue: its memory can
      // hold the next batch. A batch read back from the spool was not the pool's, and is ignored.
      if ('bytes' in send) this.batchBuffers?.release(send.bytes);
      this.attempt = 0;
      const refused = Math.min(itemCount, Math.max(0, outcome?.refusedItems ?? 0));
      this.counts.deliveredItems += itemCount - refused;
      this.counts.rejectedItems += refused;
      this.counts.deliveredBatches++;
      this.metrics?.items.inc({ exporter: this.name, outcome: 'delivered' }, itemCount - refused);
      if (refused > 0) this.metrics?.items.inc({ exporter: this.name, outcome: 'dropped' }, refused);
    } catch (error) {
      if (error instanceof PermanentExportError) {
        this.logger.error({ exporter: this.name, err: error.message, items: itemCount }, 'sink rejected the batch; dropping it');
        this.reject(send.batches, error.droppedItems ?? itemCount);
        return;
      }
      this.counts.failedAttempts++;
      this.metrics?.failedAttempts.inc({ exporter: this.name });
      const delayMs = backoffDelayMs(this.attempt++, this.retry, this.random);
      this.logger.warn({ exporter: this.name, err: (error as Error)?.message ?? String(error), retryInMs: Math.round(delayMs) }, 'export failed; will retry');
      await new Promise<void>((resolve) => {
        this.wakeUp = resolve;
        this.retryTimer = setTimeout(resolve, delayMs);
        this.retryTimer.unref(); // a sink that stays down must not keep a stopping process alive
      });
      this.wakeUp = undefined;
      this.retryTimer = undefined;
    }
  }

  private reject(run: readonly QueuedBatch[], items: number): void {
    this.ackAll(run);
    this.counts.rejectedItems += items;
    this.metrics?.items.inc({ exporter: this.name, outcome: 'dropped' }, items);
  }
}
