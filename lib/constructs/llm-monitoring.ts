import { Annotations, CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import {
  DefaultDashboardFactory, GraphWidgetType, MonitoringFacade, notifySns, type CustomMetricGroup, type CustomThreshold,
} from 'cdk-monitoring-constructs';
import { Construct } from 'constructs';
import { CallMetric, HealthMetric, METRIC_NAMESPACE, MetricDimension } from '../../sensor/common/telemetry-contract';

export interface LlmMonitoringProps {
  /** Key that encrypts the alarm topics (the platform key: alarms carry no customer data). */
  readonly encryptionKey: kms.IKey;
  /** Latency SLA of one call in milliseconds. */
  readonly slaMs: number;
  /** Total tokens per hour above which the budget alarm fires. */
  readonly tokenBudgetPerHour: number;
  /**
   * Address subscribed to the alarm topic.
   * @default - no subscription
   */
  readonly alarmEmail?: string;
  /**
   * Error rate, in percent of calls over 5 minutes, above which the error alarm fires.
   * @default 5
   */
  readonly errorRatePercent?: number;
  /**
   * Spool size in bytes above which the spool alarm fires (a sink or the gateway is unreachable).
   * @default 512 MiB
   */
  readonly spoolBytesThreshold?: number;
  /**
   * How long without a health report from any sensor before the sensor heartbeat alarm fires.
   * @default Duration.minutes(15)
   */
  readonly sensorSilenceAfter?: Duration;
  /**
   * How long without a heartbeat from any gateway before the gateway heartbeat alarm fires.
   * @default Duration.minutes(5)
   */
  readonly gatewaySilenceAfter?: Duration;
  /**
   * Prefix of every alarm name (`<prefix>-SensorHeartbeat-Critical`, ...): stable names the control plane reads.
   * @default 'Sightline'
   */
  readonly alarmNamePrefix?: string;
}

/** The gateway's load balancer, whose healthy targets are the gateway pods that pass /readyz. */
export interface GatewayAvailability {
  readonly loadBalancer: elbv2.INetworkLoadBalancer;
  readonly targetGroup: elbv2.INetworkTargetGroup;
  /** Fewest gateway replicas (the HorizontalPodAutoscaler's minimum); fewer ready ones for 5 minutes raise a warning. */
  readonly minReplicas: number;
}

const healthSchema = `SCHEMA("${METRIC_NAMESPACE}", ${MetricDimension.component})`;

/** A Metrics Insights query: aggregates over every model without knowing the models in advance. */
function insights(sql: string, label: string, period: Duration): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({ expression: sql, usingMetrics: {}, label, period });
}

/**
 * An account-wide total: the exporter publishes each call metric once more without dimensions, so alarms need
 * neither Metrics Insights nor math over queries (which alarms do not accept).
 */
function total(metricName: string, statistic: string, label: string, period: Duration): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace: METRIC_NAMESPACE, metricName, statistic, label, period });
}

/** A SEARCH expression: one line per dimension combination, for dashboards over the full retention. */
function search(dimensions: string, metricName: string, statistic: string, label: string, period = Duration.minutes(5)): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: `SEARCH('{${METRIC_NAMESPACE},${dimensions}} MetricName="${metricName}"', '${statistic}', ${period.toSeconds()})`,
    usingMetrics: {},
    label,
    period,
  });
}

/** A heartbeat or export-health metric the gateway publishes with `Component=gateway|sensor` only. */
/**
 * An alarm that fires when the metric rises above `threshold` in `datapoints` of `periods` periods; no data is quiet
 * (nothing happened).
 */
function alarmAbove(severity: 'Critical' | 'Warning', threshold: number, description: string, periods = 1, datapoints = periods): Record<string, CustomThreshold> {
  return alarm(severity, threshold, cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, cloudwatch.TreatMissingData.NOT_BREACHING, description, periods, datapoints);
}

/** An alarm that fires when the metric falls below `threshold`; no data breaches too (silence is the failure). */
function alarmBelow(severity: 'Critical' | 'Warning', threshold: number, description: string, periods = 1, datapoints = periods): Record<string, CustomThreshold> {
  return alarm(severity, threshold, cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD, cloudwatch.TreatMissingData.BREACHING, description, periods, datapoints);
}

