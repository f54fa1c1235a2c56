import { App, Stack, Token } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp } from '../../bin/app';
import { DataPlaneStack } from '../../lib/data-plane-stack';
import { allowedActions, nagErrors } from './support';

const image = 'public.ecr.aws/example/sightline:1.0.0';
const stackIds = (app: App): string[] => app.node.children.filter((child): child is Stack => child instanceof Stack).map((stack) => stack.node.id);

/** Actions that read or write Sightline data, or decrypt it. */
const DATA_ACTION = /^(s3:(\*|get|put|list|delete|restore)|timestream:|kms:(\*|decrypt|generatedatakey|reencrypt)|cloudwatch:(\*|putmetricdata)|athena:|glue:get|\*$)/;

describe('CDK app topologies', () => {
  let allInOne: App;
  beforeAll(() => {
    allInOne = buildApp(new App({ context: { 'sightline:image': image } }));
  });

  test('no context: all-in-one, environment-agnostic, data plane plus sensor on its cluster', () => {
    expect(stackIds(allInOne)).toEqual(['SightlineDataPlane', 'SightlineSensor']);
    const dataPlane = allInOne.node.findChild('SightlineDataPlane') as DataPlaneStack;
    expect(Token.isUnresolved(dataPlane.account)).toBe(true);
    const sensor = Template.fromStack(allInOne.node.findChild('SightlineSensor') as Stack);
    // The manifest embeds the data-plane image by cross-stack reference, so it is an Fn::Join rather than one JSON string.
    const manifest = JSON.stringify(Object.values(sensor.findResources('Custom::AWSCDK-EKS-KubernetesResource'))[0]);
    expect(manifest).toContain('\\"kind\\":\\"DaemonSet\\"');
    expect(manifest).toContain('http://sightline-gateway.sightline.svc.cluster.local:4318');
    expect(manifest).not.toContain('\\"kind\\":\\"Namespace\\"');
  });

  test('no workload-side role can read or write the data stores: only the gateway writer holds data actions', () => {
    const dataPlane = allInOne.node.findChild('SightlineDataPlane') as DataPlaneStack;
    const writerPolicyPath = dataPlane.writer.node.path;
    const sensorOnly = buildApp(new App({ context: {
      'sightline:image': image, 'sightline:topology': 'sensor', 'sightline:clusterName': 'workloads', 'sightline:gatewayEndpoint': 'http://gw:4318',
    } }));
    const stacks = [allInOne, sensorOnly].flatMap((app) => app.node.children.filter((child): child is Stack => child instanceof Stack));
    expect(stacks.map((stack) => stack.node.id)).toEqual(['SightlineDataPlane', 'SightlineSensor', 'SightlineSensor']);
    const offenders: string[] = [];
    for (const stack of stacks) {
      const template = Template.fromStack(stack);
      for (const [logicalId, policy] of Object.entries(template.findResources('AWS::IAM::Policy')) as Array<[string, any]>) {
        const path = stack.node.findAll().find((child) => (child as any).logicalId !== undefined && stack.resolve((child as any).logicalId) === logicalId)?.node.path ?? logicalId;
        if (path.startsWith(writerPolicyPath)) continue;
        for (const action of allowedActions(policy.Properties.PolicyDocument)) {
          if (DATA_ACTION.test(action)) offenders.push(`${path}: ${action}`);
        }
      }
      for (const role of Object.values(template.findResources('AWS::IAM::Role')) as any[]) {
        const managed = JSON.stringify(role.Properties.ManagedPolicyArns ?? []);
        expect(managed).not.toMatch(/AmazonS3|Timestream|CloudWatchFullAccess|CloudWatchAgentServerPolicy|AdministratorAccess|PowerUserAccess/);
      }
    }
    expect(offenders).toEqual([]);
  });

  test('the writer role is the only role Pod Identity hands out, and only to the gateway service account', () => {
    const template = Template.fromStack(allInOne.node.findChild('SightlineDataPlane') as Stack);
    const associations = Object.values(template.findResources('AWS::EKS::PodIdentityAssociation')).map((resource: any) => resource.Properties);
    expect(associations.map((association) => association.ServiceAccount)).toEqual(['sightline-gateway']);
  });

  test('cdk-nag AwsSolutions over every stack of the default app', () => {
    for (const stack of allInOne.node.children) expect(nagErrors(stack)).toEqual([]);
  });

  test('data-plane topology pins the stack to the sub-account and region', () => {
    const app = buildApp(new App({ context: {
      'sightline:image': image, 'sightline:topology': 'data-plane', 'sightline:dataPlaneAccount': '111122223333', 'sightline:region': 'eu-west-1',
    } }));
    expect(stackIds(app)).toEqual(['SightlineDataPlane']);
    const stack = app.node.findChild('SightlineDataPlane') as Stack;
    expect([stack.account, stack.region]).toEqual(['111122223333', 'eu-west-1']);
  });

  test('sensor topology needs the cluster and the gateway endpoint', () => {
    expect(() => buildApp(new App({ context: { 'sightline:topology': 'sensor', 'sightline:gatewayEndpoint': 'http://gw:4318' } })))
      .toThrow('context sightline:clusterName is required when sightline:topology is sensor');
    const app = buildApp(new App({ context: {
      'sightline:image': image, 'sightline:topology': 'sensor', 'sightline:clusterName': 'workloads', 'sightline:gatewayEndpoint': 'http://gw:4318',
    } }));
    expect(stackIds(app)).toEqual(['SightlineSensor']);
  });

  test('sub-account topology creates the account through Organizations', () => {
    const app = buildApp(new App({ context: {
      'sightline:topology': 'sub-account', 'sightline:accountEmail': 'aws-sightline@example.com', 'sightline:organizationParentId': 'ou-ab12-cdef3456',
    } }));
    const template = Template.fromStack(app.node.findChild('SightlineDataPlaneAccount') as Stack);
    template.hasResource('AWS::Organizations::Account', {
      DeletionPolicy: 'Retain',
      Properties: { AccountName: 'sightline-data-plane', Email: 'aws-sightline@example.com', ParentIds: ['ou-ab12-cdef3456'] },
    });
    expect(nagErrors(app.node.findChild('SightlineDataPlaneAccount'))).toEqual([]);
  });

  test('bad context values name the flag', () => {
    expect(() => buildApp(new App({ context: { 'sightline:topology': 'everything' } }))).toThrow(/context sightline:topology/);
    expect(() => buildApp(new App({ context: { 'sightline:dataPlaneAccount': '12345' } }))).toThrow(/sightline:dataPlaneAccount: must be a 12-digit AWS account id/);
    expect(() => buildApp(new App({ context: { 'sightline:timestream': 'maybe' } }))).toThrow(/sightline:timestream/);
  });

  test('without sightline:image the image is a Docker asset that synth only stages', () => {
    const app = buildApp(new App({ context: { 'sightline:topology': 'data-plane' } }));
    const assembly = app.synth();
    const manifests = JSON.stringify(Template.fromStack(app.node.findChild('SightlineDataPlane') as Stack).findResources('Custom::AWSCDK-EKS-KubernetesResource'));
    expect(manifests).toContain('container-assets');
    const assetManifests = readdirSync(assembly.directory).filter((file) => file.endsWith('.assets.json'));
    const dockerImages = assetManifests.flatMap((file) => Object.values(JSON.parse(readFileSync(join(assembly.directory, file), 'utf8')).dockerImages ?? {}));
    expect(dockerImages).toHaveLength(1);
    // Staged, not built: the build context with its Dockerfile sits in the assembly for `cdk deploy` to build.
    const source = (dockerImages[0] as any).source.directory;
    expect(readdirSync(join(assembly.directory, source))).toEqual(expect.arrayContaining(['Dockerfile', 'package.json']));
    expect(readdirSync(join(assembly.directory, source))).not.toContain('node_modules');
  });
});
