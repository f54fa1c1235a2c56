/** Builds the configured sinks, each behind batching, retry and its spool, as one fan-out. */
import * as path from 'node:path';
import type { Registry } from 'prom-client';
import { readSecretBytes, watchToken } from '../common/secret-file';
import { LabelCardinalityLimiter } from '../pipeline/cardinality';
import type { MetricAggregate } from '../pipeline/metrics';
import type { SpanSink } from '../pipeline/span-pipeline';
import type { GenAiSpan } from '../span/gen-ai-span';
import { BatchingExporter, type CoalesceOptions, type DeliveryStats } from './batching-exporter';
import type { ExportersConfig } from './config';
import { IntervalAggregatingExporter } from './interval-aggregating-exporter';
import { OtlpFileExporter } from './otlp-file-exporter';
import { OtlpHttpExporter } from './otlp-http-exporter';
import { otlpJsonBatchCodec, otlpProtobufBatchCodec } from './otlp-spans';
import { jsonBatchCodec, spanBatchCodec, type BatchCodec } from './span-json';
import { silentLogger, type ExportLogger, type Exporter, type SpanExporter } from './span-exporter';
import { DiskSpool, MemoryQueue, type BatchQueue } from './spool';
import { WriteBehindSpool } from './write-behind-spool';

/**
 * The AWS SDK clients weigh 15-25 MB each once loaded; a sink's module is loaded only when that sink is enabled,
 * which keeps a sensor that ships OTLP to the gateway small.
 */
const loadS3 = () => require('./s3-exporter') as typeof import('./s3-exporter');
const loadTimestream = () => require('./timestream-exporter') as typeof import('./timestream-exporter');
const loadCloudWatch = () => require('./cloudwatch-exporter') as typeof import('./cloudwatch-exporter');

export interface ExporterDependencies {
  registry?: Registry;
  logger?: ExportLogger;
  /** Calls slower than this count as SLA breaches in the Timestream and CloudWatch aggregates. */
  slaThresholdMs?: number;
  /** Sinks built elsewhere that join the fan-out as they are (the local store, which batches on its own). */
  additional?: SpanExporter[];
}

export interface ExporterFanOut extends SpanSink {
  readonly exporters: readonly SpanExporter[];
  /**
   * Hands the spans to every sink. Resolves once each sink has queued them (on disk, with a spool), so a receiver
   * may acknowledge its sender then. A sink that is down is no reason to reject (its spool holds the spans); a sink
   * that could not queue them (spool disk full) is: the receiver then asks the sender to retry rather than
   * acknowledging spans that were lost. Sinks that did queue them may get them twice; twice beats never.
   */
  export(spans: GenAiSpan[]): Promise<void>;
  /**
   * Hands the spans to every sink without waiting (the capture path: nobody is to be acknowledged). A sink with no
   * `offer` gets them through `export`, its failure logged. Throws, after offering to every sink, when one could not
   * queue them.
   */
  offer?(spans: GenAiSpan[]): void;
  /**
   * Queues what is buffered, keeps delivering for up to `timeoutMs` (default `exporters.drainSeconds`), then stops;
   * what is still undelivered stays in the spool for the next start.
   */
  shutdown(timeoutMs?: number): Promise<void>;
  /** Undelivered bytes over all sinks' queues and spools: the spool size the health alarms watch. */
  pendingBytes(): number;
  /** Delivery counters of each sink, for the gateway's export health metrics. */
  deliveryStats?(): SinkDeliveryStats[];
}

export interface SinkDeliveryStats extends DeliveryStats {
  exporter: string;
}

function hasDeliveryStats(exporter: SpanExporter): exporter is SpanExporter & { stats(): DeliveryStats } {
  return exporter instanceof BatchingExporter || exporter instanceof IntervalAggregatingExporter;
}

