/**
 * Sensor health travels to the gateway as a small span over the same OTLP path as the calls: nodes hold no AWS
 * credentials, so the gateway, the only component that writes to storage, publishes the fleet's health for both.
 */
import type { Attributes, GenAiSpan } from '../span/gen-ai-span';
import { newSpanIds } from './span-ids';

export const HEALTH_REPORT_SPAN_NAME = 'sightline.sensor.health';

export const HealthAttribute = {
  /** Capture bytes lost since the previous report (ring buffer full). */
  droppedBytes: 'sightline.health.capture_dropped_bytes',
  /** Undelivered bytes in the sensor's spool when the report was made. */
  spoolBytes: 'sightline.health.spool_bytes',
} as const;

export interface SensorHealth {
  droppedBytesSinceLastReport: number;
  spoolBytes: number;
}

export function healthReportSpan(health: SensorHealth, resource: Attributes, nowMs = Date.now()): GenAiSpan {
  const now = BigInt(Math.round(nowMs * 1e6));
  return {
    ...newSpanIds(),
    name: HEALTH_REPORT_SPAN_NAME,
    kind: 'internal',
    startTimeUnixNano: now,
    endTimeUnixNano: now,
    attributes: { [HealthAttribute.droppedBytes]: health.droppedBytesSinceLastReport, [HealthAttribute.spoolBytes]: health.spoolBytes },
    resource,
    status: { code: 'unset' },
    source: 'ebpf',
  };
}

export function isHealthReport(span: Pick<GenAiSpan, 'name'>): boolean {
  return span.name === HEALTH_REPORT_SPAN_NAME;
}

/** Reads a report back; undefined when a field is missing or not a non-negative number. */
export function readHealthReport(span: GenAiSpan): SensorHealth | undefined {
  const dropped = span.attributes[HealthAttribute.droppedBytes];
  const spool = span.attributes[HealthAttribute.spoolBytes];
  const valid = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0;
  return valid(dropped) && valid(spool) ? { droppedBytesSinceLastReport: dropped, spoolBytes: spool } : undefined;
}
