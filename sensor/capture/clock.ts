/**
 * BPF timestamps are CLOCK_MONOTONIC nanoseconds; Node's hrtime reads the same clock, so one offset converts them.
 * Plain numbers on the hot path: a double holds nanoseconds since boot exactly for 104 days and to well under a
 * microsecond after that, which is all a millisecond timestamp needs.
 */
export class MonotonicClock {
  private readonly wallMinusMonotonicMs: number;

  constructor() {
    const monotonicMs = Number(process.hrtime.bigint()) / 1e6;
    this.wallMinusMonotonicMs = performance.timeOrigin + performance.now() - monotonicMs;
  }

  /** Unix epoch milliseconds, microsecond precision, from the two 32-bit halves of a monotonic ns timestamp. */
  toEpochMs(monotonicNsHigh: number, monotonicNsLow: number): number {
    return (monotonicNsHigh * 4294967296 + monotonicNsLow) / 1e6 + this.wallMinusMonotonicMs;
  }
}
