/**
 * The pipeline stage: what happens to a finished span before it is stored. On the sensor: enrichment and privacy
 * (so unredacted data never leaves the node), then either shipping to the gateway or, in local mode, cost and
 * metrics too. On the gateway: privacy, cost, metrics. Each step is optional so both roles share this one path.
 */
import type { GenAiSpan } from '../span/gen-ai-span';
import type { CostCalculator } from './cost';
import type { SpanEnricher, SpanOrigin } from './enrich/span-enricher';
import type { GenAiMetrics } from './metrics';
import type { PrivacyStage } from './privacy/privacy-stage';
import type { Logger } from '../common/logger';

/**
 * Where finished spans go: the exporters' fan-out implements it. Defined here, with the pipeline, so that exporters
 * depend on the pipeline and never the reverse.
 */
export interface SpanSink {
  /**
   * Resolves once every sink has queued the spans (on disk, with a spool), so a receiver may acknowledge its sender;
   * rejects when one could not queue them, so the sender is asked to retry.
   */
  export(spans: GenAiSpan[]): Promise<void>;
  /** Queues the spans now, with no promise to wait on; throws when a sink could not queue them (see Exporter.offer). */
  offer?(spans: GenAiSpan[]): void;
}

export interface SpanPipelineStages {
  enricher?: SpanEnricher;
  privacy: PrivacyStage;
  cost?: CostCalculator;
  metrics?: GenAiMetrics;
  exporters: SpanSink;
  logger: Logger;
  /** Sees every finished span (e.g. a log line per call in local mode). */
  onSpan?: (span: GenAiSpan) => void;
}

export interface SpanPipelineStats {
  spansIn: number;
  spansOut: number;
  enrichmentFailures: number;
  /** Spans a stage or an exporter failed on: counted and logged, never a crash of the sensor. */
  failures: number;
}

export class SpanPipeline {
  readonly stats: SpanPipelineStats = { spansIn: 0, spansOut: 0, enrichmentFailures: 0, failures: 0 };
  private inFlight = new Set<Promise<void>>();

  constructor(private readonly stages: SpanPipelineStages) {}

  /**
   * Processes a span; `drain()` waits for those under way. When its process's context is already known (every call
   * of a process after its first), the span is prepared and handed to the exporters before this returns: a batch
   * of captured records then never holds many half-processed spans at once, which the young-generation collector
   * would otherwise copy and promote. Otherwise it goes on in the background once the context is read.
   */
  submit(span: GenAiSpan, origin?: SpanOrigin): void {
    this.stats.spansIn++;
    let work: Promise<void> | undefined;
    try {
      const ready = this.prepareNow(span, origin);
      work = ready ? this.handOver(ready) : this.process(span, origin);
    } catch (error) {
      this.failed(error, span.name);
      return;
    }
    if (!work) return;
    const name = span.name;
    const tracked = work.catch((error: unknown) => this.failed(error, name)).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /**
   * Processes spans and resolves once every sink has them in its queue or spool: the OTLP receiver answers only
   * then, so a gateway killed right after its 200 still has the spans on disk.
   */
  async submitAll(spans: GenAiSpan[]): Promise<void> {
    this.stats.spansIn += spans.length;
    const work = (async () => this.deliver(await Promise.all(spans.map((span) => this.prepare(span)))))();
    // Tracked like `submit`, so `drain()` also waits for a receiver request that is still being handed over.
    const tracked = work.catch(() => undefined).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
    await work;
  }

  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private async process(span: GenAiSpan, origin?: SpanOrigin): Promise<void> {
    await this.handOver(await this.prepare(span, origin));
  }

  /**
   * One prepared span to the exporters: queued at once where they can take it, with no promise (nothing waits for
   * a captured span, and a promise would keep it alive until its batch is cut); else exported.
   */
  private handOver(span: GenAiSpan): Promise<void> | undefined {
    const { exporters } = this.stages;
    if (!exporters.offer) return this.deliver([span]);
    exporters.offer(this.leaving([span]));
    return undefined;
  }

  private async prepare(span: GenAiSpan, origin?: SpanOrigin): Promise<GenAiSpan> {
    let current = span;
    if (this.stages.enricher) {
      try {
        current = await this.stages.enricher.enrich(current, origin);
      } catch (error) {
        this.enrichmentFailed(error);
      }
    }
    return this.finishPreparing(current);
  }

  /** `prepare` without waiting, or undefined when enrichment has to read the process's context first. */
  private prepareNow(span: GenAiSpan, origin?: SpanOrigin): GenAiSpan | undefined {
    let current: GenAiSpan | undefined = span;
    if (this.stages.enricher) {
      try {
        current = this.stages.enricher.enrichNow(span, origin);
      } catch (error) {
        this.enrichmentFailed(error);
        current = span;
      }
    }
    return current && this.finishPreparing(current);
  }

  private finishPreparing(span: GenAiSpan): GenAiSpan {
    const current = this.stages.privacy.apply(span);
    this.stages.cost?.applyCost(current);
    this.stages.metrics?.record(current);
    return current;
  }

  /** Context is a nice-to-have; the call itself is never lost for want of it. */
  private enrichmentFailed(error: unknown): void {
    this.stats.enrichmentFailures++;
    this.stages.logger.debug({ err: (error as Error).message }, 'pipeline: enrichment failed');
  }

  private failed(error: unknown, spanName: string): void {
    this.stats.failures++;
    this.stages.logger.warn({ err: (error as Error)?.message, span: spanName }, 'pipeline: a span could not be processed');
  }

  private deliver(spans: GenAiSpan[]): Promise<void> {
    return this.stages.exporters.export(this.leaving(spans));
  }

  /** Spans on their way to the exporters: counted and shown to `onSpan`. */
  private leaving(spans: GenAiSpan[]): GenAiSpan[] {
    this.stats.spansOut += spans.length;
    if (this.stages.onSpan) for (const span of spans) this.stages.onSpan(span);
    return spans;
  }
}
