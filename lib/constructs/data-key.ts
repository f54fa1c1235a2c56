import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface DataKeyProps {
  /**
   * What happens to the key when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** Managing the key: everything but using it, or granting its use (`kms:Create*` would include CreateGrant). */
const KEY_ADMINISTRATION = [
  'kms:CreateAlias', 'kms:Describe*', 'kms:Enable*', 'kms:List*', 'kms:Put*', 'kms:Update*', 'kms:Revoke*', 'kms:Disable*',
  'kms:Get*', 'kms:Delete*', 'kms:TagResource', 'kms:UntagResource', 'kms:ScheduleKeyDeletion', 'kms:CancelKeyDeletion',
  'kms:RotateKeyOnDemand',
];

/**
 * The key of the customer's data, and nothing else: span objects (S3), Timestream records and Athena query results.
 * Its policy answers "who can decrypt the data" in three statements: account administrators manage it but cannot use
 * it; principals of this account use it only through S3 and Timestream, and only as far as their own IAM policies
 * allow; Timestream may hold a grant for its database. No AWS service principal, no other account, no direct use.
 * EKS secrets, the alarm topics and CloudWatch use the platform key instead.
 */
export class DataKey extends Construct {
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: DataKeyProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    const account = new iam.AccountRootPrincipal();
    const viaService = (service: string) => `${service}.${stack.region}.amazonaws.com`;
    this.key = new kms.Key(this, 'Key', {
      description: 'Sightline customer data: span objects, Timestream records, Athena query results',
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      policy: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'AdministerButNeverUse',
            principals: [account],
            actions: KEY_ADMINISTRATION,
            resources: ['*'],
          }),
          new iam.PolicyStatement({
            sid: 'UseOnlyThroughS3AndTimestream',
            principals: [account],
            actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
            resources: ['*'],
            conditions: { StringEquals: { 'kms:ViaService': [viaService('s3'), viaService('timestream')], 'kms:CallerAccount': stack.account } },
          }),
          new iam.PolicyStatement({
            sid: 'TimestreamDatabaseGrant',
            principals: [account],
            actions: ['kms:CreateGrant'],
            resources: ['*'],
            conditions: {
              StringEquals: { 'kms:ViaService': viaService('timestream'), 'kms:CallerAccount': stack.account },
              Bool: { 'kms:GrantIsForAWSResource': 'true' },
            },
          }),
        ],
      }),
    });
  }
}
