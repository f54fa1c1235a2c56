import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Stack, type CfnElement } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { acknowledgeNagRule } from '../nag-acknowledgements';
import { METRIC_NAMESPACE, SpanObjectPrefix } from '../../sensor/common/telemetry-contract';

export interface GatewayWriterRoleProps {
  /** Bucket the gateway writes span objects (payloads inside) to. */
  readonly spanBucket: s3.IBucket;
  /** Key of the span bucket. */
  readonly encryptionKey: kms.IKey;
  /**
   * ARNs of the Timestream tables the gateway writes records to.
   * @default - no Timestream access (CloudWatch-only accounts)
   */
  readonly timestreamTableArns?: string[];
}

/**
 * The gateway's IAM role, assumed through EKS Pod Identity. It can write and nothing else: no object reads,
 * no listing, no Timestream queries, no decryption. Reading stays with the account's own people.
 */
export class GatewayWriterRole extends Construct {
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: GatewayWriterRoleProps) {
    super(scope, id);
    // Only Pod Identity acting for this account's clusters may assume it (no confused deputy across accounts).
    const sameAccount = { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } };
    const podIdentity = new iam.PrincipalWithConditions(new iam.ServicePrincipal('pods.eks.amazonaws.com'), sameAccount);
    this.role = new iam.Role(this, 'Role', {
      description: 'Sightline gateway: write-only access to the span bucket, Timestream tables and CloudWatch metrics',
      assumedBy: podIdentity,
    });
    // Pod Identity tags the session with cluster, namespace and service account; the trust must allow it.
    this.role.assumeRolePolicy?.addStatements(new iam.PolicyStatement({
      actions: ['sts:TagSession'],
      principals: [new iam.ServicePrincipal('pods.eks.amazonaws.com')],
      conditions: sameAccount,
    }));

    const statements = [
      new iam.PolicyStatement({
        sid: 'PutSpanObjects',
        actions: ['s3:PutObject'],
        // Payloads travel inside the span objects (sensor/exporters/s3-exporter.ts), so one prefix is all it writes.
        resources: [props.spanBucket.arnForObjects(`${SpanObjectPrefix.spans}*`)],
      }),
      new iam.PolicyStatement({
        sid: 'EncryptSpanObjects',
        actions: ['kms:GenerateDataKey'],
        resources: [props.encryptionKey.keyArn],
        // Only for S3 writing its objects: the key cannot be used directly to encrypt anything else.
        conditions: { StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` } },
      }),
      new iam.PolicyStatement({
        sid: 'PutSightlineMetrics',
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': METRIC_NAMESPACE } },
      }),
    ];
    const tableArns = props.timestreamTableArns ?? [];
    if (tableArns.length > 0) {
      statements.push(
        new iam.PolicyStatement({ sid: 'WriteTimestreamRecords', actions: ['timestream:WriteRecords'], resources: tableArns }),
        new iam.PolicyStatement({ sid: 'DiscoverTimestreamEndpoint', actions: ['timestream:DescribeEndpoints'], resources: ['*'] }),
      );
    }
    const policy = new iam.Policy(this, 'WriteOnly', { statements });
    policy.attachToRole(this.role);

    const bucketLogicalId = Stack.of(this).getLogicalId(props.spanBucket.node.defaultChild as CfnElement);
    acknowledgeNagRule(policy, 'AwsSolutions-IAM5',
      'Object keys under the gateway\'s own prefix are unknown in advance (date/hour partitions); '
      + 'PutMetricData and DescribeEndpoints have no resource-level permissions, and PutMetricData is held to the Sightline namespace by condition.',
      [
        `Resource::<${bucketLogicalId}.Arn>/${SpanObjectPrefix.spans}*`,
        'Resource::*',
      ]);
  }
}
