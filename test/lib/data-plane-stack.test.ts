import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { DataPlaneStack } from '../../lib/data-plane-stack';
import { nagErrors } from './support';

const image = 'public.ecr.aws/example/sightline:1.0.0';
const appContext = { '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true };

describe('DataPlaneStack', () => {
  let stack: DataPlaneStack;
  let template: Template;
  beforeAll(() => {
    stack = new DataPlaneStack(new App({ context: appContext }), 'DataPlane', { image, slaMs: 800, alarmEmail: 'sre@example.com' });
    template = Template.fromStack(stack);
  });

  test('composes key, bucket, catalog, Timestream, monitoring and the gateway cluster', () => {
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.resourceCountIs('AWS::Glue::Table', 1);
    template.resourceCountIs('AWS::Timestream::Table', 2);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.resourceCountIs('AWS::EKS::Cluster', 1);
    template.resourceCountIs('AWS::EC2::VPCEndpointService', 1);
  });

  test('the SLA reaches the saved query, the alarm and the gateway config', () => {
    const queries = Object.values(template.findResources('AWS::Athena::NamedQuery')).map((query: any) => query.Properties.QueryString);
    expect(queries.some((sql) => sql.includes('duration_ms > 800'))).toBe(true);
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((alarm: any) => alarm.Properties);
    const slaAlarm = alarms.find((alarm) => JSON.stringify(alarm.AlarmName).includes('SlaBreach'));
    expect(slaAlarm.AlarmDescription).toContain('800 ms');
    expect(slaAlarm.Metrics[0].MetricStat).toMatchObject({ Metric: { Namespace: 'Sightline', MetricName: 'SlaBreaches' }, Stat: 'Sum' });
    const manifests = JSON.stringify(template.findResources('Custom::AWSCDK-EKS-KubernetesResource'));
    expect(manifests).toContain('slaThresholdMs: 800');
  });

  test('defines no role a party outside the account can assume', () => {
    const roles = Object.values(template.findResources('AWS::IAM::Role')) as any[];
    for (const role of roles) {
      for (const statement of role.Properties.AssumeRolePolicyDocument.Statement) {
        expect(Object.keys(statement.Principal)).not.toContain('AWS');
      }
    }
  });

  test('the gateway may write call records to the llm_calls table only', () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((policy: any) => policy.Properties.PolicyDocument.Statement);
    const writes = statements.filter((statement: any) => statement.Sid === 'WriteTimestreamRecords');
    expect(writes).toHaveLength(1);
    const tables = Object.entries(template.findResources('AWS::Timestream::Table')).map(([id, table]: [string, any]) => [id, table.Properties.TableName]);
    const llmCalls = tables.find(([, name]) => name === 'llm_calls')![0];
    expect(writes[0].Resource).toEqual({ 'Fn::GetAtt': [llmCalls, 'Arn'] });
  });

  test('outputs what the operator needs next', () => {
    for (const name of ['SpanBucketName', 'AthenaWorkGroup', 'DashboardUrl', 'AlarmTopicArn']) template.hasOutput(name, {});
    const outputs = Object.keys(template.findOutputs('*'));
    expect(outputs.some((name) => name.includes('GatewayEndpointServiceName'))).toBe(true);
  });

  test('sightline:timestream=false: no Timestream resources and no Timestream permission', () => {
    const cloudWatchOnlyStack = new DataPlaneStack(new App({ context: appContext }), 'DataPlane', { image, timestream: false });
    const cloudWatchOnly = Template.fromStack(cloudWatchOnlyStack);
    expect(Object.keys(cloudWatchOnly.findResources('AWS::Timestream::Database'))).toEqual([]);
    expect(Object.keys(cloudWatchOnly.findResources('AWS::Timestream::Table'))).toEqual([]);
    expect(JSON.stringify(cloudWatchOnly.findResources('AWS::IAM::Policy'))).not.toContain('timestream:');
    const gatewayManifest = JSON.stringify(cloudWatchOnly.findResources('Custom::AWSCDK-EKS-KubernetesResource'));
    expect(gatewayManifest).toContain('cloudwatch:');
    expect(gatewayManifest).not.toContain('timestream:');
    expect(nagErrors(cloudWatchOnlyStack)).toEqual([]);
  });

  test('cdk-nag AwsSolutions: no unacknowledged error', () => {
    expect(nagErrors(stack)).toEqual([]);
  });
});
