import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { DataPlaneStack } from '../../lib/data-plane-stack';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { nagErrors, resolveIntrinsics } from './support';

const image = 'public.ecr.aws/example/sightline:1.0.0';
const appContext = { '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true };

describe('DataPlaneStack', () => {
  let stack: DataPlaneStack;
  let template: Template;
  beforeAll(() => {
    stack = new DataPlaneStack(new App({ context: appContext }), 'DataPlane', { image, slaMs: 800, alarmEmail: 'sre@example.com' });
    template = Template.fromStack(stack);
  });

  test('composes keys, bucket, catalog, Timestream, monitoring and the gateway cluster', () => {
    // The data key, the platform key, and the transport key of the gateway certificate and the sensor tokens.
    template.resourceCountIs('AWS::KMS::Key', 3);
    template.allResourcesProperties('AWS::KMS::Key', { EnableKeyRotation: true });
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

  test('customer data under the data key; EKS secrets and alarm topics under the platform key', () => {
    const ref = (key: any) => stack.resolve(key.keyArn);
    const dataKeyId = stack.getLogicalId(stack.dataKey.node.defaultChild as any);
    const dataKey = JSON.stringify(ref(stack.dataKey));
    const platformKey = JSON.stringify(ref(stack.platformKey));
    const encryptedWith = (type: string, path: (properties: any) => unknown) =>
      Object.values(template.findResources(type)).map((resource: any) => JSON.stringify(path(resource.Properties)));
    expect(encryptedWith('AWS::S3::Bucket', (p) => p.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.KMSMasterKeyID)
      .filter((key) => key !== undefined)).toEqual([dataKey]);
    expect(encryptedWith('AWS::Timestream::Database', (p) => p.KmsKeyId)).toEqual([dataKey]);
    expect(encryptedWith('AWS::Athena::WorkGroup', (p) => p.WorkGroupConfiguration.ResultConfiguration.EncryptionConfiguration.KmsKey)).toEqual([dataKey]);
    expect(encryptedWith('AWS::EKS::Cluster', (p) => p.EncryptionConfig[0].Provider.KeyArn)).toEqual([platformKey]);
    const platformKeyId = stack.getLogicalId(stack.platformKey.node.defaultChild as any);
    const topicKeys = encryptedWith('AWS::SNS::Topic', (p) => p.KmsMasterKeyId);
    expect(topicKeys).toHaveLength(2);
    for (const key of topicKeys) expect(key).toContain(platformKeyId);
    // CloudWatch may use the platform key (to publish to the encrypted topics), never the data key.
    const keyPolicies = Object.entries(template.findResources('AWS::KMS::Key')).map(([id, key]: [string, any]) => [id, JSON.stringify(key.Properties.KeyPolicy)]);
    for (const [id, policy] of keyPolicies) expect([id, policy.includes('cloudwatch.amazonaws.com')]).toEqual([id, id === platformKeyId]);
    expect(keyPolicies.map(([id]) => id)).toContain(dataKeyId);
  });

  test('the gateway writer encrypts new span objects through S3 with the data key, and can decrypt nothing (IAM simulator)', async () => {
    const account = '111122223333';
    const region = 'eu-west-1';
    const pinned = new DataPlaneStack(new App({ context: appContext }), 'Pinned', { image, env: { account, region } });
    const pinnedTemplate = Template.fromStack(pinned);
    const keyId = pinned.getLogicalId(pinned.dataKey.node.defaultChild as any);
    const bucketId = pinned.getLogicalId(pinned.spans.bucket.node.defaultChild as any);
    const keyArn = `arn:aws:kms:${region}:${account}:key/0000-data`;
    const tableId = pinned.getLogicalId(pinned.metricStore!.tables.llmCalls);
    const refs = {
      [`${keyId}.Arn`]: keyArn, [`${bucketId}.Arn`]: 'arn:aws:s3:::spans-bucket', [`${tableId}.Arn`]: `arn:aws:timestream:${region}:${account}:database/db/table/llm_calls`,
      'AWS::Region': region, 'AWS::AccountId': account,
      // The gateway also reads its certificate and the tokens (transport secrets), under a key of their own.
      [pinned.getLogicalId(pinned.transport.tlsSecret.node.defaultChild as any)]: `arn:aws:secretsmanager:${region}:${account}:secret:tls`,
      [`${pinned.getLogicalId(pinned.transport.key.node.defaultChild as any)}.Arn`]: `arn:aws:kms:${region}:${account}:key/0000-transport`,
    };
    const keyPolicy = resolveIntrinsics((pinnedTemplate.findResources('AWS::KMS::Key')[keyId] as any).Properties.KeyPolicy, refs);
    const writerPolicies = Object.values(pinnedTemplate.findResources('AWS::IAM::Policy'))
      .filter((policy: any) => JSON.stringify(policy.Properties.Roles).includes(pinned.getLogicalId(pinned.writer.role.node.defaultChild as any)))
      .map((policy: any, index) => ({ name: `writer-${index}`, policy: resolveIntrinsics(policy.Properties.PolicyDocument, refs) }));
    expect(writerPolicies.length).toBeGreaterThan(0);
    const decide = async (action: string, viaService: string) => {
      const response = await runSimulation({
        request: {
          principal: `arn:aws:iam::${account}:role/writer`, action, resource: { resource: keyArn, accountId: account },
          contextVariables: { 'kms:ViaService': `${viaService}.${region}.amazonaws.com`, 'kms:CallerAccount': account },
        },
        identityPolicies: writerPolicies, serviceControlPolicies: [], resourceControlPolicies: [], resourcePolicy: keyPolicy,
      }, {});
      if (response.resultType === 'error') throw new Error(JSON.stringify(response.errors));
      return response.overallResult;
    };
    expect(await decide('kms:GenerateDataKey', 's3')).toBe('Allowed');
    expect(await decide('kms:Decrypt', 's3')).not.toBe('Allowed');
    expect(await decide('kms:GenerateDataKey', 'timestream')).not.toBe('Allowed');
    // Its Secrets Manager reads open nothing on the data key.
    expect(await decide('kms:Decrypt', 'secretsmanager')).not.toBe('Allowed');
  });

  test('every log group has a retention, the log groups of the kubectl and custom-resource functions included', () => {
    const groups = template.findResources('AWS::Logs::LogGroup');
    expect(Object.keys(groups).length).toBeGreaterThanOrEqual(4);
    for (const group of Object.values(groups) as any[]) expect(group.Properties.RetentionInDays).toBeGreaterThan(0);
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as any[];
    expect(functions.length).toBeGreaterThan(0);
    for (const fn of functions) expect(groups[fn.Properties.LoggingConfig?.LogGroup?.Ref]).toBeDefined();
  });

  test('outputs what the operator needs next', () => {
    for (const name of ['SpanBucketName', 'AthenaWorkGroup', 'GlueDatabase', 'DashboardUrl', 'AlarmTopicArn', 'AlarmRecoveryTopicArn', 'AlarmNames', 'DataKeyArn']) template.hasOutput(name, {});
    expect(template.findOutputs('AlarmNames').AlarmNames.Value).toMatch(/^Sightline-[^,]+(,Sightline-[^,]+){10}$/);
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
