/**
 * "Who can decrypt the customer's data" is the data key's policy, evaluated here by an IAM policy simulator
 * (@cloud-copilot/iam-simulate) as synthesized: principals of the account, and only through S3 or Timestream, and
 * only as far as their own IAM policies allow; nobody directly, no AWS service principal, no other account.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { DataKey } from '../../lib/constructs/data-key';
import { nagErrors, resolveIntrinsics } from './support';

const ACCOUNT = '111122223333';
const REGION = 'eu-west-1';
const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const ADMIN = `arn:aws:iam::${ACCOUNT}:role/Administrator`;
const NOBODY = `arn:aws:iam::${ACCOUNT}:role/NoKmsPermissions`;
const OUTSIDER = 'arn:aws:iam::999988887777:role/Administrator';
const everything = { name: 'AdministratorAccess', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] } };

let stack: Stack;
let keyPolicy: any;
beforeAll(() => {
  stack = new Stack(new App(), 'Test', { env: { account: ACCOUNT, region: REGION } });
  new DataKey(stack, 'DataKey');
  const [key] = Object.values(Template.fromStack(stack).findResources('AWS::KMS::Key')) as any[];
  keyPolicy = resolveIntrinsics(key.Properties.KeyPolicy);
});

async function decide(principal: string, action: string, contextVariables: Record<string, string>, identity = [everything]): Promise<string> {
  const response = await runSimulation({
    request: { principal, action, resource: { resource: KEY_ARN, accountId: ACCOUNT }, contextVariables },
    identityPolicies: principal === NOBODY ? [] : identity,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: keyPolicy,
  }, {});
  if (response.resultType === 'error') throw new Error(`simulation input rejected: ${JSON.stringify(response.errors)}`);
  return response.overallResult;
}

const through = (service: 's3' | 'timestream' | 'secretsmanager', account = ACCOUNT) => ({ 'kms:ViaService': `${service}.${REGION}.amazonaws.com`, 'kms:CallerAccount': account });

test('an account administrator decrypts span objects and Timestream data only through S3 and Timestream', async () => {
  expect(await decide(ADMIN, 'kms:Decrypt', through('s3'))).toBe('Allowed');
  expect(await decide(ADMIN, 'kms:Decrypt', through('timestream'))).toBe('Allowed');
  expect(await decide(ADMIN, 'kms:GenerateDataKey', through('s3'))).toBe('Allowed'); // Athena results, the gateway's writes
  // Not directly, and not through any other service.
  expect(await decide(ADMIN, 'kms:Decrypt', { 'kms:CallerAccount': ACCOUNT })).not.toBe('Allowed');
  expect(await decide(ADMIN, 'kms:Decrypt', through('secretsmanager'))).not.toBe('Allowed');
  expect(await decide(ADMIN, 'kms:Encrypt', through('s3'))).not.toBe('Allowed');
  expect(await decide(ADMIN, 'kms:ReEncryptFrom', through('s3'))).not.toBe('Allowed');
});

test('the key policy alone lets nobody in: a principal without an IAM grant cannot decrypt, even through S3', async () => {
  expect(await decide(NOBODY, 'kms:Decrypt', through('s3'))).not.toBe('Allowed');
});

test('no other account, and no AWS service principal, may use it', async () => {
  expect(await decide(OUTSIDER, 'kms:Decrypt', through('s3', '999988887777'))).not.toBe('Allowed');
  for (const service of ['cloudwatch.amazonaws.com', 'sns.amazonaws.com', 'logs.amazonaws.com']) {
    expect(await decide(service, 'kms:Decrypt', {})).not.toBe('Allowed');
    expect(await decide(service, 'kms:GenerateDataKey', {})).not.toBe('Allowed');
  }
});

test('administrators manage the key; grants only for Timestream\'s own database', async () => {
  expect(await decide(ADMIN, 'kms:ScheduleKeyDeletion', {})).toBe('Allowed');
  expect(await decide(ADMIN, 'kms:DescribeKey', {})).toBe('Allowed');
  expect(await decide(ADMIN, 'kms:CreateGrant', { ...through('timestream'), 'kms:GrantIsForAWSResource': 'true' })).toBe('Allowed');
  expect(await decide(ADMIN, 'kms:CreateGrant', { 'kms:CallerAccount': ACCOUNT })).not.toBe('Allowed');
  expect(await decide(ADMIN, 'kms:CreateGrant', { ...through('s3'), 'kms:GrantIsForAWSResource': 'true' })).not.toBe('Allowed');
});

test('the policy is three statements, none with kms:* or a wildcard principal', () => {
  expect(keyPolicy.Statement.map((statement: any) => statement.Sid)).toEqual(['AdministerButNeverUse', 'UseOnlyThroughS3AndTimestream', 'TimestreamDatabaseGrant']);
  for (const statement of keyPolicy.Statement) {
    expect([statement.Action].flat()).not.toContain('kms:*');
    expect(statement.Principal).toEqual({ AWS: `arn:aws:iam::${ACCOUNT}:root` });
  }
});

test('cdk-nag AwsSolutions: no unacknowledged error', () => {
  expect(nagErrors(stack)).toEqual([]);
});
