/** Bounds the number of distinct values per metric label so one noisy label cannot blow up a time-series store. */
import { Counter, type Registry } from 'prom-client';

export const OVERFLOW_LABEL_VALUE = '_other';
export const DEFAULT_MAX_VALUES_PER_LABEL = 200;

export interface LabelCardinalityLimiterOptions {
  /** Distinct values kept per label name; later new values become `_other`. */
  maxValuesPerLabel?: number;
  /** Registry for `sightline_label_overflow_total{label}`; without one, overflows are only counted in `overflows()`. */
  registry?: Registry;
}

export class LabelCardinalityLimiter {
  private readonly maxValuesPerLabel: number;
  private readonly seenValues = new Map<string, Set<string>>();
  private readonly overflowCounts = new Map<string, number>();
  private readonly overflowCounter?: Counter<'label'>;

  constructor(options: LabelCardinalityLimiterOptions = {}) {
    this.maxValuesPerLabel = options.maxValuesPerLabel ?? DEFAULT_MAX_VALUES_PER_LABEL;
    if (!Number.isInteger(this.maxValuesPerLabel) || this.maxValuesPerLabel < 1) {
      throw new Error(`cardinality: maxValuesPerLabel must be a positive integer, got ${options.maxValuesPerLabel}`);
    }
    if (options.registry) {
      this.overflowCounter = new Counter({
        name: 'sightline_label_overflow_total',
        help: 'Metric label values folded into _other because the label reached its distinct-value cap.',
        labelNames: ['label'],
        registers: [options.registry],
      });
    }
  }

  /** The value to use for `label`: itself while the label is under its cap or already known, else `_other`. */
  limit(label: string, value: string): string {
    let values = this.seenValues.get(label);
    if (!values) {
      values = new Set();
      this.seenValues.set(label, values);
    }
    if (values.has(value)) return value;
    if (values.size < this.maxValuesPerLabel) {
      values.add(value);
      return value;
    }
    this.overflowCounts.set(label, (this.overflowCounts.get(label) ?? 0) + 1);
    this.overflowCounter?.inc({ label });
    return OVERFLOW_LABEL_VALUE;
  }

  /** Applies `limit` to every entry of a label set. */
  limitAll<T extends Record<string, string>>(labels: T): T {
    const limited = {} as Record<string, string>;
    for (const [label, value] of Object.entries(labels)) limited[label] = this.limit(label, value);
    return limited as T;
  }

  /** Values folded into `_other` so far, per label. */
  overflows(): ReadonlyMap<string, number> {
    return this.overflowCounts;
  }
}