export function createExporters(config: ExportersConfig, dependencies: ExporterDependencies = {}): ExporterFanOut {
  const logger = dependencies.logger ?? silentLogger;
  // A batch is at most a quarter of its queue, so an outage keeps several batches instead of refusing one.
  const queueBytes = config.spool.dir ? config.spool.maxBytes : config.spool.memoryMaxBytes;
  const quarterOfQueue = Math.floor(queueBytes / 4);
  const queueFor = (sinkName: string): BatchQueue => {
    if (!config.spool.dir) return new MemoryQueue(config.spool.memoryMaxBytes);
    const disk = new DiskSpool({ dir: path.join(config.spool.dir, sinkName), maxBytes: config.spool.maxBytes });
    return new WriteBehindSpool({
      disk,
      spillAfterMs: config.spool.spillAfterMs,
      maxMemoryBytes: Math.min(config.spool.memoryMaxBytes, quarterOfQueue),
      onSpillError: (error) => logger.error({ exporter: sinkName, err: error.message }, 'could not write batches to the spool; they wait in memory and the write is retried'),
    });
  };
  const deliver = <T>(sink: Exporter<T>, codec: BatchCodec<T>, batching: Partial<ExportersConfig['batching']> = {}, coalesce?: CoalesceOptions) => {
    const maxBatchBytes = Math.min(batching.maxBatchBytes ?? config.batching.maxBatchBytes, quarterOfQueue);
    return new BatchingExporter<T>({
      sink,
      codec,
      queue: queueFor(sink.name),
      batching: { ...config.batching, ...batching, maxBatchBytes },
      coalesce: coalesce && { ...coalesce, maxBytes: Math.min(coalesce.maxBytes, quarterOfQueue) },
      retry: config.retry,
      logger,
      registry: dependencies.registry,
    });
  };
  const aggregateCodec = jsonBatchCodec<MetricAggregate>();

  const exporters: SpanExporter[] = [];
  if (config.otlp.enabled) {
    const { tls, auth } = config.otlp;
    const otlp = new OtlpHttpExporter({
      endpoint: config.otlp.endpoint!,
      headers: config.otlp.headers,
      timeoutMs: config.otlp.timeoutMs,
      logger,
      ca: tls.caFile === undefined ? undefined : readSecretBytes(tls.caFile, 'exporters.otlp.tls.caFile'),
      serverName: tls.serverName,
      bearerToken: auth.tokenFile === undefined ? undefined : watchToken(auth.tokenFile, 'exporters.otlp.auth.tokenFile', {
        onReload: () => logger.info?.({ exporter: 'otlp' }, 'the gateway token changed on disk and is used from now on'),
        onReloadError: (error) => logger.warn({ exporter: 'otlp', reason: error.message }, 'a changed gateway token was not taken; the previous one is still sent'),
      }),
    });
    exporters.push(deliver(otlp, otlpProtobufBatchCodec));
  }
  if (config.file.enabled) exporters.push(deliver(new OtlpFileExporter(config.file.path!), otlpJsonBatchCodec));
  if (config.s3.enabled) {
    const s3 = new (loadS3().S3SpanExporter)({
      bucket: config.s3.bucket!,
      prefix: config.s3.prefix,
      clientConfig: { region: config.s3.region, endpoint: config.s3.endpoint, forcePathStyle: config.s3.forcePathStyle },
    });
    exporters.push(deliver(s3, spanBatchCodec, {}, { maxBytes: config.s3.maxBatchBytes, maxWaitMs: config.s3.maxWaitSeconds * 1000 }));
  }
  if (config.timestream.enabled) {
    const timestream = new (loadTimestream().TimestreamExporter)({
      database: config.timestream.database!,
      table: config.timestream.table!,
      clientConfig: { region: config.timestream.region },
      logger,
    });
    exporters.push(new IntervalAggregatingExporter(deliver(timestream, aggregateCodec), config.timestream.intervalSeconds * 1000, { slaThresholdMs: dependencies.slaThresholdMs }));
  }
  if (config.cloudwatch.enabled) {
    const cloudwatch = new (loadCloudWatch().CloudWatchExporter)({ namespace: config.cloudwatch.namespace, clientConfig: { region: config.cloudwatch.region } });
    exporters.push(
      new IntervalAggregatingExporter(deliver(cloudwatch, aggregateCodec, { maxBatch: Math.min(config.batching.maxBatch, loadCloudWatch().MAX_AGGREGATES_PER_PUT) }), config.cloudwatch.intervalSeconds * 1000, {
        slaThresholdMs: dependencies.slaThresholdMs,
        cardinality: new LabelCardinalityLimiter({ maxValuesPerLabel: config.cloudwatch.maxDimensionValues }),
      }),
    );
  }

  exporters.push(...(dependencies.additional ?? []));

  return {
    exporters,
    pendingBytes: () => exporters.reduce((sum, exporter) => sum + (exporter.pendingBytes ?? 0), 0),
    deliveryStats: () => exporters.filter(hasDeliveryStats).map((exporter) => ({ exporter: exporter.name, ...exporter.stats() })),
    async export(spans) {
      const refusedBy: string[] = [];
      await Promise.all(
        exporters.map((exporter) =>
          exporter.export(spans).catch((error: unknown) => {
            refusedBy.push(exporter.name);
            logger.error({ exporter: exporter.name, err: (error as Error)?.message }, 'exporter could not queue spans');
          }),
        ),
      );
      if (refusedBy.length > 0) throw new Error(`spans not queued by ${refusedBy.join(', ')} (see the log for why)`);
    },
    offer(spans) {
      let refusedBy: string[] | undefined;
      for (const exporter of exporters) {
        if (!exporter.offer) {
          exporter.export(spans).catch((error: unknown) => logger.error({ exporter: exporter.name, err: (error as Error)?.message }, 'exporter could not queue spans'));
          continue;
        }
        try {
          exporter.offer(spans);
        } catch (error) {
          (refusedBy ??= []).push(exporter.name);
          logger.error({ exporter: exporter.name, err: (error as Error)?.message }, 'exporter could not queue spans');
        }
      }
      if (refusedBy) throw new Error(`spans not queued by ${refusedBy.join(', ')} (see the log for why)`);
    },
    async shutdown(timeoutMs = config.drainSeconds * 1000) {
      await Promise.all(
        exporters.map((exporter) =>
          (exporter instanceof BatchingExporter ? exporter.shutdown(timeoutMs) : exporter.shutdown()).catch((error: unknown) =>
            logger.error({ exporter: exporter.name, err: (error as Error)?.message }, 'exporter shutdown failed'),
          ),
        ),
      );
    },
  };
}
