/**
 * The gateway's view of fleet health: drops and spool size reported by sensors, its own spool, and how its sinks
 * fare. Served on /metrics and, when CloudWatch is on, published every interval (namespace `Sightline`, dimension
 * `Component`) for the data plane's health alarms:
 *
 * - `CaptureDrops`, `SpoolBytes`: bytes sensors lost or hold undelivered, and the gateway's own spool.
 * - `Heartbeat`: 1 from every gateway process, and the number of sensors that reported in the interval. The alarms
 *   treat its absence as breaching: silence means a gateway or the sensors are down, not that nobody called a model.
 * - `ExportDroppedItems`, `ExportFailedAttempts`: per sink (`Exporter` dimension) and in total, what a sink lost for
 *   good and how many deliveries failed and are retried; they exist in Prometheus too, which nothing scrapes in AWS.
 * - `RejectedRequests`: OTLP requests the gateway's receiver refused unread (no or a wrong token, a failed TLS
 *   handshake), so a sensor locked out by a rotation shows up before its spool fills.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { HealthMetric, MetricDimension, type HealthComponent } from '../common/telemetry-contract';
import type { Logger } from '../common/logger';
import type { SinkDeliveryStats } from '../exporters/create-exporters';
import type { SensorHealth } from '../span/health-report';

export interface HealthDatum {
  MetricName: string;
  Dimensions: Array<{ Name: string; Value: string }>;
  Unit: 'Bytes' | 'Count';
  Value: number;
  Timestamp: Date;
}

export type PutHealthMetrics = (datums: HealthDatum[]) => Promise<void>;

export interface FleetHealthSources {
  /** Undelivered bytes in the gateway's own spool. */
  gatewaySpoolBytes: () => number;
  /**
   * Cumulative delivery counters of the gateway's sinks.
   * @default - no export health metrics
   */
  deliveryStats?: () => SinkDeliveryStats[];
  /**
   * Requests the receiver refused before reading them, cumulative.
   * @default - no RejectedRequests metric
   */
  rejectedRequests?: () => number;
}

/** A sensor not heard from for this long no longer counts towards the fleet's spool gauge (it is gone, or its reports are stuck). */
const SENSOR_REPORT_TTL_MS = 5 * 60_000;

/** What a sink lost for good: refused by the sink, dropped from a full spool, or never queued (spool write failed). */
const droppedItemsOf = (stats: SinkDeliveryStats) => stats.rejectedItems + stats.spoolDroppedItems + stats.unqueuedItems;

export class FleetHealth {
  private droppedBytesInInterval = 0;
  private largestSensorSpoolInInterval = 0;
  private readonly sensorsInInterval = new Set<string>();
  /** The last spool size each sensor reported: the gauge shows the largest, so a healthy sensor never hides a stuck one. */
  private readonly lastSpoolBySensor = new Map<string, { spoolBytes: number; atMs: number }>();
  /** Sink counters at the end of the last interval, to publish each interval's increase. */
  private readonly lastDeliveryBySink = new Map<string, { dropped: number; failedAttempts: number }>();
  private rejectedRequestsReported = 0;
  private readonly droppedBytes: Counter;
  private readonly spoolBytes: Gauge<'component'>;
  private readonly sources: FleetHealthSources;
  private timer?: NodeJS.Timeout;

  constructor(
    registry: Registry,
    sources: FleetHealthSources,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.sources = sources;
    this.droppedBytes = new Counter({ name: 'sightline_fleet_capture_dropped_bytes_total', help: 'Capture bytes the sensors reported lost', registers: [registry] });
    this.spoolBytes = new Gauge({
      name: 'sightline_fleet_spool_bytes',
      help: 'Undelivered bytes: the largest spool among the sensors that reported in the last 5 minutes, and the gateway spool',
      labelNames: ['component'],
      registers: [registry],
      collect: () => {
        this.spoolBytes.set({ component: 'gateway' }, this.sources.gatewaySpoolBytes());
        this.spoolBytes.set({ component: 'sensor' }, this.largestRecentSensorSpool(this.now()));
      },
    });
  }

  /** `sensor` names the reporting sensor (its node), so each one's last report is kept apart. */
  record(report: SensorHealth, sensor = 'unknown'): void {
    this.droppedBytes.inc(report.droppedBytesSinceLastReport);
    this.droppedBytesInInterval += report.droppedBytesSinceLastReport;
    this.largestSensorSpoolInInterval = Math.max(this.largestSensorSpoolInInterval, report.spoolBytes);
    this.sensorsInInterval.add(sensor);
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

  /** Each sink's dropped items and failed attempts since the last call. */
  private deliveryIncrease(): Array<{ exporter: string; dropped: number; failedAttempts: number }> {
    return (this.sources.deliveryStats?.() ?? []).map((stats) => {
      const now = { dropped: droppedItemsOf(stats), failedAttempts: stats.failedAttempts };
      const last = this.lastDeliveryBySink.get(stats.exporter) ?? { dropped: 0, failedAttempts: 0 };
      this.lastDeliveryBySink.set(stats.exporter, now);
      return { exporter: stats.exporter, dropped: now.dropped - last.dropped, failedAttempts: now.failedAttempts - last.failedAttempts };
    });
  }

  /** The interval's datums; starts a new interval. */
  drain(now = new Date()): HealthDatum[] {
    const component = (value: HealthComponent) => ({ Name: MetricDimension.component, Value: value });
    const datum = (name: string, unit: HealthDatum['Unit'], value: number, dimensions: HealthDatum['Dimensions']): HealthDatum => ({
      MetricName: name,
      Dimensions: dimensions,
      Unit: unit,
      Value: value,
      Timestamp: now,
    });
    const sinks = this.deliveryIncrease();
    const total = (key: 'dropped' | 'failedAttempts') => sinks.reduce((sum, sink) => sum + sink[key], 0);
    const datums = [
      datum(HealthMetric.captureDrops, 'Bytes', this.droppedBytesInInterval, [component('sensor')]),
      datum(HealthMetric.spoolBytes, 'Bytes', this.largestSensorSpoolInInterval, [component('sensor')]),
      datum(HealthMetric.spoolBytes, 'Bytes', this.sources.gatewaySpoolBytes(), [component('gateway')]),
      datum(HealthMetric.heartbeat, 'Count', 1, [component('gateway')]),
      // Published even when zero: a zero says the gateway is up and heard no sensor, which the sensor alarm needs.
      datum(HealthMetric.heartbeat, 'Count', this.sensorsInInterval.size, [component('sensor')]),
    ];
    if (sinks.length > 0) {
      datums.push(
        datum(HealthMetric.exportDroppedItems, 'Count', total('dropped'), [component('gateway')]),
        datum(HealthMetric.exportFailedAttempts, 'Count', total('failedAttempts'), [component('gateway')]),
        ...sinks.flatMap((sink) => {
          const dimensions = [component('gateway'), { Name: MetricDimension.exporter, Value: sink.exporter }];
          return [
            datum(HealthMetric.exportDroppedItems, 'Count', sink.dropped, dimensions),
            datum(HealthMetric.exportFailedAttempts, 'Count', sink.failedAttempts, dimensions),
          ];
        }),
      );
    }
    if (this.sources.rejectedRequests) {
      const rejected = this.sources.rejectedRequests();
      datums.push(datum(HealthMetric.rejectedRequests, 'Count', rejected - this.rejectedRequestsReported, [component('gateway')]));
      this.rejectedRequestsReported = rejected;
    }
    this.droppedBytesInInterval = 0;
    this.largestSensorSpoolInInterval = 0;
    this.sensorsInInterval.clear();
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
