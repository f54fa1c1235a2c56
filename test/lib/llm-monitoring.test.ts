import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { LlmMonitoring } from '../../lib/constructs/llm-monitoring';
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
  });

  test('SLA alarm: slowest call over 1000 ms in any minute', () => {
    const alarm = alarmNamed('SlaLatency');
    expect(expressionOf(alarm)).toContain('SELECT MAX(DurationMs) FROM SCHEMA("Sightline", Model, Provider)');
    expect(alarm.Threshold).toBe(1000);
    expect(alarm.ComparisonOperator).toBe('GreaterThanThreshold');
    expect(alarm.Metrics.find((metric: any) => metric.ReturnData !== false).Period).toBe(60);
  });

  test('error-rate alarm divides errors by calls', () => {
    const alarm = alarmNamed('ErrorRate');
    expect(expressionOf(alarm)).toContain('100 * errors / calls');
    expect(expressionOf(alarm)).toContain('SELECT SUM(Errors)');
    expect(expressionOf(alarm)).toContain('SELECT SUM(Calls)');
    expect(alarm.Threshold).toBe(5);
  });

  test('token budget alarm sums tokens per hour', () => {
    const alarm = alarmNamed('TokenBudget');
    expect(expressionOf(alarm)).toContain('SELECT SUM(TotalTokens) FROM SCHEMA("Sightline", Model, Provider, Workload)');
    expect(alarm.Threshold).toBe(2_000_000);
    expect(alarm.Metrics.find((metric: any) => metric.Expression).Period).toBe(3600);
  });

  test('health alarms: drops, spool size, and no data treated as breaching', () => {
    expect(expressionOf(alarmNamed('Drops'))).toContain('SUM(CaptureDrops)');
    expect(expressionOf(alarmNamed('SpoolSize'))).toContain('MAX(SpoolBytes)');
    const noData = alarmNamed('NoData');
    expect(expressionOf(noData)).toContain("SUM(SpansReceived) FROM SCHEMA(\"Sightline\", Component) WHERE Component = 'gateway'");
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
      "'p50'", "'p90'", "'p99'", 'SlaBreaches', 'Error rate', 'Spool size', 'Spans received',
    ]) expect(dashboardBody).toContain(fragment);
  });

  test('cdk-nag AwsSolutions: no unacknowledged error', () => {
    expect(nagErrors(stack)).toEqual([]);
  });
});
