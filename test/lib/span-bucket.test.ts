import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { SpanBucket } from '../../lib/constructs/span-bucket';
import { nagErrors } from './support';

describe('SpanBucket', () => {
  let stack: Stack;
  let template: Template;
  let spans: SpanBucket;
  beforeAll(() => {
    stack = new Stack(new App({ context: { '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true } }), 'Test');
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    spans = new SpanBucket(stack, 'Spans', { encryptionKey: key });
    template = Template.fromStack(stack);
  });

  test('span bucket: KMS with bucket key, public access blocked, access logs, retained', () => {
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.anyValue() } }] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        LoggingConfiguration: { DestinationBucketName: { Ref: stack.getLogicalId(spans.accessLogBucket.node.defaultChild as any) }, LogFilePrefix: 'span-bucket/' },
      }),
    });
  });

  test('lifecycle tiers spans and payloads, then expires them', () => {
    const bucket = template.findResources('AWS::S3::Bucket', { Properties: { BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }] } } });
    const rules = (Object.values(bucket)[0] as any).Properties.LifecycleConfiguration.Rules;
    for (const prefix of ['spans/', 'payloads/']) {
      const rule = rules.find((candidate: any) => candidate.Prefix === prefix);
      expect(rule.Transitions).toEqual([
        { StorageClass: 'STANDARD_IA', TransitionInDays: 30 },
        { StorageClass: 'GLACIER_IR', TransitionInDays: 90 },
      ]);
      expect(rule.ExpirationInDays).toBe(395);
    }
    expect(rules.find((rule: any) => rule.Prefix === 'athena-results/').ExpirationInDays).toBe(7);
  });

  test('both buckets deny plain-HTTP access', () => {
    const policies = template.findResources('AWS::S3::BucketPolicy');
    expect(Object.keys(policies)).toHaveLength(2);
    for (const policy of Object.values(policies) as any[]) {
      expect(policy.Properties.PolicyDocument.Statement).toEqual(expect.arrayContaining([
        expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      ]));
    }
  });

  test('cdk-nag AwsSolutions: no unacknowledged error', () => {
    expect(nagErrors(stack)).toEqual([]);
  });
});
