import { App, Duration, Stack } from 'aws-cdk-lib';
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

  test('span bucket: KMS with bucket key, public access blocked, access logs, versioned, retained', () => {
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        VersioningConfiguration: { Status: 'Enabled' },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.anyValue() } }] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        LoggingConfiguration: { DestinationBucketName: { Ref: stack.getLogicalId(spans.accessLogBucket.node.defaultChild as any) }, LogFilePrefix: 'span-bucket/' },
      }),
    });
  });

  const rulesOf = (rendered: Template): any[] => {
    const bucket = rendered.findResources('AWS::S3::Bucket', { Properties: { BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }] } } });
    return (Object.values(bucket)[0] as any).Properties.LifecycleConfiguration.Rules;
  };

  test('lifecycle tiers the span objects, then expires them; old versions and stale delete markers go too', () => {
    const rules = rulesOf(template);
    const spansRule = rules.find((candidate: any) => candidate.Prefix === 'spans/');
    expect(spansRule.Transitions).toEqual([
      { StorageClass: 'STANDARD_IA', TransitionInDays: 30 },
      { StorageClass: 'GLACIER_IR', TransitionInDays: 90 },
    ]);
    expect(spansRule.ExpirationInDays).toBe(395);
    // Nothing writes payloads/ (payloads travel inside the span objects), so no rule pretends otherwise.
    expect(rules.map((rule: any) => rule.Prefix).filter(Boolean).sort()).toEqual(['athena-results/', 'spans/']);
    expect(rules.find((rule: any) => rule.Prefix === 'athena-results/').ExpirationInDays).toBe(7);
    // A retried batch overwrites its own key: the replaced version is kept a week, never forever.
    expect(rules).toContainEqual(expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 7 }, Status: 'Enabled' }));
    expect(rules).toContainEqual(expect.objectContaining({ ExpiredObjectDeleteMarker: true, Status: 'Enabled' }));
  });

  test('Object Lock in governance mode when asked, and never longer than the spans live', () => {
    expect((Object.values(template.findResources('AWS::S3::Bucket')) as any[]).some((bucket) => bucket.Properties.ObjectLockEnabled)).toBe(false);
    const locked = new Stack(new App({ context: { '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true } }), 'Locked');
    new SpanBucket(locked, 'Spans', { encryptionKey: new kms.Key(locked, 'Key', { enableKeyRotation: true }), objectLockRetention: Duration.days(30) });
    Template.fromStack(locked).hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 30 } } },
      VersioningConfiguration: { Status: 'Enabled' },
    });
    const tooLong = new Stack(new App(), 'TooLong');
    expect(() => new SpanBucket(tooLong, 'Spans', { encryptionKey: new kms.Key(tooLong, 'Key'), objectLockRetention: Duration.days(400) }))
      .toThrow('span bucket: objectLockRetention (400 days) must be shorter than expireAfter (395 days)');
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
