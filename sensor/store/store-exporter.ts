/**
 * The store as one more exporter of the pipeline. `export` only appends to a buffer that is posted to the store
 * thread in batches, so a slow disk never holds up the pipeline; past `maxPendingSpans` waiting spans, new ones
 * are counted as dropped instead of queuing without bound.
 */
import { Counter, type Registry } from 'prom-client';
import type { ExportLogger, SpanExporter } from '../exporters/span-exporter';
import type { GenAiSpan } from '../span/gen-ai-span';
import type { RawExchanges } from './raw-exchanges';
import { encodeCallRecord, type EncodedCallRecord } from './stored-call';

/** What the exporter needs of the store thread (StoreClient). */
export interface StoreWriter {
  write(records: EncodedCallRecord[]): void;
  drain(): Promise<void>;
  readonly spansWaiting: number;
}

export interface StoreExporterOptions {
  maxPendingSpans: number;
  /** @default 250 */
  flushIntervalMs?: number;
  /** @default 500 */
  maxBatch?: number;
  raw?: RawExchanges;
  registry?: Registry;
  logger?: ExportLogger;
}

export class StoreExporter implements SpanExporter {
  readonly name = 'store';
  readonly counts = { accepted: 0, dropped: 0 };
  private buffer: EncodedCallRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly droppedCounter?: Counter;
  private droppedSinceWarning = 0;
  private lastWarningMs = 0;

  constructor(
    private readonly writer: StoreWriter,
    private readonly options: StoreExporterOptions,
  ) {
    if (options.registry) {
      this.droppedCounter =
        (options.registry.getSingleMetric('sightline_store_dropped_spans_total') as Counter | undefined) ??
        new Counter({ name: 'sightline_store_dropped_spans_total', help: 'Spans not stored because the store writer was too far behind (store.maxPendingSpans).', registers: [options.registry] });
    }
  }

  async export(spans: GenAiSpan[]): Promise<void> {
    this.offer(spans);
  }

  offer(spans: GenAiSpan[]): void {
    for (const span of spans) {
      // Taken even when dropped, so the exchange is not kept alive for nothing.
      const raw = this.options.raw?.take(span.spanId);
      if (this.buffer.length + this.writer.spansWaiting >= this.options.maxPendingSpans) {
        this.drop();
        continue;
      }
      // Encoded here, as postMessage would serialize it anyway: the store thread gets one string per span.
      this.buffer.push(encodeCallRecord(raw ? { span, raw } : { span }));
      this.counts.accepted++;
    }
    if (this.buffer.length >= (this.options.maxBatch ?? 500)) this.flush();
    else if (this.buffer.length > 0) this.timer ??= setTimeout(() => this.flush(), this.options.flushIntervalMs ?? 250);
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    this.writer.write(batch);
  }

  async shutdown(): Promise<void> {
    this.flush();
    await this.writer.drain();
  }

  private drop(): void {
    this.counts.dropped++;
    this.droppedCounter?.inc();
    this.droppedSinceWarning++;
    const now = Date.now();
    if (now - this.lastWarningMs >= 10_000) {
      this.options.logger?.warn({ dropped: this.droppedSinceWarning }, `store: ${this.droppedSinceWarning} call(s) not stored: the store writer is ${this.options.maxPendingSpans} spans behind (see sightline_store_dropped_spans_total)`);
      this.droppedSinceWarning = 0;
      this.lastWarningMs = now;
    }
  }
}
