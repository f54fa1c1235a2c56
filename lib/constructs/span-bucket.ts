import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeNagRule } from '../nag-acknowledgements';
import { ATHENA_RESULTS_PREFIX, SpanObjectPrefix } from '../../sensor/common/telemetry-contract';

export interface SpanBucketProps {
  /** Key that encrypts every span and payload object. */
  readonly encryptionKey: kms.IKey;
  /**
   * What happens to the buckets when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Age at which span objects move to S3 Standard-IA.
   * @default Duration.days(30)
   */
  readonly infrequentAccessAfter?: Duration;
  /**
   * Age at which span objects move to Glacier Instant Retrieval (still queryable by Athena).
   * @default Duration.days(90)
   */
  readonly glacierAfter?: Duration;
  /**
   * Age at which span objects are deleted.
   * @default Duration.days(395)
   */
  readonly expireAfter?: Duration;
}

/** The bucket the gateway writes spans and payloads to, with its server-access-log bucket. */
export class SpanBucket extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: SpanBucketProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const expireAfter = props.expireAfter ?? Duration.days(395);

    // S3 server access logging can only deliver to SSE-S3 buckets.
    this.accessLogBucket = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: expireAfter }],
    });
    acknowledgeNagRule(this.accessLogBucket, 'AwsSolutions-S1', 'This is the access-log target itself; logging it into itself would loop.');

    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: props.encryptionKey,
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'span-bucket/',
      removalPolicy,
      lifecycleRules: [
        ...[SpanObjectPrefix.spans, SpanObjectPrefix.payloads].map((prefix) => ({
          id: `tier-and-expire-${prefix.replace('/', '')}`,
          prefix,
          transitions: [
            { storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: props.infrequentAccessAfter ?? Duration.days(30) },
            { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: props.glacierAfter ?? Duration.days(90) },
          ],
          expiration: expireAfter,
        })),
        { id: 'expire-athena-results', prefix: ATHENA_RESULTS_PREFIX, expiration: Duration.days(7) },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
  }
}