function alarm(
  severity: 'Critical' | 'Warning',
  threshold: number,
  comparisonOperator: cloudwatch.ComparisonOperator,
  treatMissingDataOverride: cloudwatch.TreatMissingData,
  alarmDescriptionOverride: string,
  evaluationPeriods: number,
  datapointsToAlarm: number,
): Record<string, CustomThreshold> {
  return { [severity]: { threshold, comparisonOperator, evaluationPeriods, datapointsToAlarm, treatMissingDataOverride, alarmDescriptionOverride } };
}

function healthTotal(metricName: string, component: 'gateway' | 'sensor', label: string, period: Duration): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRIC_NAMESPACE, metricName, dimensionsMap: { [MetricDimension.component]: component }, statistic: 'Sum', label, period,
  });
}

/**
 * The CloudWatch dashboard, the alarms and the topics they notify: ALARM to `alarmTopic` (the one people subscribe
 * to), back-to-OK to `okTopic`, so a recovery does not page like an incident.
 */
export class LlmMonitoring extends Construct {
  readonly alarmTopic: sns.Topic;
  readonly okTopic: sns.Topic;
  readonly facade: MonitoringFacade;
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: LlmMonitoringProps) {
    super(scope, id);
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Sightline alarms',
      masterKey: props.encryptionKey,
      enforceSSL: true,
    });
    this.okTopic = new sns.Topic(this, 'OkTopic', {
      displayName: 'Sightline alarms back to OK',
      masterKey: props.encryptionKey,
      enforceSSL: true,
    });
    if (props.alarmEmail !== undefined) {
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    } else {
      const unheard = 'No alarm e-mail: alarms publish to the alarm topic, which nobody is subscribed to. '
        + 'Deploy with -c sightline:alarmEmail=you@example.com, or subscribe to the topic in AlarmTopicArn.';
      Annotations.of(this).addWarningV2('sightline:no-alarm-subscriber', unheard);
      new CfnOutput(this, 'AlarmSubscription', { description: 'Who hears the alarms', value: unheard });
    }
    // CloudWatch alarms publish to the encrypted topic and need the key for that, for this account only.
    props.encryptionKey.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'CloudWatchAlarmsPublishToTopic',
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
    }));

    const dashboards = new DefaultDashboardFactory(this, 'Dashboards', {
      dashboardNamePrefix: `${Stack.of(this).stackName}-llm`,
      createDashboard: true,
      createSummaryDashboard: false,
      createAlarmDashboard: false,
      detailDashboardRange: Duration.hours(24),
    });
    this.facade = new MonitoringFacade(this, 'Facade', {
      alarmFactoryDefaults: {
        alarmNamePrefix: props.alarmNamePrefix ?? 'Sightline',
        actionsEnabled: true,
        action: notifySns(this.alarmTopic, this.okTopic),
      },
      metricFactoryDefaults: { namespace: METRIC_NAMESPACE },
      dashboardFactory: dashboards,
    });
    this.dashboard = dashboards.dashboard!;

    const minute = Duration.minutes(1);
    const fiveMinutes = Duration.minutes(5);
    const errorRatePercent = props.errorRatePercent ?? 5;
    const errorRate = new cloudwatch.MathExpression({
      expression: '100 * errors / calls',
      usingMetrics: {
        errors: total(CallMetric.errors, 'Sum', 'errors', fiveMinutes),
        calls: total(CallMetric.calls, 'Sum', 'calls', fiveMinutes),
      },
      label: 'Error rate (%)',
      period: fiveMinutes,
    });

    const usage: CustomMetricGroup[] = [
      {
        title: 'Models and vendors in use (calls)',
        graphWidgetType: GraphWidgetType.BAR,
        metrics: [search(`${MetricDimension.model},${MetricDimension.provider}`, CallMetric.calls, 'Sum', '')],
      },
      {
        title: 'Tokens over time by model and workload',
        graphWidgetType: GraphWidgetType.STACKED_AREA,
        metrics: [search(`${MetricDimension.model},${MetricDimension.provider},${MetricDimension.workload}`, CallMetric.totalTokens, 'Sum', '')],
      },
      {
        title: 'Estimated cost (USD) by model',
        graphWidgetType: GraphWidgetType.STACKED_AREA,
        metrics: [search(`${MetricDimension.model},${MetricDimension.provider}`, CallMetric.costUsd, 'Sum', '')],
      },
    ];
    // DurationMs carries its distribution (Values/Counts), so CloudWatch computes these percentiles.
    const latency: CustomMetricGroup[] = ['p50', 'p90', 'p99'].map((percentile) => ({
      title: `${percentile} latency by model (ms)`,
      metrics: [search(`${MetricDimension.model},${MetricDimension.provider}`, CallMetric.durationMs, percentile, '')],
      horizontalAnnotations: [{ value: props.slaMs, label: 'SLA' }],
    }));
    const slaAndErrors: CustomMetricGroup[] = [
      {
        // Every call over the SLA counts (SlaBreaches, counted by the gateway per call), not a percentile: one slow
        // call among thousands in a minute is a breach too.
        title: `SLA: calls over ${props.slaMs} ms`,
        metrics: [{
          metric: total(CallMetric.slaBreaches, 'Sum', 'calls over the SLA', minute),
          alarmFriendlyName: 'SlaBreach',
          addAlarm: alarmAbove('Critical', 0, `At least one LLM call took longer than the ${props.slaMs} ms SLA in the last minute.`),
        }],
      },
      {
        title: 'Slowest call (ms)',
        metrics: [total(CallMetric.durationMs, 'Maximum', 'slowest call', minute)],
        horizontalAnnotations: [{ value: props.slaMs, label: 'SLA' }],
      },
      {
        title: 'SLA breaches by model',
        metrics: [search(`${MetricDimension.model},${MetricDimension.provider}`, CallMetric.slaBreaches, 'Sum', '')],
      },
      {
        title: 'Error rate (%)',
        metrics: [{
          metric: errorRate,
          alarmFriendlyName: 'ErrorRate',
          addAlarm: alarmAbove('Critical', errorRatePercent, `More than ${errorRatePercent}% of LLM calls failed.`, 3, 2),
        }],
      },
      {
        title: 'Token budget (tokens per hour)',
        metrics: [{
          metric: total(CallMetric.totalTokens, 'Sum', 'tokens per hour', Duration.hours(1)),
          alarmFriendlyName: 'TokenBudget',
          addAlarm: alarmAbove('Warning', props.tokenBudgetPerHour, `More than ${props.tokenBudgetPerHour} tokens used in one hour.`),
        }],
      },
    ];
    const sensorSilenceAfter = props.sensorSilenceAfter ?? Duration.minutes(15);
    const gatewaySilenceAfter = props.gatewaySilenceAfter ?? Duration.minutes(5);
    const health: CustomMetricGroup[] = [
      {
        // Missing heartbeats breach: silence means the gateways or the sensors are gone, not that nobody called a model.
        title: 'Heartbeats: gateway processes, sensors reporting',
        metrics: [
          {
            metric: healthTotal(HealthMetric.heartbeat, 'gateway', 'gateway heartbeats', gatewaySilenceAfter),
            alarmFriendlyName: 'GatewayHeartbeat',
            addAlarm: alarmBelow('Critical', 1, `No gateway published its heartbeat for ${gatewaySilenceAfter.toMinutes()} minutes: every gateway pod is down, or none can reach CloudWatch.`),
          },
          {
            metric: healthTotal(HealthMetric.heartbeat, 'sensor', 'sensor reports', sensorSilenceAfter),
            alarmFriendlyName: 'SensorHeartbeat',
            addAlarm: alarmBelow('Critical', 1, `No sensor health report reached a gateway for ${sensorSilenceAfter.toMinutes()} minutes: the sensors are down or cannot reach the gateway endpoint.`),
          },
        ],
      },
      {
        title: 'Export failures (items lost for good, failed deliveries) by sink',
        metrics: [
          {
            metric: healthTotal(HealthMetric.exportDroppedItems, 'gateway', 'items lost', fiveMinutes),
            alarmFriendlyName: 'ExportDropped',
            addAlarm: alarmAbove('Critical', 0, 'A gateway sink lost spans or metrics for good: refused by S3, Timestream or CloudWatch, or dropped from a full spool (see the gateway log).'),
          },
          {
            metric: healthTotal(HealthMetric.exportFailedAttempts, 'gateway', 'failed deliveries', fiveMinutes),
            alarmFriendlyName: 'ExportFailing',
            addAlarm: alarmAbove('Warning', 0, 'A gateway sink has failed deliveries for 15 minutes: it is down or throttling; the spool holds what waits.', 3),
          },
          search(`${MetricDimension.component},${MetricDimension.exporter}`, HealthMetric.exportDroppedItems, 'Sum', ''),
          search(`${MetricDimension.component},${MetricDimension.exporter}`, HealthMetric.exportFailedAttempts, 'Sum', ''),
        ],
      },
      {
        title: 'Dropped captures',
        metrics: [{
          metric: insights(`SELECT SUM(${HealthMetric.captureDrops}) FROM ${healthSchema}`, 'drops', fiveMinutes),
          alarmFriendlyName: 'Drops',
          addAlarm: alarmAbove('Warning', 0, 'A sensor dropped captured data (its ring buffer was full).'),
        }, search(MetricDimension.component, HealthMetric.captureDrops, 'Sum', '')],
      },
      {
        title: 'Spool size (bytes)',
        metrics: [{
          metric: insights(`SELECT MAX(${HealthMetric.spoolBytes}) FROM ${healthSchema}`, 'largest spool', fiveMinutes),
          alarmFriendlyName: 'SpoolSize',
          addAlarm: alarmAbove('Warning', props.spoolBytesThreshold ?? 512 * 1024 ** 2, 'A spool keeps growing: the gateway or a sink has been unreachable for a while.', 3),
        }, search(MetricDimension.component, HealthMetric.spoolBytes, 'Maximum', '')],
      },
      {
        title: 'LLM calls received by the gateway',
        metrics: [total(CallMetric.calls, 'Sum', 'calls', fiveMinutes)],
      },
    ];

    this.facade
      .addLargeHeader('Sightline: LLM calls')
      .monitorCustom({ alarmFriendlyName: 'LlmUsage', humanReadableName: 'Usage', metricGroups: usage })
      .monitorCustom({ alarmFriendlyName: 'LlmLatency', humanReadableName: 'Latency', metricGroups: latency })
      .monitorCustom({ alarmFriendlyName: 'LlmSla', humanReadableName: 'SLA, errors and budget', metricGroups: slaAndErrors })
      .monitorCustom({ alarmFriendlyName: 'Health', humanReadableName: 'Sensor and gateway health', metricGroups: health });
  }

  /**
   * Alarms on the gateway's load balancer: no healthy target (nothing takes OTLP; critical) and fewer ready gateway
   * pods than the autoscaler's minimum for 5 minutes (warning). A target is healthy while its pod answers /readyz.
   */
  monitorGateway(gateway: GatewayAvailability): void {
    const healthyHosts = (statistic: string, label: string) => gateway.targetGroup.metrics.healthyHostCount({ statistic, label, period: Duration.minutes(1) });
    this.facade.monitorCustom({
      alarmFriendlyName: 'Gateway',
      humanReadableName: 'Gateway availability (NLB healthy targets = ready gateway pods)',
      metricGroups: [{
        title: 'Ready gateway pods behind the NLB',
        metrics: [
          {
            metric: healthyHosts('Maximum', 'healthy targets (max)'),
            alarmFriendlyName: 'NlbHealthyHosts',
            addAlarm: alarmBelow('Critical', 1, 'The gateway NLB has no healthy target: no gateway pod is ready, so sensors cannot deliver (they spool).', 2),
          },
          {
            metric: healthyHosts('Minimum', 'healthy targets (min)'),
            alarmFriendlyName: 'GatewayPodsAvailable',
            addAlarm: alarmBelow('Warning', gateway.minReplicas, `Fewer than ${gateway.minReplicas} gateway pods have been ready for 5 minutes (pods pending, crash-looping or failing /readyz).`, 5),
          },
        ],
      }],
    });
  }

  /** Names of every alarm, for the control plane's health gates and for people. */
  get alarmNames(): string[] {
    return this.facade.createdAlarms().map((alarm) => alarm.alarmName);
  }

  /** Console link to the dashboard. */
  get dashboardUrl(): string {
    const { region } = Stack.of(this);
    return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards/dashboard/${this.dashboard.dashboardName}`;
  }
}
