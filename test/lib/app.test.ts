import { App, Stack, Token } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp } from '../../bin/app';
import { DataPlaneStack } from '../../lib/data-plane-stack';
import { deploymentContextSchema } from '../../lib/deployment-context';
import { SensorStack } from '../../lib/sensor-stack';
import { allowedActions, nagErrors } from './support';

const image = 'public.ecr.aws/example/sightline@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const stackIds = (app: App): string[] => app.node.children.filter((child): child is Stack => child instanceof Stack).map((stack) => stack.node.id);

/** Actions that read or write Sightline data, or decrypt it. */
const DATA_ACTION = /^(s3:(\*|get|put|list|delete|restore)|timestream:|kms:(\*|decrypt|generatedatakey|reencrypt)|cloudwatch:(\*|putmetricdata)|athena:|glue:get|\*$)/;

/** What a sensor stack needs of the data plane: the endpoint and the two secrets (outputs of the data-plane stack). */
const SENSOR_TRANSPORT = {
  'sightline:gatewayEndpoint': 'https://gw:4318',
  'sightline:gatewayTokenSecretArn': 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:SensorToken-workloads-AbCdEf',
  'sightline:gatewayCaSecretArn': 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:GatewayCa-GhIjKl',
};

describe('CDK app topologies', () => {
  let allInOne: App;
  beforeAll(() => {
    allInOne = buildApp(new App({ context: { 'sightline:image': image } }));
  });

  test('no context: all-in-one, environment-agnostic, data plane plus sensor on its cluster', () => {
    expect(stackIds(allInOne)).toEqual(['SightlineDataPlane', 'SightlineSensor-SightlineDataPlane-gateway']);
    const dataPlane = allInOne.node.findChild('SightlineDataPlane') as DataPlaneStack;
    expect(Token.isUnresolved(dataPlane.account)).toBe(true);
    const sensor = Template.fromStack(allInOne.node.findChild('SightlineSensor-SightlineDataPlane-gateway') as Stack);
    // The manifest embeds the data-plane image by cross-stack reference, so it is an Fn::Join rather than one JSON string.
    const manifest = JSON.stringify(Object.values(sensor.findResources('Custom::AWSCDK-EKS-KubernetesResource'))[0]);
    expect(manifest).toContain('\\"kind\\":\\"DaemonSet\\"');
    expect(manifest).toContain('https://sightline-gateway.sightline.svc.cluster.local:4318');
    expect(manifest).not.toContain('\\"kind\\":\\"Namespace\\"');
  });

  test('no workload-side role can read or write the data stores: only the gateway writer holds data actions', () => {
    const dataPlane = allInOne.node.findChild('SightlineDataPlane') as DataPlaneStack;
    const writerPolicyPath = dataPlane.writer.node.path;
    const sensorOnly = buildApp(new App({ context: {
      'sightline:image': image, 'sightline:topology': 'sensor', 'sightline:clusterName': 'workloads', ...SENSOR_TRANSPORT,
    } }));
    const stacks = [allInOne, sensorOnly].flatMap((app) => app.node.children.filter((child): child is Stack => child instanceof Stack));
    expect(stacks.map((stack) => stack.node.id)).toEqual(['SightlineDataPlane', 'SightlineSensor-SightlineDataPlane-gateway', 'SightlineSensor-workloads']);
    const offenders: string[] = [];
    for (const stack of stacks) {
      const template = Template.fromStack(stack);
      for (const [logicalId, policy] of Object.entries(template.findResources('AWS::IAM::Policy')) as Array<[string, any]>) {
        const path = stack.node.findAll().find((child) => (child as any).logicalId !== undefined && stack.resolve((child as any).logicalId) === logicalId)?.node.path ?? logicalId;
        if (path.startsWith(writerPolicyPath)) continue;
        for (const statement of policy.Properties.PolicyDocument.Statement) {
          // KMS use only as Secrets Manager decrypting a transport secret reaches no data key (whose policy admits S3
          // and Timestream only): the sensors' and the gateway's credential reads.
          const viaService = JSON.stringify(statement.Condition?.StringEquals?.['kms:ViaService'] ?? statement.Condition?.StringLike?.['kms:ViaService'] ?? '');
          const throughSecretsManager = viaService.includes('secretsmanager.');
          for (const action of allowedActions({ Statement: [statement] })) {
            if (action.startsWith('kms:') && throughSecretsManager) continue;
            if (DATA_ACTION.test(action)) offenders.push(`${path}: ${action}`);
          }
        }
      }
      for (const role of Object.values(template.findResources('AWS::IAM::Role')) as any[]) {
        const managed = JSON.stringify(role.Properties.ManagedPolicyArns ?? []);
        expect(managed).not.toMatch(/AmazonS3|Timestream|CloudWatchFullAccess|CloudWatchAgentServerPolicy|AdministratorAccess|PowerUserAccess/);
      }
    }
    expect(offenders).toEqual([]);
  });

  test('Pod Identity hands the writer role to the gateway only, and the sensors a role that reads their two secrets and nothing else', () => {
    const template = Template.fromStack(allInOne.node.findChild('SightlineDataPlane') as Stack);
    const associations = Object.values(template.findResources('AWS::EKS::PodIdentityAssociation')).map((resource: any) => resource.Properties);
    expect(associations.map((association) => association.ServiceAccount)).toEqual(['sightline-gateway']);
    const sensorStack = allInOne.node.findChild('SightlineSensor-SightlineDataPlane-gateway') as SensorStack;
    const sensor = Template.fromStack(sensorStack);
    const sensorAssociations = Object.values(sensor.findResources('AWS::EKS::PodIdentityAssociation')).map((resource: any) => resource.Properties);
    expect(sensorAssociations).toEqual([expect.objectContaining({
      Namespace: 'sightline', ServiceAccount: 'sightline-sensor', RoleArn: { 'Fn::GetAtt': [sensorStack.getLogicalId(sensorStack.credentialsRole.node.defaultChild as any), 'Arn'] },
    })]);
    const statements = Object.values(sensor.findResources('AWS::IAM::Policy')).flatMap((policy: any) => policy.Properties.PolicyDocument.Statement)
      .filter((statement: any) => statement.Sid === 'ReadGatewayCredentials' || statement.Sid === 'DecryptThroughSecretsManager');
    expect(statements.flatMap((statement: any) => [statement.Action].flat()).sort()).toEqual(['kms:Decrypt', 'secretsmanager:GetSecretValue']);
    const dataPlane = allInOne.node.findChild('SightlineDataPlane') as DataPlaneStack;
    const read = statements.find((statement: any) => statement.Sid === 'ReadGatewayCredentials');
    // Cross-stack references to exactly this cluster's token and the CA.
    expect(JSON.stringify(read.Resource)).toContain(dataPlane.getLogicalId(dataPlane.transport.caSecret.node.defaultChild as any));
    expect(JSON.stringify(read.Resource)).toContain(dataPlane.getLogicalId(dataPlane.transport.clientTokens.get(dataPlane.gateway.clusterName)!.node.defaultChild as any));
    expect([read.Resource].flat()).toHaveLength(2);
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
    // Default Athena guard: 10 GiB per query; raised by a flag for large fleets.
    Template.fromStack(stack).hasResourceProperties('AWS::Athena::WorkGroup', { WorkGroupConfiguration: Match.objectLike({ BytesScannedCutoffPerQuery: 10 * 1024 ** 3 }) });
    const large = buildApp(new App({ context: { 'sightline:image': image, 'sightline:topology': 'data-plane', 'sightline:athenaScanLimitGiB': '500' } }));
    Template.fromStack(large.node.findChild('SightlineDataPlane') as Stack)
      .hasResourceProperties('AWS::Athena::WorkGroup', { WorkGroupConfiguration: Match.objectLike({ BytesScannedCutoffPerQuery: 500 * 1024 ** 3 }) });
  });

  test('sensor topology needs the cluster and the gateway endpoint', () => {
    expect(() => buildApp(new App({ context: { 'sightline:topology': 'sensor', ...SENSOR_TRANSPORT } })))
      .toThrow('context sightline:clusterName is required when sightline:topology is sensor');
    expect(() => buildApp(new App({ context: { 'sightline:topology': 'sensor', 'sightline:clusterName': 'workloads', ...SENSOR_TRANSPORT, 'sightline:gatewayTokenSecretArn': undefined } })))
      .toThrow(/context sightline:gatewayTokenSecretArn is required when sightline:topology is sensor: give this cluster's token secret/);
    expect(() => buildApp(new App({ context: { 'sightline:topology': 'sensor', 'sightline:clusterName': 'workloads', ...SENSOR_TRANSPORT, 'sightline:gatewayEndpoint': 'http://gw:4318' } })))
      .toThrow('context sightline:gatewayEndpoint: must be an https:// URL: sensors ship spans to the gateway over TLS only');
    const app = buildApp(new App({ context: {
      'sightline:image': image, 'sightline:topology': 'sensor', 'sightline:clusterName': 'workloads', ...SENSOR_TRANSPORT,
    } }));
    expect(stackIds(app)).toEqual(['SightlineSensor-workloads']);
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
    // The next command it prints deploys the new account CloudWatch-only: a new account cannot create Timestream.
    const nextStep = JSON.stringify(template.findOutputs('NextStep'));
    expect(nextStep).toContain('sightline:topology=data-plane');
    expect(nextStep).toContain('sightline:timestream=false');
    expect(nagErrors(app.node.findChild('SightlineDataPlaneAccount'))).toEqual([]);
  });

  test('bad context values name the flag', () => {
    expect(() => buildApp(new App({ context: { 'sightline:topology': 'everything' } }))).toThrow(/context sightline:topology/);
    expect(() => buildApp(new App({ context: { 'sightline:dataPlaneAccount': '12345' } }))).toThrow(/sightline:dataPlaneAccount: must be a 12-digit AWS account id/);
    expect(() => buildApp(new App({ context: { 'sightline:timestream': 'maybe' } }))).toThrow(/sightline:timestream/);
    expect(() => buildApp(new App({ context: { 'sightline:gatewayClientCidrs': '10.1.0.0/16,10.2.0.0' } }))).toThrow(/sightline:gatewayClientCidrs.*IPv4 CIDR/);
    expect(() => buildApp(new App({ context: { 'sightline:deployment': 'Prod_1' } }))).toThrow(/sightline:deployment: must be 1 to 20 lower-case/);
    expect(() => buildApp(new App({ context: { 'sightline:interfaceEndpoints': 'true' } }))).toThrow(/sightline:timestreamIngestCell is required when sightline:interfaceEndpoints is true/);
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

  test('one sensor stack per cluster: the stack is named after the cluster, so a second cluster gets a stack of its own', () => {
    const sensorApp = (clusterName: string) => buildApp(new App({ context: {
      'sightline:image': image, 'sightline:topology': 'sensor', 'sightline:clusterName': clusterName, ...SENSOR_TRANSPORT,
    } }));
    const ids = ['payments', 'search', 'ml_batch', 'ml-batch'].map((cluster) => stackIds(sensorApp(cluster))[0]);
    expect(ids.slice(0, 2)).toEqual(['SightlineSensor-payments', 'SightlineSensor-search']);
    expect(new Set(ids).size).toBe(4);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z][A-Za-z0-9-]{0,127}$/); // a valid CloudFormation stack name
    expect(() => sensorApp('-bad')).toThrow(/is not an EKS cluster name/);
  });

  test('two data planes in one account and region: every stack and named resource differs by sightline:deployment', () => {
    const namedResources = (deployment?: string): string[] => {
      const app = buildApp(new App({ context: { 'sightline:image': image, 'sightline:topology': 'data-plane', ...(deployment ? { 'sightline:deployment': deployment } : {}) } }));
      const [stack] = app.node.children.filter((child): child is Stack => child instanceof Stack);
      const template = Template.fromStack(stack).toJSON();
      const names: string[] = [`stack:${stack.stackName}`];
      for (const resource of Object.values(template.Resources) as any[]) {
        // Named queries are identified by id; their names may repeat.
        if (resource.Type === 'AWS::Athena::NamedQuery') continue;
        const properties = resource.Properties ?? {};
        const name = properties.Name ?? properties.AlarmName ?? properties.DashboardName ?? properties.LogGroupName ?? properties.DatabaseInput?.Name;
        if (typeof name === 'string') names.push(`${resource.Type}:${name}`);
      }
      return names;
    };
    const first = namedResources();
    const second = namedResources('staging');
    expect(first).toEqual(expect.arrayContaining(['stack:SightlineDataPlane', 'AWS::Glue::Database:sightline', 'AWS::Athena::WorkGroup:sightline']));
    expect(second).toEqual(expect.arrayContaining(['stack:SightlineDataPlane-staging', 'AWS::Glue::Database:sightline_staging', 'AWS::Athena::WorkGroup:sightline-staging']));
    expect(second.filter((name) => name.startsWith('AWS::CloudWatch::Alarm:')).every((name) => name.includes('Sightline-staging-'))).toBe(true);
    expect(first.filter((name) => second.includes(name))).toEqual([]);
  });

  test('a fresh account fails on the Timestream database before anything else is created, and synth says how to avoid it', () => {
    const dataPlane = allInOne.node.findChild('SightlineDataPlane') as DataPlaneStack;
    const template = Template.fromStack(dataPlane);
    Annotations.fromStack(dataPlane).hasWarning('*', Match.stringLikeRegexp('closed to new AWS customers since 2025-06-20.*sightline:timestream=false'));
    const resources = template.toJSON().Resources as Record<string, any>;
    const [database] = Object.keys(template.findResources('AWS::Timestream::Database'));
    const dataKey = dataPlane.getLogicalId(dataPlane.dataKey.node.defaultChild as any);
    const metricStore = dataPlane.metricStore!.node.findAll().map((child) => (child as any).logicalId).filter(Boolean).map((id) => dataPlane.resolve(id));
    const independent = Object.keys(resources).filter((id) => id !== dataKey && !metricStore.includes(id) && !(resources[id].DependsOn ?? []).includes(database));
    expect(independent).toEqual(['CDKMetadata'].filter((id) => id in resources));
    // The key is removed again if that first create fails; retained once it exists.
    expect(resources[dataKey]).toMatchObject({ DeletionPolicy: 'RetainExceptOnCreate', UpdateReplacePolicy: 'Retain' });

    const cloudWatchOnly = buildApp(new App({ context: { 'sightline:image': image, 'sightline:topology': 'data-plane', 'sightline:timestream': 'false' } }));
    const stack = cloudWatchOnly.node.findChild('SightlineDataPlane') as Stack;
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('Timestream'))).toEqual([]);
  });

  test('an image by tag draws a warning to pin it by digest', () => {
    const tagged = buildApp(new App({ context: { 'sightline:image': 'public.ecr.aws/example/sightline:1.0.0', 'sightline:topology': 'data-plane' } }));
    Annotations.fromStack(tagged.node.findChild('SightlineDataPlane') as Stack).hasWarning('*', Match.stringLikeRegexp('pin it by digest'));
    expect(Annotations.fromStack(allInOne.node.findChild('SightlineDataPlane') as Stack).findWarning('*', Match.stringLikeRegexp('pin it by digest'))).toEqual([]);
  });

  test('the all-in-one sensor runs privileged on the Auto Mode (Bottlerocket, SELinux) nodes of the data-plane cluster', () => {
    const sensor = allInOne.node.children.find((child): child is SensorStack => child instanceof SensorStack)!;
    const daemonSet = sensor.sensor.chart.toJson().find((object: any) => object.kind === 'DaemonSet');
    expect(daemonSet.spec.template.spec.containers[0].securityContext).toEqual({ privileged: true, runAsUser: 0 });
  });

  test('cdk-nag runs in the app itself: cdk synth fails on an unacknowledged finding and names it', () => {
    const app = buildApp(new App({ context: { 'sightline:image': image, 'sightline:topology': 'sensor', 'sightline:clusterName': 'workloads', ...SENSOR_TRANSPORT } }));
    expect(() => app.synth()).not.toThrow();
    const withFinding = buildApp(new App({ context: { 'sightline:image': image, 'sightline:topology': 'sensor', 'sightline:clusterName': 'workloads', ...SENSOR_TRANSPORT } }));
    new s3.Bucket(withFinding.node.findChild('SightlineSensor-workloads'), 'Unlogged');
    expect(() => withFinding.synth()).toThrow(/ERROR The S3 Bucket has server access logs disabled\. \(AwsSolutions\)[\s\S]*AwsSolutions-S1/);
  });

  test('docs/deploy.md documents every context flag in its table', () => {
    const deployDoc = readFileSync(join(__dirname, '../../docs/deploy.md'), 'utf8');
    const documented = [...deployDoc.matchAll(/^\| `(sightline:[A-Za-z]+)` \|/gm)].map((match) => match[1]);
    expect(documented.slice().sort()).toEqual(Object.keys(deploymentContextSchema.shape).sort());
  });

  test('production flags all together synthesize with the cdk-nag checks of the app clean', () => {
    const app = buildApp(new App({ context: {
      'sightline:image': image, 'sightline:topology': 'data-plane', 'sightline:deployment': 'prod', 'sightline:interfaceEndpoints': 'true',
      'sightline:timestreamIngestCell': 'cell1', 'sightline:natGatewayPerAz': 'true', 'sightline:maxAzs': '3', 'sightline:objectLockDays': '30',
      'sightline:gatewayClientCidrs': '10.20.0.0/16,172.16.0.0/12', 'sightline:alarmEmail': 'sre@example.com', 'sightline:workloadAccounts': '444455556666',
      'sightline:apiAccessCidrs': '203.0.113.10/32', 'sightline:athenaScanLimitGiB': '500',
    } }));
    expect(() => app.synth()).not.toThrow();
    expect(stackIds(app)).toEqual(['SightlineDataPlane-prod']);
  });
});
