/**
 * Timestream for LiveAnalytics exporter: one MULTI-measure record per model/provider/workload group and interval,
 * written with WriteRecords in calls of at most 100 records.
 */
import {
  RejectedRecordsException,
  TimestreamWriteClient,
  WriteRecordsCommand,
  type _Record as TimestreamRecord,
  type Dimension,
  type MeasureValue,
  type TimestreamWriteClientConfig,
} from '@aws-sdk/client-timestream-write';
import type { MetricAggregate } from '../pipeline/metrics';
import { backoffDelayMs, type RetryOptions } from './batching-exporter';
import { PermanentExportError, silentLogger, type ExportLogger, type ExportOutcome, type Exporter } from './span-exporter';

/** WriteRecords accepts at most this many records per call. */
export const MAX_RECORDS_PER_WRITE = 100;
export const MEASURE_NAME = 'gen_ai_calls';

export interface TimestreamExporterOptions {
  database: string;
  table: string;
  client?: TimestreamWriteClient;
  clientConfig?: TimestreamWriteClientConfig;
  /** Throttled calls are retried this many times before the batch goes back to the spool. Default 5. */
  maxThrottleRetries?: number;
  throttleRetry?: RetryOptions;
  logger?: ExportLogger;
  sleep?: (ms: number) => Promise<void>;
}

const bigint = (name: string, value: number): MeasureValue => ({ Name: name, Value: String(Math.round(value)), Type: 'BIGINT' });
const double = (name: string, value: number): MeasureValue => ({ Name: name, Value: String(value), Type: 'DOUBLE' });

export function toTimestreamRecord(aggregate: MetricAggregate): TimestreamRecord {
  // Timestream refuses empty dimension values, so unknown ones are left out.
  const dimensions: Dimension[] = (
    [
      ['model', aggregate.model],
      ['provider', aggregate.provider],
      ['workload', aggregate.workload],
      ['namespace', aggregate.namespace],
      ['cluster', aggregate.cluster],
    ] as const
  )
    .filter(([, value]) => value !== '')
    .map(([Name, Value]) => ({ Name, Value, DimensionValueType: 'VARCHAR' }));
  const d = aggregate.duration;
  return {
    Dimensions: dimensions,
    MeasureName: MEASURE_NAME,
    MeasureValueType: 'MULTI',
    MeasureValues: [
      bigint('calls', aggregate.calls),
      bigint('errors', aggregate.errors),
      bigint('sla_breaches', aggregate.slaBreaches),
      double('duration_sum_ms', d.sumMs),
      double('duration_min_ms', d.count > 0 ? d.minMs : 0),
      double('duration_max_ms', d.maxMs),
      double('duration_p50_ms', d.p50Ms),
      double('duration_p90_ms', d.p90Ms),
      double('duration_p99_ms', d.p99Ms),
      bigint('input_tokens', aggregate.inputTokens),
      bigint('output_tokens', aggregate.outputTokens),
      bigint('total_tokens', aggregate.totalTokens),
      bigint('cache_read_input_tokens', aggregate.cacheReadInputTokens),
      bigint('cache_creation_input_tokens', aggregate.cacheCreationInputTokens),
      double('cost_usd', aggregate.costUsd),
    ],
    Time: String(aggregate.intervalEndMs),
    TimeUnit: 'MILLISECONDS',
  };
}

function errorName(error: unknown): string {
  return (error as { name?: string })?.name ?? '';
}

export class TimestreamExporter implements Exporter<MetricAggregate> {
  readonly name = 'timestream';
  private readonly client: TimestreamWriteClient;
  private readonly database: string;
  private readonly table: string;
  private readonly maxThrottleRetries: number;
  private readonly throttleRetry: RetryOptions;
  private readonly logger: ExportLogger;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(options: TimestreamExporterOptions) {
    this.database = options.database;
    this.table = options.table;
    this.client = options.client ?? new TimestreamWriteClient(options.clientConfig ?? {});
    this.maxThrottleRetries = options.maxThrottleRetries ?? 5;
    this.throttleRetry = options.throttleRetry ?? { initialDelayMs: 200, maxDelayMs: 5_000 };
    this.logger = options.logger ?? silentLogger;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()));
  }

  /**
   * Chunks already written are not undone when a later chunk fails; the batch's retry rewrites them with the same
   * dimensions, time and values, which Timestream accepts as a no-op.
   */
  async export(aggregates: MetricAggregate[]): Promise<ExportOutcome> {
    const records = aggregates.map(toTimestreamRecord);
    let refusedItems = 0;
    for (let start = 0; start < records.length; start += MAX_RECORDS_PER_WRITE) {
      refusedItems += await this.writeChunk(records.slice(start, start + MAX_RECORDS_PER_WRITE));
    }
    return { refusedItems };
  }

  async shutdown(): Promise<void> {
    this.client.destroy();
  }

  /** Writes one WriteRecords call's worth; resolves with how many records Timestream rejected. */
  private async writeChunk(records: TimestreamRecord[]): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.send(new WriteRecordsCommand({ DatabaseName: this.database, TableName: this.table, Records: records }));
        return 0;
      } catch (error) {
        if (error instanceof RejectedRecordsException || errorName(error) === 'RejectedRecordsException') {
          // The records not listed were written; resending them would only be rejected as duplicates.
          const rejectedList = (error as RejectedRecordsException).RejectedRecords ?? [];
          this.logger.warn(
            {
              exporter: this.name,
              rejected: rejectedList.length,
              written: records.length - rejectedList.length,
              reasons: rejectedList.slice(0, 5).map((r) => ({ index: r.RecordIndex, reason: r.Reason })),
            },
            'Timestream rejected records',
          );
          return rejectedList.length;
        }
        if (errorName(error) === 'ThrottlingException' && attempt < this.maxThrottleRetries) {
          await this.sleep(backoffDelayMs(attempt, this.throttleRetry));
          continue;
        }
        if (errorName(error) === 'ValidationException') {
          throw new PermanentExportError(`Timestream refused WriteRecords: ${(error as Error).message}`, records.length);
        }
        throw error;
      }
    }
  }
}
