import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import {
  DefaultDashboardFactory, GraphWidgetType, MonitoringFacade, notifySns, type CustomMetricGroup,
} from 'cdk-monitoring-constructs';
import { Construct } from 'constructs';
import { CallMetric, HealthMetric, METRIC_NAMESPACE, MetricDimension } from '../../sensor/common/telemetry-contract';

export interface LlmMonitoringProps {
  /** Key that encrypts the alarm topic. */
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
   * How long without any span reaching the gateway before the no-data alarm fires.
   * @default Duration.minutes(15)
   */
  readonly noDataAfter?: Duration;
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

/** The CloudWatch dashboard, the alarms and the topic they notify. */
export class LlmMonitoring extends Construct {
  readonly alarmTopic: sns.Topic;
  readonly facade: MonitoringFacade;
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: LlmMonitoringProps) {
    super(scope, id);
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Sightline alarms',
      masterKey: props.encryptionKey,
      enforceSSL: true,
    });
    if (props.alarmEmail !== undefined) {
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
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
        alarmNamePrefix: 'Sightline',
        actionsEnabled: true,
        action: notifySns(this.alarmTopic, this.alarmTopic),
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
          addAlarm: {
            Critical: {
              threshold: 0,
              comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
              evaluationPeriods: 1,
              datapointsToAlarm: 1,
              treatMissingDataOverride: cloudwatch.TreatMissingData.NOT_BREACHING,
              alarmDescriptionOverride: `At least one LLM call took longer than the ${props.slaMs} ms SLA in the last minute.`,
            },
          },
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
          addAlarm: {
            Critical: {
              threshold: errorRatePercent,
              comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
              evaluationPeriods: 3,
              datapointsToAlarm: 2,
              treatMissingDataOverride: cloudwatch.TreatMissingData.NOT_BREACHING,
              alarmDescriptionOverride: `More than ${errorRatePercent}% of LLM calls failed.`,
            },
          },
        }],
      },
      {
        title: 'Token budget (tokens per hour)',
        metrics: [{
          metric: total(CallMetric.totalTokens, 'Sum', 'tokens per hour', Duration.hours(1)),
          alarmFriendlyName: 'TokenBudget',
          addAlarm: {
            Warning: {
              threshold: props.tokenBudgetPerHour,
              comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
              evaluationPeriods: 1,
              datapointsToAlarm: 1,
              treatMissingDataOverride: cloudwatch.TreatMissingData.NOT_BREACHING,
              alarmDescriptionOverride: `More than ${props.tokenBudgetPerHour} tokens used in one hour.`,
            },
          },
        }],
      },
    ];
    const health: CustomMetricGroup[] = [
      {
        title: 'Dropped captures and spans',
        metrics: [{
          metric: insights(`SELECT SUM(${HealthMetric.captureDrops}) FROM ${healthSchema}`, 'drops', fiveMinutes),
          alarmFriendlyName: 'Drops',
          addAlarm: {
            Warning: {
              threshold: 0,
              comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
              evaluationPeriods: 1,
              datapointsToAlarm: 1,
              treatMissingDataOverride: cloudwatch.TreatMissingData.NOT_BREACHING,
              alarmDescriptionOverride: 'A sensor or the gateway dropped captured data.',
            },
          },
        }, search(MetricDimension.component, HealthMetric.captureDrops, 'Sum', '')],
      },
      {
        title: 'Spool size (bytes)',
        metrics: [{
          metric: insights(`SELECT MAX(${HealthMetric.spoolBytes}) FROM ${healthSchema}`, 'largest spool', fiveMinutes),
          alarmFriendlyName: 'SpoolSize',
          addAlarm: {
            Warning: {
              threshold: props.spoolBytesThreshold ?? 512 * 1024 ** 2,
              comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
              evaluationPeriods: 3,
              datapointsToAlarm: 3,
              treatMissingDataOverride: cloudwatch.TreatMissingData.NOT_BREACHING,
              alarmDescriptionOverride: 'A spool keeps growing: the gateway or a sink has been unreachable for a while.',
            },
          },
        }, search(MetricDimension.component, HealthMetric.spoolBytes, 'Maximum', '')],
      },
      {
        title: 'LLM calls received by the gateway',
        metrics: [{
          metric: total(CallMetric.calls, 'Sum', 'calls', props.noDataAfter ?? Duration.minutes(15)),
          alarmFriendlyName: 'NoData',
          addAlarm: {
            Critical: {
              threshold: 1,
              comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
              evaluationPeriods: 1,
              datapointsToAlarm: 1,
              // Silence is the failure this alarm exists for: the exporter publishes nothing for an empty interval.
              treatMissingDataOverride: cloudwatch.TreatMissingData.BREACHING,
              alarmDescriptionOverride: 'No LLM call reached the gateway: sensors, the endpoint or the gateway are down (or no workload called a model).',
            },
          },
        }],
      },
    ];

    this.facade
      .addLargeHeader('Sightline: LLM calls')
      .monitorCustom({ alarmFriendlyName: 'LlmUsage', humanReadableName: 'Usage', metricGroups: usage })
      .monitorCustom({ alarmFriendlyName: 'LlmLatency', humanReadableName: 'Latency', metricGroups: latency })
      .monitorCustom({ alarmFriendlyName: 'LlmSla', humanReadableName: 'SLA, errors and budget', metricGroups: slaAndErrors })
      .monitorCustom({ alarmFriendlyName: 'Health', humanReadableName: 'Sensor and gateway health', metricGroups: health });
  }

  /** Console link to the dashboard. */
  get dashboardUrl(): string {
    const { region } = Stack.of(this);
    return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards/dashboard/${this.dashboard.dashboardName}`;
  }
}
