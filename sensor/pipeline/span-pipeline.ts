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
    this.submitGroup([span], [origin]);
  }

  private track(work: Promise<void>, name: string, spans = 1): void {
    const tracked = work.catch((error: unknown) => this.failed(error, name, spans)).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /**
   * `submit` for a group of spans, one stage at a time: enrichment and privacy over the whole group, then the
   * exporters' encoding over it, so each stage's code stays in the CPU's caches for the group (span/exchange-groups.ts
   * says why and what it measured). A span whose process context is not read yet goes on in the background; a
   * stage that fails for one span costs that span only. `origins[i]` belongs to `spans[i]`.
   */
  submitGroup(spans: readonly GenAiSpan[], origins: ReadonlyArray<SpanOrigin | undefined>): void {
    const ready: GenAiSpan[] = [];
    for (let index = 0; index < spans.length; index++) {
      const span = spans[index];
      this.stats.spansIn++;
      try {
        const prepared = this.prepareNow(span, origins[index]);
        if (prepared) ready.push(prepared);
        else this.track(this.process(span, origins[index]), span.name);
      } catch (error) {
        this.failed(error, span.name);
      }
    }
    if (ready.length === 0) return;
    try {
      const work = this.handOver(ready);
      if (work) this.track(work, ready[0].name, ready.length);
    } catch (error) {
      this.failed(error, ready[0].name, ready.length);
    }
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
    await this.handOver([await this.prepare(span, origin)]);
  }

  /**
   * Prepared spans to the exporters: queued at once where they can take them, with no promise (nothing waits for
   * a captured span, and a promise would keep it alive until its batch is cut); else exported.
   */
  private handOver(spans: GenAiSpan[]): Promise<void> | undefined {
    const { exporters } = this.stages;
    if (!exporters.offer) return this.deliver(spans);
    exporters.offer(this.leaving(spans));
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

  private failed(error: unknown, spanName: string, spans = 1): void {
    this.stats.failures += spans;
    this.stages.logger.warn({ err: (error as Error)?.message, span: spanName, spans }, spans === 1 ? 'pipeline: a span could not be processed' : `pipeline: ${spans} spans could not be processed`);
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
