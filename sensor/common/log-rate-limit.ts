/**
 * At most `maxPerWindow` lines per window for a message that can repeat at traffic rate (one per call), so a
 * busy host cannot flood its logs, or spend its CPU on them; what was held back is reported as a count.
 */
export interface LogRateLimit {
  /** True when this occurrence may be logged; otherwise it is counted as skipped. */
  allow(): boolean;
  /** Occurrences skipped since the last call, when a new window has started (then reset); else 0. */
  skippedInClosedWindow(): number;
}

export function createLogRateLimit(maxPerWindow: number, windowMs: number, now: () => number = Date.now): LogRateLimit {
  let windowStart = -Infinity;
  let inWindow = 0;
  let skipped = 0;
  let skippedToReport = 0;
  return {
    allow() {
      const time = now();
      if (time - windowStart >= windowMs) {
        skippedToReport += skipped;
        windowStart = time;
        inWindow = 0;
        skipped = 0;
      }
      if (++inWindow > maxPerWindow) {
        skipped++;
        return false;
      }
      return true;
    },
    skippedInClosedWindow() {
      const count = skippedToReport;
      skippedToReport = 0;
      return count;
    },
  };
}
