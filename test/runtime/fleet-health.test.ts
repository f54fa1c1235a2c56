import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { Registry } from 'prom-client';
import { silentLogger } from '../../sensor/common/logger';
import { HealthMetric, MetricDimension } from '../../sensor/common/telemetry-contract';
import { normaliseSpan } from '../../sensor/receiver/normalise';
import { FleetHealth, cloudWatchHealthPublisher } from '../../sensor/runtime/fleet-health';
import { healthReportSpan, isHealthReport, readHealthReport } from '../../sensor/span/health-report';

test('a sensor health report survives the trip through the gateway receiver and reads back', () => {
  const report = healthReportSpan({ droppedBytesSinceLastReport: 4096, spoolBytes: 1234 }, { 'host.name': 'node-a' });
  const received = normaliseSpan(report, [], { keepNonGenAiSpans: false });
  expect(received && isHealthReport(received)).toBe(true);
  expect(readHealthReport(received!)).toEqual({ droppedBytesSinceLastReport: 4096, spoolBytes: 1234 });
  expect(readHealthReport({ ...report, attributes: { 'sightline.health.capture_dropped_bytes': -1, 'sightline.health.spool_bytes': 1 } })).toBeUndefined();
});

test('per interval: sensor drops summed, largest sensor spool, the gateway spool; then a new interval', async () => {
  const registry = new Registry();
  let gatewaySpool = 500;
  const fleet = new FleetHealth(registry, { gatewaySpoolBytes: () => gatewaySpool }, silentLogger());
  fleet.record({ droppedBytesSinceLastReport: 100, spoolBytes: 70 }, 'node-a');
  fleet.record({ droppedBytesSinceLastReport: 20, spoolBytes: 10 }, 'node-b');
  const values = (datums: ReturnType<FleetHealth['drain']>) => datums.map((d) => [d.MetricName, d.Dimensions[0].Value, d.Value]);
  expect(values(fleet.drain())).toEqual([
    [HealthMetric.captureDrops, 'sensor', 120],
    [HealthMetric.spoolBytes, 'sensor', 70],
    [HealthMetric.spoolBytes, 'gateway', 500],
    [HealthMetric.heartbeat, 'gateway', 1],
    [HealthMetric.heartbeat, 'sensor', 2],
  ]);
  gatewaySpool = 0;
  // No sensor reported: the gateway still beats, and says it heard no sensor.
  expect(values(fleet.drain())).toEqual([
    [HealthMetric.captureDrops, 'sensor', 0],
    [HealthMetric.spoolBytes, 'sensor', 0],
    [HealthMetric.spoolBytes, 'gateway', 0],
    [HealthMetric.heartbeat, 'gateway', 1],
    [HealthMetric.heartbeat, 'sensor', 0],
  ]);
  const text = await registry.metrics();
  expect(text).toMatch(/^sightline_fleet_capture_dropped_bytes_total 120$/m);
  // The backed-up sensor stays visible after a healthy one reported.
  expect(text).toMatch(/^sightline_fleet_spool_bytes\{component="sensor"\} 70$/m);
  expect(text).toMatch(/^sightline_fleet_spool_bytes\{component="gateway"\} 0$/m);
});

test('requests the receiver refused unread are published per interval', () => {
  let rejected = 0;
  const fleet = new FleetHealth(new Registry(), { gatewaySpoolBytes: () => 0, rejectedRequests: () => rejected }, silentLogger());
  const rejections = () => fleet.drain().filter((d) => d.MetricName === HealthMetric.rejectedRequests).map((d) => [d.Dimensions, d.Unit, d.Value]);
  rejected = 3;
  expect(rejections()).toEqual([[[{ Name: MetricDimension.component, Value: 'gateway' }], 'Count', 3]]);
  rejected = 5;
  expect(rejections()).toEqual([[[{ Name: MetricDimension.component, Value: 'gateway' }], 'Count', 2]]);
  expect(rejections()).toEqual([[[{ Name: MetricDimension.component, Value: 'gateway' }], 'Count', 0]]);
});

