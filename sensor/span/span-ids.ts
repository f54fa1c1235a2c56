/**
 * Trace and span ids from a pool of random bytes: one 6 KiB fill serves 256 spans, where asking the system for 24
 * random bytes per span showed up in the sensor's CPU profile under load (docs/benchmarks.md says how to profile).
 */
import { randomFillSync } from 'node:crypto';

export interface SpanIds {
  traceId: string;
  spanId: string;
}

const IDS_PER_FILL = 256;
const BYTES_PER_IDS = 24;

export class SpanIdPool {
  private readonly bytes = Buffer.alloc(IDS_PER_FILL * BYTES_PER_IDS);
  private next = IDS_PER_FILL;

  take(): SpanIds {
    if (this.next === IDS_PER_FILL) {
      randomFillSync(this.bytes);
      this.next = 0;
    }
    const start = this.next++ * BYTES_PER_IDS;
    // All-zero ids are invalid in OTLP; at 2^-64 odds one is still not worth sending.
    this.bytes[start + 15] |= 1;
    this.bytes[start + 23] |= 1;
    return { traceId: this.bytes.toString('hex', start, start + 16), spanId: this.bytes.toString('hex', start + 16, start + 24) };
  }
}

const shared = new SpanIdPool();

export function newSpanIds(): SpanIds {
  return shared.take();
}
