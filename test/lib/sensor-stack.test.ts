import { App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { parse } from 'yaml';
import { SensorStack, type SensorStackProps } from '../../lib/sensor-stack';
import { parseConfig } from '../../sensor/config/load-config';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { nagErrors } from './support';

const props: SensorStackProps = {
  env: { account: '444455556666', region: 'eu-west-1' },
  cluster: { existingClusterName: 'workloads-prod', kubernetesVersion: '1.34' },
  gatewayEndpoint: 'https://vpce-0123.sightline.internal:4318',
  gatewayCredentials: {
    tokenSecretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:SensorToken-workloads-prod-AbCdEf',
    caSecretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:GatewayCa-GhIjKl',
  },
  image: 'public.ecr.aws/example/sightline@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
};

describe('SensorStack on an existing cluster', () => {
  let stack: SensorStack;
  let template: Template;
  let manifest: any[];
  beforeAll(() => {
    stack = new SensorStack(new App(), 'Sensor', props);
    template = Template.fromStack(stack);
    const resource = Object.values(template.findResources('Custom::AWSCDK-EKS-KubernetesResource'))[0] as any;
    manifest = JSON.parse(resource.Properties.Manifest);
  });

  test('applies the sensor chart to the named cluster', () => {
    template.hasResourceProperties('Custom::AWSCDK-EKS-KubernetesResource', { ClusterName: 'workloads-prod', Overwrite: true });
    const daemonSet = manifest.find((object) => object.kind === 'DaemonSet');
    expect(daemonSet.spec.template.spec.containers[0].args).toEqual(['sensor', '--config', '/etc/sightline/config.yaml']);
    const config = parseConfig(parse(manifest.find((object) => object.kind === 'ConfigMap').data['config.yaml']));
    expect(config.exporters.otlp).toMatchObject({ enabled: true, endpoint: 'https://vpce-0123.sightline.internal:4318' });
    expect(config.enrichment.kubernetes.clusterName).toBe('workloads-prod');
  });

  test('its kubectl provider gets cluster access through an access entry, which the manifest waits for (and outlives on delete)', () => {
    template.hasResourceProperties('AWS::EKS::AccessEntry', {
      ClusterName: 'workloads-prod',
      AccessPolicies: [Match.objectLike({ AccessScope: { Type: 'cluster' } })],
    });
    const [accessEntryId] = Object.keys(template.findResources('AWS::EKS::AccessEntry'));
    const [manifestResource] = Object.values(template.findResources('Custom::AWSCDK-EKS-KubernetesResource')) as any[];
    expect(manifestResource.DependsOn).toContain(accessEntryId);
  });

  test('the sensors read their token and the gateway CA through Pod Identity, and only those; the association precedes the pods', async () => {
    const { tokenSecretArn, caSecretArn } = props.gatewayCredentials;
    template.hasResourceProperties('AWS::EKS::PodIdentityAssociation', {
      ClusterName: 'workloads-prod', Namespace: 'sightline', ServiceAccount: 'sightline-sensor',
      RoleArn: { 'Fn::GetAtt': [stack.getLogicalId(stack.credentialsRole.node.defaultChild as any), 'Arn'] },
    });
    const [associationId] = Object.keys(template.findResources('AWS::EKS::PodIdentityAssociation'));
    const [manifestResource] = Object.values(template.findResources('Custom::AWSCDK-EKS-KubernetesResource')) as any[];
    expect(manifestResource.DependsOn).toContain(associationId);
    const role = (template.findResources('AWS::IAM::Role')[stack.getLogicalId(stack.credentialsRole.node.defaultChild as any)] as any).Properties;
    expect(role.AssumeRolePolicyDocument.Statement.map((statement: any) => [statement.Principal.Service, statement.Condition])).toEqual([
      ['pods.eks.amazonaws.com', { StringEquals: { 'aws:SourceAccount': '444455556666' } }],
      ['pods.eks.amazonaws.com', { StringEquals: { 'aws:SourceAccount': '444455556666' } }],
    ]);
    // Judged by an IAM policy simulator: the two secrets, and nothing else of Secrets Manager or KMS.
    const policies = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((policy: any) => JSON.stringify(policy.Properties.Roles).includes(stack.getLogicalId(stack.credentialsRole.node.defaultChild as any)))
      .map((policy: any, index) => ({ name: `sensor-${index}`, policy: policy.Properties.PolicyDocument }));
    // The data-plane side admits this whole account (as TransportSecrets' resource and key policies do), so what the
    // sensor role may read is decided by its own policy here.
    const admitsThisAccount = (action: string) => ({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::444455556666:root' }, Action: action, Resource: '*' }],
    });
    const decide = async (action: string, resource: string, context: Record<string, string> = {}) => {
      const response = await runSimulation({
        request: { principal: 'arn:aws:iam::444455556666:role/sensor', action, resource: { resource, accountId: resource.split(':')[4] || '111122223333' }, contextVariables: context },
        identityPolicies: policies, serviceControlPolicies: [], resourceControlPolicies: [], resourcePolicy: admitsThisAccount(action),
      }, {});
      if (response.resultType === 'error') throw new Error(JSON.stringify(response.errors));
      return response.overallResult;
    };
    expect(await decide('secretsmanager:GetSecretValue', tokenSecretArn)).toBe('Allowed');
    expect(await decide('secretsmanager:GetSecretValue', caSecretArn)).toBe('Allowed');
    expect(await decide('secretsmanager:GetSecretValue', 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:SensorToken-other-cluster-XyZ')).not.toBe('Allowed');
    expect(await decide('secretsmanager:GetSecretValue', 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:GatewayTls-MnOpQr')).not.toBe('Allowed');
    const key = 'arn:aws:kms:eu-west-1:111122223333:key/0000-transport';
    expect(await decide('kms:Decrypt', key, { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' })).toBe('Allowed');
    expect(await decide('kms:Decrypt', key, { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' })).not.toBe('Allowed');
    expect(await decide('kms:Decrypt', key)).not.toBe('Allowed');
    expect(await decide('s3:GetObject', 'arn:aws:s3:::spans-bucket/spans/x')).not.toBe('Allowed');
  });

  test('every function logs to a log group with retention', () => {
    const groups = template.findResources('AWS::Logs::LogGroup');
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as any[];
    expect(functions.length).toBeGreaterThan(0);
    for (const fn of functions) {
      const ref = fn.Properties.LoggingConfig?.LogGroup?.Ref;
      expect(groups[ref]?.Properties.RetentionInDays).toBe(30);
    }
  });

  test('kubectl version skew: a cluster within one minor version passes, one outside is refused with the way out', () => {
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('kubectl'))).toEqual([]);
    const tooOld = () => new SensorStack(new App(), 'Sensor', { ...props, cluster: { existingClusterName: 'legacy', kubernetesVersion: '1.32' } });
    expect(tooOld).toThrow(/kubectl 1\.35, which supports clusters 1\.34 to 1\.36; cluster 1\.32 is outside that.*cdk8s-app\.ts/);
    expect(() => new SensorStack(new App(), 'Sensor', { ...props, cluster: { existingClusterName: 'next', kubernetesVersion: '1.36' } })).not.toThrow();
    // Unknown version: synth says what it could not check.
    const unchecked = new SensorStack(new App(), 'Sensor', { ...props, cluster: { existingClusterName: 'workloads-prod' } });
    Annotations.fromStack(unchecked).hasWarning('*', Match.stringLikeRegexp('kubectl 1\\.35, which supports clusters 1\\.34 to 1\\.36.*sightline:clusterVersion'));
  });

  test('privileged when asked (SELinux-enforcing nodes), capabilities only otherwise', () => {
    const daemonSet = (stackProps: SensorStackProps) => {
      const rendered = Template.fromStack(new SensorStack(new App(), 'Sensor', stackProps));
      const resource = Object.values(rendered.findResources('Custom::AWSCDK-EKS-KubernetesResource'))[0] as any;
      return JSON.parse(resource.Properties.Manifest).find((object: any) => object.kind === 'DaemonSet');
    };
    expect(daemonSet({ ...props, privileged: true }).spec.template.spec.containers[0].securityContext).toEqual({ privileged: true, runAsUser: 0 });
    expect(manifest.find((object) => object.kind === 'DaemonSet').spec.template.spec.containers[0].securityContext.privileged).toBe(false);
  });

  test('cdk-nag AwsSolutions: no unacknowledged error', () => {
    expect(nagErrors(stack)).toEqual([]);
  });
});
