/** The one contract every storage sink implements, and the error kinds the delivery wrapper acts on. */
import type { GenAiSpan } from '../span/gen-ai-span';

/** A sink for batches of `T` (spans for trace sinks, metric aggregates for CloudWatch and Timestream). */
export interface Exporter<T> {
  /** Short name for logs and metrics, e.g. `s3`. */
  readonly name: string;
  /**
   * Resolves once the sink took the batch, with how many items it refused for good where it says so (Timestream
   * rejected records, OTLP partial success); rejects to have the batch retried (see PermanentExportError).
   */
  export(items: T[]): Promise<void | ExportOutcome>;
  /**
   * Takes the items into the exporter's buffer or queue now, without a promise to wait on; throws when they could
   * not be queued. Where a sink has it, the sensor's capture path uses it: a promise per span kept each span alive
   * until its batch was cut, which the garbage collector then had to copy and promote.
   */
  offer?(items: T[]): void;
  /** The wire format `exportEncoded` takes (`otlp-protobuf`, `otlp-json`). */
  readonly encodedFormat?: string;
  /**
   * Sends a queued batch's bytes as they are, never decoding them, when the batch codec's format is the sink's
   * `encodedFormat`: same contract as `export`. Once it resolves, the sink holds nothing of `batch` (no pending write
   * reads it): the caller writes its next batches into the same memory.
   */
  exportEncoded?(batch: Uint8Array, itemCount: number): Promise<void | ExportOutcome>;
  shutdown(): Promise<void>;
  /** Bytes waiting in this exporter's queue or spool (undelivered), where it has one. */
  readonly pendingBytes?: number;
}

export interface ExportOutcome {
  /** Items of the batch the sink refused and a retry would not fix: counted as dropped, not delivered. */
  refusedItems: number;
}

export type SpanExporter = Exporter<GenAiSpan>;

/** The sink refused the batch for a reason a retry cannot fix (bad request, schema): drop it, count it, go on. */
export class PermanentExportError extends Error {
  constructor(
    message: string,
    readonly droppedItems?: number,
  ) {
    super(message);
    this.name = 'PermanentExportError';
  }
}

/** Minimal logger shape (pino satisfies it) so sinks log without owning logger setup. */
export interface ExportLogger {
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
  info?(object: object, message?: string): void;
}

export const silentLogger: ExportLogger = { warn: () => {}, error: () => {} };

/** HTTP statuses worth retrying: the request may succeed later unchanged. */
export function isRetryableHttpStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}
