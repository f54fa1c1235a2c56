/** Appends one OTLP/JSON ExportTraceServiceRequest per line: the OpenTelemetry Collector file exporter format. */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { GenAiSpan } from '../span/gen-ai-span';
import { encodeOtlpJson } from './otlp-spans';
import type { SpanExporter } from './span-exporter';

export class OtlpFileExporter implements SpanExporter {
  readonly name = 'file';
  readonly encodedFormat = 'otlp-json';
  private directoryReady: Promise<unknown> | undefined;

  constructor(readonly filePath: string) {}

  async export(spans: GenAiSpan[]): Promise<void> {
    if (spans.length === 0) return;
    this.directoryReady ??= fsp.mkdir(path.dirname(this.filePath), { recursive: true });
    await this.directoryReady;
    // One write per line so concurrent readers never see half a request.
    await fsp.appendFile(this.filePath, `${encodeOtlpJson(spans)}\n`);
  }

  /** A batch of `otlpJsonBatchCodec` is one request already: appended with its newline in one write. */
  async exportEncoded(batch: Uint8Array): Promise<void> {
    if (batch.length === 0) return;
    this.directoryReady ??= fsp.mkdir(path.dirname(this.filePath), { recursive: true });
    await this.directoryReady;
    const line = Buffer.allocUnsafe(batch.length + 1);
    line.set(batch);
    line[batch.length] = 0x0a;
    await fsp.appendFile(this.filePath, line);
  }

  async shutdown(): Promise<void> {}
}
