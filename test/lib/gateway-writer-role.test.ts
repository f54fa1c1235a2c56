import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { GatewayWriterRole } from '../../lib/constructs/gateway-writer-role';
import { allowedActions, nagErrors } from './support';

function synth(tableArns?: string[]): { stack: Stack; template: Template } {
  const stack = new Stack(new App(), 'Test');
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  const bucket = new s3.Bucket(stack, 'Bucket', { encryptionKey: key, enforceSSL: true });
  new GatewayWriterRole(stack, 'Writer', { spanBucket: bucket, encryptionKey: key, timestreamTableArns: tableArns });
  return { stack, template: Template.fromStack(stack) };
}

describe('GatewayWriterRole', () => {
  const tableArn = 'arn:aws:timestream:eu-west-1:111122223333:database/db/table/llm_calls';
  let stack: Stack;
  let template: Template;
  let statements: any[];
  beforeAll(() => {
    ({ stack, template } = synth([tableArn]));
    statements = (Object.values(template.findResources('AWS::IAM::Policy'))[0] as any).Properties.PolicyDocument.Statement;
  });

  test('trusted by EKS Pod Identity only', () => {
    const role = Object.values(template.findResources('AWS::IAM::Role'))[0] as any;
    const trust = role.Properties.AssumeRolePolicyDocument.Statement;
    expect(new Set(trust.map((statement: any) => statement.Principal.Service))).toEqual(new Set(['pods.eks.amazonaws.com']));
    expect(trust.flatMap((statement: any) => [statement.Action].flat()).sort()).toEqual(['sts:AssumeRole', 'sts:TagSession']);
    for (const statement of trust) expect(statement.Condition).toEqual({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } });
  });

  test('grants exactly the write actions', () => {
    expect(allowedActions({ Statement: statements }).sort()).toEqual([
      'cloudwatch:putmetricdata', 'kms:generatedatakey', 's3:putobject', 'timestream:describeendpoints', 'timestream:writerecords',
    ]);
  });

  test('each write is scoped: object prefixes, its tables, its metric namespace', () => {
    const bySid = Object.fromEntries(statements.map((statement) => [statement.Sid, statement]));
    const objectArns = JSON.stringify(bySid.PutSpanObjects.Resource);
    expect(objectArns).toContain('/spans/*');
    expect(objectArns).not.toContain('/payloads/'); // payloads travel inside the span objects
    expect(bySid.EncryptSpanObjects.Condition).toEqual({ StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['s3.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } } });
    expect(bySid.WriteTimestreamRecords.Resource).toBe(tableArn);
    expect(bySid.PutSightlineMetrics.Condition).toEqual({ StringEquals: { 'cloudwatch:namespace': 'Sightline' } });
  });

  test('CloudWatch-only accounts get no Timestream permission', () => {
    const policy = Object.values(synth().template.findResources('AWS::IAM::Policy'))[0] as any;
    expect(allowedActions(policy.Properties.PolicyDocument).filter((action) => action.startsWith('timestream:'))).toEqual([]);
  });

  test('cdk-nag AwsSolutions: no unacknowledged error on the role and its policy', () => {
    expect(nagErrors(stack.node.findChild('Writer'))).toEqual([]);
  });
});