test('published to CloudWatch with the namespace and the Component dimension the alarms read', async () => {
  const cloudwatch = mockClient(CloudWatchClient);
  cloudwatch.on(PutMetricDataCommand).resolves({});
  try {
    const fleet = new FleetHealth(new Registry(), { gatewaySpoolBytes: () => 0 }, silentLogger());
    fleet.record({ droppedBytesSinceLastReport: 7, spoolBytes: 0 });
    await cloudWatchHealthPublisher('Sightline', 'eu-west-1')(fleet.drain());
    const input = cloudwatch.commandCalls(PutMetricDataCommand)[0].args[0].input;
    expect(input.Namespace).toBe('Sightline');
    expect(input.MetricData?.[0]).toMatchObject({ MetricName: 'CaptureDrops', Dimensions: [{ Name: MetricDimension.component, Value: 'sensor' }], Unit: 'Bytes', Value: 7 });
  } finally {
    cloudwatch.restore();
  }
});

test('the sensor spool gauge follows each sensor\'s latest report, and forgets sensors silent for 5 minutes', async () => {
  const registry = new Registry();
  let now = 1_000_000;
  const fleet = new FleetHealth(registry, { gatewaySpoolBytes: () => 0 }, silentLogger(), () => now);
  const gauge = async () => Number(/^sightline_fleet_spool_bytes\{component="sensor"\} (\d+)$/m.exec(await registry.metrics())![1]);
  fleet.record({ droppedBytesSinceLastReport: 0, spoolBytes: 900 }, 'node-a');
  fleet.record({ droppedBytesSinceLastReport: 0, spoolBytes: 50 }, 'node-b');
  expect(await gauge()).toBe(900);
  now += 60_000;
  fleet.record({ droppedBytesSinceLastReport: 0, spoolBytes: 0 }, 'node-a'); // node-a delivered its backlog
  expect(await gauge()).toBe(50);
  now += 5 * 60_000 + 1;
  expect(await gauge()).toBe(0); // node-b has not reported since: gone
});

test('export health: each interval publishes, per sink and in total, the items lost for good and the failed deliveries since the last', () => {
  const zero = { deliveredItems: 0, deliveredBatches: 0, failedAttempts: 0, rejectedItems: 0, queuedBatches: 0, spoolDroppedItems: 0, unqueuedItems: 0 };
  let sinks = [{ ...zero, exporter: 's3' }, { ...zero, exporter: 'timestream' }];
  const fleet = new FleetHealth(new Registry(), { gatewaySpoolBytes: () => 0, deliveryStats: () => sinks }, silentLogger());
  const exportDatums = (datums: ReturnType<FleetHealth['drain']>) => datums
    .filter((d) => d.MetricName === HealthMetric.exportDroppedItems || d.MetricName === HealthMetric.exportFailedAttempts)
    .map((d) => [d.MetricName, d.Dimensions.map((dimension) => dimension.Value).join('/'), d.Value]);

  sinks = [{ ...zero, exporter: 's3', failedAttempts: 3, spoolDroppedItems: 40 }, { ...zero, exporter: 'timestream', rejectedItems: 2, unqueuedItems: 1 }];
  expect(exportDatums(fleet.drain())).toEqual([
    [HealthMetric.exportDroppedItems, 'gateway', 43],
    [HealthMetric.exportFailedAttempts, 'gateway', 3],
    [HealthMetric.exportDroppedItems, 'gateway/s3', 40],
    [HealthMetric.exportFailedAttempts, 'gateway/s3', 3],
    [HealthMetric.exportDroppedItems, 'gateway/timestream', 3],
    [HealthMetric.exportFailedAttempts, 'gateway/timestream', 0],
  ]);
  // Counters are cumulative; the next interval publishes only what happened since.
  sinks = [{ ...zero, exporter: 's3', failedAttempts: 5, spoolDroppedItems: 40 }, { ...zero, exporter: 'timestream', rejectedItems: 2, unqueuedItems: 1 }];
  expect(exportDatums(fleet.drain())).toEqual([
    [HealthMetric.exportDroppedItems, 'gateway', 0],
    [HealthMetric.exportFailedAttempts, 'gateway', 2],
    [HealthMetric.exportDroppedItems, 'gateway/s3', 0],
    [HealthMetric.exportFailedAttempts, 'gateway/s3', 2],
    [HealthMetric.exportDroppedItems, 'gateway/timestream', 0],
    [HealthMetric.exportFailedAttempts, 'gateway/timestream', 0],
  ]);
});
