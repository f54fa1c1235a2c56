/**
 * The vendor's SightlineControlPlane as synthesized: its tables, the control-plane role (it may assume tenants'
 * operator roles and nothing of anyone's data), the tick function bundled by esbuild into one file that loads with
 * no node_modules, and the state machine, whose synthesized definition is run here against the real handler on an
 * in-memory DynamoDB and a simulated fleet.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { buildApp } from '../../bin/app';
import { AwsFleet } from '../../control-plane/fleet/aws-fleet';
import { rolloutStepHandler } from '../../control-plane/handlers/rollout-step';
import { dynamoStores, documentClient } from '../../control-plane/store/dynamo-stores';
import { TABLES } from '../../control-plane/store/tables';
import type { ControlPlaneStack } from '../../lib/control-plane-stack';
import { FakeDynamoDb } from '../support/fake-dynamodb';
import { releaseImage } from '../support/kubernetes-objects';
import { SimulatedFleet } from '../support/simulated-fleet';
import { runStateMachine } from '../support/state-machine';
import { nagErrors, resolveIntrinsics } from './support';

const VENDOR = '999988887777';
let app: App;
let stack: ControlPlaneStack;
let template: Template;
let outdir: string;

beforeAll(() => {
  outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'control-plane-'));
  app = buildApp(new App({ outdir, context: { 'sightline:topology': 'control-plane', 'sightline:region': 'eu-west-1', 'sightline:alarmEmail': 'oncall@vendor.example' } }));
  stack = app.node.children.find((child): child is Stack => child instanceof Stack) as ControlPlaneStack;
  template = Template.fromStack(stack);
});

afterAll(() => {
  fs.rmSync(outdir, { recursive: true, force: true });
});

test('one stack, SightlineControlPlane, cdk-nag clean', () => {
  expect(app.node.children.filter((child) => child instanceof Stack).map((child) => child.node.id)).toEqual(['SightlineControlPlane']);
  expect(nagErrors(stack)).toEqual([]);
});

test('five tables, on demand, point-in-time recovery, retained with their data', () => {
  const tables = template.findResources('AWS::DynamoDB::Table');
  expect(Object.keys(tables)).toHaveLength(5);
  for (const table of Object.values(tables) as any[]) {
    expect(table).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(table.Properties).toMatchObject({ BillingMode: 'PAY_PER_REQUEST', PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true }, DeletionProtectionEnabled: true });
  }
  template.hasResourceProperties('AWS::DynamoDB::Table', {
    KeySchema: [{ AttributeName: 'subject', KeyType: 'HASH' }, { AttributeName: 'sequence', KeyType: 'RANGE' }],
    GlobalSecondaryIndexes: [Match.objectLike({ IndexName: 'byTenant' })],
  });
  for (const table of Object.values(TABLES)) expect(template.findOutputs(table.output)).not.toEqual({});
});

test('the control-plane role, by its fixed name, may assume tenants\' operator roles and read no data', async () => {
  const [roleId, role] = Object.entries(template.findResources('AWS::IAM::Role', { Properties: { RoleName: 'sightline-control-plane' } }))[0] as [string, any];
  expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([expect.objectContaining({ Principal: { Service: 'lambda.amazonaws.com' } })]);
  const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((policy: any) => policy.Properties.Roles.some((ref: any) => ref.Ref === roleId)) as any[];
  const refs: Record<string, string> = { 'AWS::AccountId': VENDOR, 'AWS::Region': 'eu-west-1' };
  for (const [id, resource] of Object.entries(template.toJSON().Resources) as Array<[string, any]>) {
    refs[`${id}.Arn`] = resource.Type === 'AWS::DynamoDB::Table' ? `arn:aws:dynamodb:eu-west-1:${VENDOR}:table/${id}` : `arn:aws:service:eu-west-1:${VENDOR}:${id}`;
    refs[id] = id;
  }
  const identityPolicies = policies.map((policy, index) => ({ name: `p${index}`, policy: resolveIntrinsics(policy.Properties.PolicyDocument, refs) }));
  // Across accounts the customer's trust policy must allow too: it is given as allowing, so the vendor side decides.
  const customerTrust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${VENDOR}:role/sightline-control-plane` }, Action: 'sts:*', Resource: '*' }] };
  const decide = async (action: string, resource: string, accountId: string, contextVariables: Record<string, string> = {}) => {
    const result = await runSimulation({
      request: { principal: `arn:aws:iam::${VENDOR}:role/sightline-control-plane`, action, resource: { resource, accountId }, contextVariables },
      identityPolicies, serviceControlPolicies: [], resourceControlPolicies: [], resourcePolicy: action.startsWith('sts:') ? customerTrust : undefined,
    }, {});
    if (result.resultType === 'error') throw new Error(JSON.stringify(result.errors));
    return result.overallResult;
  };
  expect(await decide('sts:AssumeRole', 'arn:aws:iam::111122223333:role/sightline-operator', '111122223333')).toBe('Allowed');
  expect(await decide('sts:SetSourceIdentity', 'arn:aws:iam::111122223333:role/sightline-operator-sensor-payments', '111122223333')).toBe('Allowed');
  expect(await decide('sts:AssumeRole', 'arn:aws:iam::111122223333:role/OrganizationAccountAccessRole', '111122223333')).not.toBe('Allowed');
  for (const [action, resource] of [['s3:GetObject', 'arn:aws:s3:::spans/x'], ['kms:Decrypt', `arn:aws:kms:eu-west-1:${VENDOR}:key/k`], ['timestream:Select', '*'], ['logs:GetLogEvents', '*'], ['cloudwatch:GetMetricData', '*']]) {
    expect([action, await decide(action, resource, VENDOR)]).toEqual([action, expect.not.stringMatching(/^Allowed$/)]);
  }
  expect(await decide('cloudwatch:PutMetricData', '*', VENDOR, { 'cloudwatch:namespace': 'SightlineControlPlane' })).toBe('Allowed');
  expect(await decide('cloudwatch:PutMetricData', '*', VENDOR, { 'cloudwatch:namespace': 'Sightline' })).not.toBe('Allowed');
});

test('the tick function is bundled into one file by esbuild at synth, and loads with no node_modules around it', () => {
  const fn = Object.values(template.findResources('AWS::Lambda::Function', { Properties: { Handler: 'index.handler' } }))[0] as any;
  expect(fn.Properties).toMatchObject({ MemorySize: 1024, Timeout: 300, Architectures: ['arm64'], TracingConfig: { Mode: 'Active' } });
  expect(fn.Properties.VpcConfig.SubnetIds).toHaveLength(2);
  const assembly = app.synth();
  const asset = Object.values(JSON.parse(fs.readFileSync(path.join(assembly.directory, 'SightlineControlPlane.assets.json'), 'utf8')).files)
    .map((file: any) => file.source.path).find((source: string) => source.startsWith('asset.') && fs.existsSync(path.join(assembly.directory, source, 'index.js')))!;
  const isolated = fs.mkdtempSync(path.join(os.tmpdir(), 'tick-'));
  try {
    fs.copyFileSync(path.join(assembly.directory, asset, 'index.js'), path.join(isolated, 'index.js'));
    const loaded = execFileSync(process.execPath, ['-e', "const m = require('./index.js'); process.stdout.write(typeof m.handler)"], { cwd: isolated, env: { PATH: process.env.PATH } }).toString();
    expect(loaded).toBe('function');
  } finally {
    fs.rmSync(isolated, { recursive: true, force: true });
  }
});

test('alarms on failed and stuck rollouts and failed rollbacks go to an encrypted topic; scaling runs daily', () => {
  const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as any[];
  expect(alarms.map((alarm) => alarm.Properties.MetricName).sort()).toEqual(['Errors', 'ExecutionsFailed', 'ExecutionsTimedOut', 'RollbackFailures']);
  for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toHaveLength(1);
  template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
  template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@vendor.example' });
  const rule = Object.values(template.findResources('AWS::Events::Rule'))[0] as any;
  expect(rule.Properties.ScheduleExpression).toBe('rate(1 day)');
  expect(JSON.parse(rule.Properties.Targets[0].Input)).toEqual({ request: { kind: 'scale' }, startedBy: 'schedule' });
  expect(template.findOutputs('ControlPlaneEgressIps')).not.toEqual({});
});

describe('the synthesized state machine, run against the real tick handler', () => {
  let dynamo: FakeDynamoDb;
  let fleet: SimulatedFleet;
  let clock: number;
  beforeEach(() => {
    clock = Date.parse('2025-06-02T10:00:00Z');
    const keys = (table: keyof typeof TABLES) => ({ partitionKey: TABLES[table].partitionKey, sortKey: (TABLES[table] as { sortKey?: string }).sortKey });
    dynamo = new FakeDynamoDb({
      tenants: keys('tenants'), releases: keys('releases'), channels: keys('channels'),
      rollouts: { ...keys('rollouts'), indexes: { byCreatedAt: TABLES.rollouts.listingIndex } }, audit: keys('audit'),
    });
    fleet = new SimulatedFleet(() => clock);
  });
  afterEach(async () => {
    await fleet.stop();
    dynamo.restore();
  });

  const execute = async (badImages: string[]) => {
    const stores = dynamoStores({ tenants: 'tenants', releases: 'releases', channels: 'channels', rollouts: 'rollouts', audit: 'audit' }, documentClient());
    await stores.catalog.publish({ version: '1.1.0', images: { sensor: releaseImage('1.1.0'), gateway: releaseImage('1.1.0') }, chartVersion: '0.1.0', publishedAt: 'x', publishedBy: 'jane' });
    for (const channel of ['canary', 'stable'] as const) await stores.catalog.setChannel({ channel, version: '1.1.0', updatedAt: 'x', updatedBy: 'jane' });
    for (const tenantId of ['canary-co', 'acme']) {
      await stores.registry.put(await fleet.addTenant({ tenantId, channel: tenantId === 'canary-co' ? 'canary' : 'stable', image: releaseImage('1.0.0'), badImages }));
    }
    const handler = rolloutStepHandler({ ...stores, fleet: new AwsFleet(), now: () => new Date(clock), publish: async () => undefined });
    const machine = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0] as any;
    const [tickId] = Object.keys(template.findResources('AWS::Lambda::Function', { Properties: { Handler: 'index.handler' } }));
    const definition = JSON.parse(resolveIntrinsics(machine.Properties.DefinitionString, { [`${tickId}.Arn`]: 'arn:aws:lambda:eu-west-1:999988887777:function:tick' }));
    return runStateMachine(definition, { name: 'r-sfn-1', input: { request: { kind: 'release', version: '1.1.0' }, startedBy: 'jane@vendor.example' } },
      async (resource, payload) => {
        expect(resource).toBe('arn:aws:lambda:eu-west-1:999988887777:function:tick');
        return handler(payload as never);
      },
      async (seconds) => {
        clock += seconds * 1000;
      });
  };

  test('a good release: the loop ticks until done and the execution succeeds', async () => {
    const result = await execute([]);
    expect(result).toMatchObject({ status: 'SUCCEEDED', output: { rolloutId: 'r-sfn-1', done: true, status: 'succeeded' } });
    expect(result.visited.filter((state) => state === 'WaitForNextTick').length).toBeGreaterThan(5);
    expect(fleet.cluster('acme', 'gateway').imageOf('gateway').template).toBe(releaseImage('1.1.0'));
  });

  test('a bad release: the execution fails as RolloutHalted with the summary as its cause, and the failed-rollout alarm counts it', async () => {
    const result = await execute([releaseImage('1.1.0')]);
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('RolloutHalted');
    expect(result.cause).toMatch(/^halted: (1 rolled-back, 1 skipped|1 skipped, 1 rolled-back) \(wave canary: 1 tenant\(s\) rolled back/);
    expect(fleet.cluster('canary-co', 'gateway').imageOf('gateway').template).toBe(releaseImage('1.0.0'));
  });
});
