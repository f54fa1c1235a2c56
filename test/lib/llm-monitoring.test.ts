import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
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
  let monitoring: LlmMonitoring;
  let alarms: any[];
  let dashboardBody: string;
  beforeAll(() => {
    stack = new Stack(new App(), 'Test', { env: { account: '111122223333', region: 'eu-west-1' } });
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    monitoring = new LlmMonitoring(stack, 'Monitoring', { encryptionKey: key, slaMs: 1000, tokenBudgetPerHour: 2_000_000, alarmEmail: 'sre@example.com' });
    const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0 });
    const loadBalancer = new elbv2.NetworkLoadBalancer(stack, 'Nlb', { vpc });
    const targetGroup = new elbv2.NetworkTargetGroup(stack, 'Targets', { vpc, port: 4318, targetType: elbv2.TargetType.IP });
    loadBalancer.addListener('Otlp', { port: 4318, defaultTargetGroups: [targetGroup] });
    monitoring.monitorGateway({ loadBalancer, targetGroup, minReplicas: 2 });
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

  test('encrypted topics; the e-mail subscribes to ALARM notifications only', () => {
    template.resourceCountIs('AWS::SNS::Topic', 2);
    template.allResourcesProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    const subscriptions = Object.values(template.findResources('AWS::SNS::Subscription')).map((subscription: any) => subscription.Properties);
    expect(subscriptions).toEqual([expect.objectContaining({
      Protocol: 'email', Endpoint: 'sre@example.com', TopicArn: { Ref: stack.getLogicalId(monitoring.alarmTopic.node.defaultChild as any) },
    })]);
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: [Match.objectLike({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })] },
    });
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('No alarm e-mail'))).toEqual([]);
  });

  test('without an alarm e-mail, synth warns and an output says that nobody hears the alarms', () => {
    const quiet = new Stack(new App(), 'Quiet', { env: { account: '111122223333', region: 'eu-west-1' } });
    new LlmMonitoring(quiet, 'Monitoring', { encryptionKey: new kms.Key(quiet, 'Key', { enableKeyRotation: true }), slaMs: 1000, tokenBudgetPerHour: 1 });
    Annotations.fromStack(quiet).hasWarning('*', Match.stringLikeRegexp('No alarm e-mail: .*nobody is subscribed.*sightline:alarmEmail'));
    const outputs = Object.values(Template.fromStack(quiet).findOutputs('*')).map((output: any) => output.Value);
    expect(outputs.some((value) => typeof value === 'string' && value.includes('nobody is subscribed'))).toBe(true);
    Template.fromStack(quiet).resourceCountIs('AWS::SNS::Subscription', 0);
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

  test('heartbeat alarms: silence of every gateway (5 min) or of every sensor (15 min) breaches; LLM traffic does not matter', () => {
    const gateway = alarmNamed('GatewayHeartbeat');
    expect(plainMetricOf(gateway)).toEqual({
      namespace: 'Sightline', metricName: HealthMetric.heartbeat, statistic: 'Sum', dimensions: [{ Name: 'Component', Value: 'gateway' }], period: 300,
    });
    const sensor = alarmNamed('SensorHeartbeat');
    expect(plainMetricOf(sensor)).toEqual({
      namespace: 'Sightline', metricName: HealthMetric.heartbeat, statistic: 'Sum', dimensions: [{ Name: 'Component', Value: 'sensor' }], period: 900,
    });
    for (const alarm of [gateway, sensor]) {
      expect(alarm).toMatchObject({ Threshold: 1, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'breaching' });
    }
    // No alarm watches call volume for silence: a quiet quarter hour is not an outage.
    expect(alarms.filter((alarm) => alarm.TreatMissingData === 'breaching').flatMap((alarm) => alarm.Metrics.map((metric: any) => metric.MetricStat?.Metric.MetricName)))
      .not.toContain('Calls');
  });

  test('export alarms: any item lost for good by a sink (critical), deliveries failing for 15 minutes (warning)', () => {
    const dropped = alarmNamed('ExportDropped');
    expect(plainMetricOf(dropped)).toMatchObject({ metricName: HealthMetric.exportDroppedItems, statistic: 'Sum', dimensions: [{ Name: 'Component', Value: 'gateway' }] });
    expect(dropped).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'notBreaching', EvaluationPeriods: 1 });
    const failing = alarmNamed('ExportFailing');
    expect(plainMetricOf(failing)).toMatchObject({ metricName: HealthMetric.exportFailedAttempts, period: 300 });
    expect(failing).toMatchObject({ EvaluationPeriods: 3, DatapointsToAlarm: 3 });
  });

  test('gateway availability: no healthy NLB target (critical) and fewer ready pods than the HPA minimum for 5 minutes (warning)', () => {
    const noTarget = alarmNamed('NlbHealthyHosts');
    const metricOf = (alarm: any) => alarm.Metrics[0].MetricStat;
    expect(metricOf(noTarget)).toMatchObject({ Metric: { Namespace: 'AWS/NetworkELB', MetricName: 'HealthyHostCount' }, Stat: 'Maximum', Period: 60 });
    expect(metricOf(noTarget).Metric.Dimensions.map((dimension: any) => dimension.Name).sort()).toEqual(['LoadBalancer', 'TargetGroup']);
    expect(noTarget).toMatchObject({ Threshold: 1, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'breaching', EvaluationPeriods: 2 });
    const pods = alarmNamed('GatewayPodsAvailable');
    expect(metricOf(pods)).toMatchObject({ Stat: 'Minimum', Period: 60 });
    expect(pods).toMatchObject({ Threshold: 2, ComparisonOperator: 'LessThanThreshold', EvaluationPeriods: 5, DatapointsToAlarm: 5 });
  });

  test('health alarms on sensor drops and spool size stay', () => {
    expect(expressionOf(alarmNamed('Drops'))).toContain('SUM(CaptureDrops)');
    expect(expressionOf(alarmNamed('SpoolSize'))).toContain('MAX(SpoolBytes)');
  });

  test('ALARM notifies the alarm topic, back-to-OK the recovery topic; names are stable for the control plane', () => {
    expect(alarms).toHaveLength(11);
    const topicRef = (topic: any) => ({ Ref: stack.getLogicalId(topic.node.defaultChild) });
    for (const alarm of alarms) {
      expect(alarm.AlarmActions).toEqual([topicRef(monitoring.alarmTopic)]);
      expect(alarm.OKActions).toEqual([topicRef(monitoring.okTopic)]);
      expect(alarm.InsufficientDataActions).toBeUndefined();
    }
    expect(monitoring.alarmNames).toEqual(expect.arrayContaining([
      'Sightline-Health-SensorHeartbeat-Critical', 'Sightline-Health-GatewayHeartbeat-Critical', 'Sightline-Gateway-NlbHealthyHosts-Critical',
    ]));
    expect(monitoring.alarmNames.slice().sort()).toEqual(alarms.map((alarm) => alarm.AlarmName).sort());
  });

  test('dashboard: models in use, tokens by model and workload, p50/p90/p99, SLA breaches, errors, health', () => {
    for (const fragment of [
      'Models and vendors in use', 'MetricName=\\\\\\"Calls\\\\\\"',
      'Tokens over time by model and workload', '{Sightline,Model,Provider,Workload} MetricName=\\\\\\"TotalTokens\\\\\\"',
      'SlaBreaches', 'Error rate', 'Spool size', 'LLM calls received by the gateway', 'Heartbeats', 'Export failures',
      '{Sightline,Component,Exporter} MetricName=\\\\\\"ExportDroppedItems\\\\\\"',
    ]) expect(dashboardBody).toContain(fragment);
    // Latency widgets read percentile statistics of DurationMs per model.
    for (const percentile of ['p50', 'p90', 'p99']) {
      expect(dashboardBody).toContain(`{Sightline,Model,Provider} MetricName=\\\\\\"DurationMs\\\\\\"', '${percentile}', 300)`);
    }
    // Cost is published per model and provider, so the widget searches exactly those dimensions.
    expect(dashboardBody).toContain('{Sightline,Model,Provider} MetricName=\\\\\\"CostUsd\\\\\\"');
  });

  test('every alarm and dashboard search reads a metric the CloudWatch exporter publishes, under its dimensions', () => {
    const sink = { exporter: 's3', deliveredItems: 0, deliveredBatches: 0, failedAttempts: 0, rejectedItems: 0, queuedBatches: 0, spoolDroppedItems: 0, unqueuedItems: 0 };
    const healthDatums = new FleetHealth(new Registry(), { gatewaySpoolBytes: () => 0, deliveryStats: () => [sink] }, silentLogger()).drain();
    const published = new Set([...toMetricDatums([aggregate()]), ...healthDatums].map((datum) => `${datum.MetricName}[${(datum.Dimensions ?? []).map((d) => d.Name).sort().join(',')}]`));
    const read: string[] = [];
    for (const alarm of alarms) {
      for (const metric of alarm.Metrics ?? []) {
        if (metric.MetricStat !== undefined && metric.MetricStat.Metric.Namespace === 'Sightline') {
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
    for (const metric of [HealthMetric.captureDrops, HealthMetric.heartbeat, HealthMetric.exportDroppedItems, HealthMetric.exportFailedAttempts]) {
      expect([metric, read.some((key) => key.startsWith(`${metric}[`))]).toEqual([metric, true]);
    }
  });

  test('cdk-nag AwsSolutions: no unacknowledged error', () => {
    // The VPC and NLB are fixtures of this test; the construct under test is the monitoring.
    expect(nagErrors(monitoring)).toEqual([]);
  });
});
