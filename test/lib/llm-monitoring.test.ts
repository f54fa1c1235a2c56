import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { LlmMonitoring } from '../../lib/constructs/llm-monitoring';
import { Registry } from 'prom-client';
import { silentLogger } from '../../sensor/common/logger';
import { HealthMetric } from '../../sensor/common/telemetry-contract';
import { FleetHealth } from '../../sensor/runtime/fleet-health';
import { toMetricDatums } from '../../sensor/exporters/cloudwatch-exporter';
import { aggregate } from '../exporters/aggregate-fixture';
import { nagErrors } from './support';

describe('LlmMonitoring', () => {
  let stack: Stack;
  let template: Template;
  let alarms: any[];
  let dashboardBody: string;
  beforeAll(() => {
    stack = new Stack(new App(), 'Test', { env: { account: '111122223333', region: 'eu-west-1' } });
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    new LlmMonitoring(stack, 'Monitoring', { encryptionKey: key, slaMs: 1000, tokenBudgetPerHour: 2_000_000, alarmEmail: 'sre@example.com' });
    template = Template.fromStack(stack);
    alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((alarm: any) => alarm.Properties);
    dashboardBody = JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]);
  });

  const alarmNamed = (fragment: string): any => {
    const alarm = alarms.find((candidate) => JSON.stringify(candidate.AlarmName).includes(fragment));
    if (alarm === undefined) throw new Error(`no alarm named like ${fragment}: ${alarms.map((a) => JSON.stringify(a.AlarmName)).join(', ')}`);
    return alarm;
  };
  const expressionOf = (alarm: any): string => alarm.Metrics.map((metric: any) => metric.Expression).join(' | ');

  test('encrypted topic with the e-mail subscription', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'sre@example.com' });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: [Match.objectLike({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })] },
    });
  });

  /** The alarm's metric when it watches one plain metric (no math, no query). */
  const plainMetricOf = (alarm: any): any => {
    expect(alarm.Metrics).toHaveLength(1);
    const [{ MetricStat: stat, Expression: expression }] = alarm.Metrics;
    expect(expression).toBeUndefined();
    return { namespace: stat.Metric.Namespace, metricName: stat.Metric.MetricName, statistic: stat.Stat, dimensions: stat.Metric.Dimensions, period: stat.Period };
  };

  test('SLA alarm: any call over the SLA in a minute (the Sum of the dimensionless SlaBreaches count above 0)', () => {
    const alarm = alarmNamed('SlaBreach');
    expect(plainMetricOf(alarm)).toEqual({ namespace: 'Sightline', metricName: 'SlaBreaches', statistic: 'Sum', dimensions: undefined, period: 60 });
    expect(alarm.Threshold).toBe(0);
    expect(alarm.ComparisonOperator).toBe('GreaterThanThreshold');
    expect(alarm.TreatMissingData).toBe('notBreaching');
    expect(alarm.AlarmDescription).toContain('1000 ms');
  });

  test('error-rate alarm: plain metric math over the dimensionless Errors and Calls totals', () => {
    const alarm = alarmNamed('ErrorRate');
    const byId = Object.fromEntries(alarm.Metrics.map((metric: any) => [metric.Id, metric]));
    const expression = alarm.Metrics.find((metric: any) => metric.Expression !== undefined);
    expect(expression.Expression).toBe('100 * errors / calls');
    expect(alarm.Metrics.filter((metric: any) => metric.Expression !== undefined)).toHaveLength(1);
    for (const [id, metricName] of [['errors', 'Errors'], ['calls', 'Calls']]) {
      expect(byId[id].MetricStat).toEqual({ Metric: { Namespace: 'Sightline', MetricName: metricName }, Period: 300, Stat: 'Sum' });
      expect(byId[id].ReturnData).toBe(false);
    }
    expect(expressionOf(alarm)).not.toMatch(/SELECT|SEARCH/);
    expect(alarm.Threshold).toBe(5);
  });

  test('token budget alarm sums the dimensionless TotalTokens per hour', () => {
    const alarm = alarmNamed('TokenBudget');
    expect(plainMetricOf(alarm)).toEqual({ namespace: 'Sightline', metricName: 'TotalTokens', statistic: 'Sum', dimensions: undefined, period: 3600 });
    expect(alarm.Threshold).toBe(2_000_000);
  });

  test('health alarms: drops, spool size, and no calls for 15 minutes treated as breaching', () => {
    expect(expressionOf(alarmNamed('Drops'))).toContain('SUM(CaptureDrops)');
    expect(expressionOf(alarmNamed('SpoolSize'))).toContain('MAX(SpoolBytes)');
    const noData = alarmNamed('NoData');
    expect(plainMetricOf(noData)).toEqual({ namespace: 'Sightline', metricName: 'Calls', statistic: 'Sum', dimensions: undefined, period: 900 });
    expect(noData.TreatMissingData).toBe('breaching');
    expect(noData.ComparisonOperator).toBe('LessThanThreshold');
  });

  test('every alarm notifies the topic', () => {
    expect(alarms).toHaveLength(6);
    for (const alarm of alarms) expect(alarm.AlarmActions).toEqual([{ Ref: expect.stringMatching(/AlarmTopic/) }]);
  });

  test('dashboard: models in use, tokens by model and workload, p50/p90/p99, SLA breaches, errors, health', () => {
    for (const fragment of [
      'Models and vendors in use', 'MetricName=\\\\\\"Calls\\\\\\"',
      'Tokens over time by model and workload', '{Sightline,Model,Provider,Workload} MetricName=\\\\\\"TotalTokens\\\\\\"',
      'SlaBreaches', 'Error rate', 'Spool size', 'LLM calls received by the gateway',
    ]) expect(dashboardBody).toContain(fragment);
    // Latency widgets read percentile statistics of DurationMs per model.
    for (const percentile of ['p50', 'p90', 'p99']) {
      expect(dashboardBody).toContain(`{Sightline,Model,Provider} MetricName=\\\\\\"DurationMs\\\\\\"', '${percentile}', 300)`);
    }
    // Cost is published per model and provider, so the widget searches exactly those dimensions.
    expect(dashboardBody).toContain('{Sightline,Model,Provider} MetricName=\\\\\\"CostUsd\\\\\\"');
  });

  test('every alarm and dashboard search reads a metric the CloudWatch exporter publishes, under its dimensions', () => {
    const healthDatums = new FleetHealth(new Registry(), { gatewaySpoolBytes: () => 0 }, silentLogger()).drain();
    const published = new Set([...toMetricDatums([aggregate()]), ...healthDatums].map((datum) => `${datum.MetricName}[${(datum.Dimensions ?? []).map((d) => d.Name).sort().join(',')}]`));
    const read: string[] = [];
    for (const alarm of alarms) {
      for (const metric of alarm.Metrics ?? []) {
        if (metric.MetricStat !== undefined) {
          read.push(`${metric.MetricStat.Metric.MetricName}[${(metric.MetricStat.Metric.Dimensions ?? []).map((d: any) => d.Name).sort().join(',')}]`);
        }
      }
    }
    for (const [, dimensions, metricName] of dashboardBody.matchAll(/\{Sightline,([A-Za-z,]+)\} MetricName=\\+"(\w+)\\+"/g)) {
      read.push(`${metricName}[${dimensions.split(',').sort().join(',')}]`);
    }
    expect(read.length).toBeGreaterThan(10);
    const missing = read.filter((key) => !published.has(key));
    expect(missing).toEqual([]);
    // The health widgets and alarms read what the gateway's fleet health publishes.
    expect(read.some((key) => key.startsWith(`${HealthMetric.captureDrops}[`))).toBe(true);
  });

  test('cdk-nag AwsSolutions: no unacknowledged error', () => {
    expect(nagErrors(stack)).toEqual([]);
  });
});
