import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Stack, type CfnElement } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { acknowledgeNagRule } from '../nag-acknowledgements';
import { METRIC_NAMESPACE, SpanObjectPrefix } from '../../sensor/common/telemetry-contract';

export interface GatewayWriterRoleProps {
  /** Bucket the gateway writes span and payload objects to. */
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
    this.role = new iam.Role(this, 'Role', {
      description: 'Sightline gateway: write-only access to the span bucket, Timestream tables and CloudWatch metrics',
      assumedBy: new iam.ServicePrincipal('pods.eks.amazonaws.com'),
    });
    // Pod Identity tags the session with cluster, namespace and service account; the trust must allow it.
    this.role.assumeRolePolicy?.addStatements(new iam.PolicyStatement({
      actions: ['sts:TagSession'],
      principals: [new iam.ServicePrincipal('pods.eks.amazonaws.com')],
    }));

    const statements = [
      new iam.PolicyStatement({
        sid: 'PutSpanObjects',
        actions: ['s3:PutObject'],
        resources: [SpanObjectPrefix.spans, SpanObjectPrefix.payloads].map((prefix) => props.spanBucket.arnForObjects(`${prefix}*`)),
      }),
      new iam.PolicyStatement({
        sid: 'EncryptSpanObjects',
        actions: ['kms:GenerateDataKey'],
        resources: [props.encryptionKey.keyArn],
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
      'Object keys under the gateway\'s own prefixes are unknown in advance (date/hour partitions); '
      + 'PutMetricData and DescribeEndpoints have no resource-level permissions, and PutMetricData is held to the Sightline namespace by condition.',
      [
        ...[SpanObjectPrefix.spans, SpanObjectPrefix.payloads].map((prefix) => `Resource::<${bucketLogicalId}.Arn>/${prefix}*`),
        'Resource::*',
      ]);
  }
}
