/**
 * The gateway's view of fleet health: drops and spool size reported by sensors, and its own spool. Served on
 * /metrics and, when CloudWatch is on, published every interval as the `CaptureDrops` and `SpoolBytes` metrics
 * (dimension `Component`) that the data plane's health alarms watch.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { HealthMetric, MetricDimension, type HealthComponent } from '../common/telemetry-contract';
import type { Logger } from '../common/logger';
import type { SensorHealth } from '../span/health-report';

export interface HealthDatum {
  MetricName: string;
  Dimensions: Array<{ Name: string; Value: HealthComponent }>;
  Unit: 'Bytes';
  Value: number;
  Timestamp: Date;
}

export type PutHealthMetrics = (datums: HealthDatum[]) => Promise<void>;

/** A sensor not heard from for this long no longer counts towards the fleet's spool gauge (it is gone, or its reports are stuck). */
const SENSOR_REPORT_TTL_MS = 5 * 60_000;

export class FleetHealth {
  private droppedBytesInInterval = 0;
  private largestSensorSpoolInInterval = 0;
  /** The last spool size each sensor reported: the gauge shows the largest, so a healthy sensor never hides a stuck one. */
  private readonly lastSpoolBySensor = new Map<string, { spoolBytes: number; atMs: number }>();
  private readonly droppedBytes: Counter;
  private readonly spoolBytes: Gauge<'component'>;
  private timer?: NodeJS.Timeout;

  constructor(
    registry: Registry,
    private readonly gatewaySpoolBytes: () => number,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.droppedBytes = new Counter({ name: 'sightline_fleet_capture_dropped_bytes_total', help: 'Capture bytes the sensors reported lost', registers: [registry] });
    this.spoolBytes = new Gauge({
      name: 'sightline_fleet_spool_bytes',
      help: 'Undelivered bytes: the largest spool among the sensors that reported in the last 5 minutes, and the gateway spool',
      labelNames: ['component'],
      registers: [registry],
      collect: () => {
        this.spoolBytes.set({ component: 'gateway' }, this.gatewaySpoolBytes());
        this.spoolBytes.set({ component: 'sensor' }, this.largestRecentSensorSpool(this.now()));
      },
    });
  }

  /** `sensor` names the reporting sensor (its node), so each one's last report is kept apart. */
  record(report: SensorHealth, sensor = 'unknown'): void {
    this.droppedBytes.inc(report.droppedBytesSinceLastReport);
    this.droppedBytesInInterval += report.droppedBytesSinceLastReport;
    this.largestSensorSpoolInInterval = Math.max(this.largestSensorSpoolInInterval, report.spoolBytes);
    this.lastSpoolBySensor.set(sensor, { spoolBytes: report.spoolBytes, atMs: this.now() });
  }

  private largestRecentSensorSpool(nowMs: number): number {
    let largest = 0;
    for (const [sensor, last] of this.lastSpoolBySensor) {
      if (nowMs - last.atMs > SENSOR_REPORT_TTL_MS) this.lastSpoolBySensor.delete(sensor);
      else largest = Math.max(largest, last.spoolBytes);
    }
    return largest;
  }

  /** The interval's datums; starts a new interval. */
  drain(now = new Date()): HealthDatum[] {
    const datum = (name: string, component: HealthComponent, value: number): HealthDatum => ({
      MetricName: name,
      Dimensions: [{ Name: MetricDimension.component, Value: component }],
      Unit: 'Bytes',
      Value: value,
      Timestamp: now,
    });
    const datums = [
      datum(HealthMetric.captureDrops, 'sensor', this.droppedBytesInInterval),
      datum(HealthMetric.spoolBytes, 'sensor', this.largestSensorSpoolInInterval),
      datum(HealthMetric.spoolBytes, 'gateway', this.gatewaySpoolBytes()),
    ];
    this.droppedBytesInInterval = 0;
    this.largestSensorSpoolInInterval = 0;
    return datums;
  }

  /** Publishes every interval; a failed publish is logged and the next interval carries on. */
  publishEvery(intervalMs: number, put: PutHealthMetrics): void {
    this.timer = setInterval(() => {
      put(this.drain()).catch((error: Error) => this.logger.warn({ err: error.message }, 'could not publish fleet health to CloudWatch'));
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** PutMetricData through the AWS SDK, loaded only when CloudWatch is on. */
export function cloudWatchHealthPublisher(namespace: string, region: string | undefined): PutHealthMetrics {
  const { CloudWatchClient, PutMetricDataCommand } = require('@aws-sdk/client-cloudwatch') as typeof import('@aws-sdk/client-cloudwatch');
  const client = new CloudWatchClient({ region });
  return async (datums) => {
    await client.send(new PutMetricDataCommand({ Namespace: namespace, MetricData: datums }));
  };
}
