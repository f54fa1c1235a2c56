import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeNagRule } from '../nag-acknowledgements';
import { ATHENA_RESULTS_PREFIX, SpanObjectPrefix } from '../../sensor/common/telemetry-contract';

export interface SpanBucketProps {
  /** Key that encrypts every span object and Athena result (the data key). */
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
  /**
   * How long a replaced or deleted object version is kept before it is removed for good.
   * @default Duration.days(7)
   */
  readonly noncurrentVersionsExpireAfter?: Duration;
  /**
   * S3 Object Lock in governance mode for this long after each write: no version can be deleted or overwritten
   * before then, except by a principal allowed `s3:BypassGovernanceRetention`. Only at bucket creation.
   * @default - no Object Lock
   */
  readonly objectLockRetention?: Duration;
}

/**
 * The bucket the gateway writes span objects to (payloads travel inside them), with its server-access-log bucket.
 * Versioned, so a write can never silently replace a stored object; old versions expire after a week.
 */
export class SpanBucket extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: SpanBucketProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const expireAfter = props.expireAfter ?? Duration.days(395);
    const noncurrentVersionExpiration = props.noncurrentVersionsExpireAfter ?? Duration.days(7);
    if (props.objectLockRetention !== undefined && props.objectLockRetention.toDays() >= expireAfter.toDays()) {
      throw new Error(`span bucket: objectLockRetention (${props.objectLockRetention.toDays()} days) must be shorter than expireAfter (${expireAfter.toDays()} days), or no span could expire on time`);
    }

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
      versioned: true,
      objectLockEnabled: props.objectLockRetention !== undefined ? true : undefined,
      objectLockDefaultRetention: props.objectLockRetention !== undefined ? s3.ObjectLockRetention.governance(props.objectLockRetention) : undefined,
      removalPolicy,
      lifecycleRules: [
        {
          id: 'tier-and-expire-spans',
          prefix: SpanObjectPrefix.spans,
          transitions: [
            { storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: props.infrequentAccessAfter ?? Duration.days(30) },
            { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: props.glacierAfter ?? Duration.days(90) },
          ],
          expiration: expireAfter,
        },
        { id: 'expire-athena-results', prefix: ATHENA_RESULTS_PREFIX, expiration: Duration.days(7) },
        // A retried batch rewrites its own key (same content); the replaced version, and expired ones, go after a week.
        { id: 'expire-old-versions', noncurrentVersionExpiration },
        { id: 'remove-expired-delete-markers', expiredObjectDeleteMarker: true },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
  }
}
