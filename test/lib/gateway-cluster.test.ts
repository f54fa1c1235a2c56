import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { GatewayCluster } from '../../lib/constructs/gateway-cluster';
import { nagErrors } from './support';

describe('GatewayCluster', () => {
  let stack: Stack;
  let template: Template;
  let gateway: GatewayCluster;
  let writerRole: iam.Role;
  beforeAll(() => {
    stack = new Stack(new App(), 'Test', { env: { account: '111122223333', region: 'eu-west-1' } });
    writerRole = new iam.Role(stack, 'Writer', { assumedBy: new iam.ServicePrincipal('pods.eks.amazonaws.com') });
    gateway = new GatewayCluster(stack, 'Gateway', {
      image: 'public.ecr.aws/example/sightline:1.0.0',
      writerRole,
      secretsKey: new kms.Key(stack, 'Key', { enableKeyRotation: true }),
      workloadAccounts: ['444455556666'],
      sinks: { region: 'eu-west-1', spanBucketName: 'spans', slaMs: 1000 },
    });
    template = Template.fromStack(stack);
  });

  test('EKS cluster: private API endpoint, control-plane logs, secrets encryption', () => {
    template.hasResourceProperties('AWS::EKS::Cluster', {
      ResourcesVpcConfig: Match.objectLike({ EndpointPublicAccess: false, EndpointPrivateAccess: true }),
      Logging: { ClusterLogging: { EnabledTypes: Match.arrayWith([{ Type: 'api' }, { Type: 'audit' }, { Type: 'authenticator' }]) } },
      EncryptionConfig: [Match.objectLike({ Resources: ['secrets'] })],
    });
  });

  test('managed AL2023 node group for the gateway', () => {
    template.hasResourceProperties('AWS::EKS::Nodegroup', {
      AmiType: 'AL2023_x86_64_STANDARD',
      InstanceTypes: ['m6i.large'],
      ScalingConfig: { MinSize: 2, DesiredSize: 2, MaxSize: 6 },
    });
  });

  test('the writer role is associated with the gateway service account only', () => {
    const associations = Object.values(template.findResources('AWS::EKS::PodIdentityAssociation')).map((resource: any) => resource.Properties);
    expect(associations).toHaveLength(1);
    expect(associations[0]).toMatchObject({ Namespace: 'sightline', ServiceAccount: 'sightline-gateway' });
    expect(associations[0].RoleArn).toEqual({ 'Fn::GetAtt': [stack.getLogicalId(writerRole.node.defaultChild as iam.CfnRole), 'Arn'] });
    template.hasResourceProperties('AWS::EKS::Addon', { AddonName: 'eks-pod-identity-agent' });
  });

  test('gateway chart and target group binding are applied through kubectl', () => {
    const manifests = Object.values(template.findResources('Custom::AWSCDK-EKS-KubernetesResource'))
      .map((resource: any) => JSON.stringify(resource.Properties.Manifest));
    expect(manifests.some((manifest) => manifest.includes('HorizontalPodAutoscaler') && manifest.includes('sightline-gateway'))).toBe(true);
    const binding = manifests.find((manifest) => manifest.includes('TargetGroupBinding'));
    expect(binding).toBeDefined();
    expect(binding).toContain(stack.getLogicalId(gateway.node.findChild('OtlpTargets').node.defaultChild as any));
  });

  test('private reach: internal NLB on 4318 with /readyz health check, published as an endpoint service', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internal', Type: 'network' });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: 4318, Protocol: 'TCP', TargetType: 'ip', HealthCheckPath: '/readyz', HealthCheckPort: '9464', HealthCheckProtocol: 'HTTP',
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 4318, Protocol: 'TCP' });
    template.hasResourceProperties('AWS::EC2::VPCEndpointService', { AcceptanceRequired: false });
    template.hasResourceProperties('AWS::EC2::VPCEndpointServicePermissions', {
      AllowedPrincipals: ['arn:aws:iam::444455556666:root'],
    });
  });

  test('VPC over two zones with one NAT gateway, rejected traffic logged for a month', () => {
    template.resourceCountIs('AWS::EC2::VPC', 1);
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
    template.resourceCountIs('AWS::EC2::Subnet', 4);
    template.hasResourceProperties('AWS::EC2::FlowLog', { ResourceType: 'VPC', TrafficType: 'REJECT', LogDestinationType: 'cloud-watch-logs' });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  test('NLB security group: OTLP in from the VPC only, out only to the gateway pods on OTLP and health ports', () => {
    const groups = Object.values(template.findResources('AWS::EC2::SecurityGroup')).map((group: any) => group.Properties);
    const nlbGroup = groups.find((group) => group.GroupDescription === 'Sightline gateway NLB: OTLP from the data-plane VPC');
    expect(nlbGroup.SecurityGroupIngress).toEqual([{
      CidrIp: { 'Fn::GetAtt': [expect.stringMatching(/Vpc/), 'CidrBlock'] }, FromPort: 4318, ToPort: 4318, IpProtocol: 'tcp', Description: 'OTLP from inside the VPC',
    }]);
    // No inline egress: the only ways out are the two rules to the cluster security group below.
    expect(nlbGroup.SecurityGroupEgress).toBeUndefined();
    const egress = Object.values(template.findResources('AWS::EC2::SecurityGroupEgress')).map((rule: any) => rule.Properties.FromPort).sort();
    const ingress = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress'))
      .filter((rule: any) => rule.Properties.Description === 'from the gateway NLB').map((rule: any) => rule.Properties.FromPort).sort();
    expect(egress).toEqual([4318, 9464]);
    expect(ingress).toEqual([4318, 9464]);
  });

  test('the AWS Load Balancer Controller is installed to bind gateway pods into the target group', () => {
    template.hasResourceProperties('Custom::AWSCDK-EKS-HelmChart', { Chart: 'aws-load-balancer-controller', Version: '3.2.2' });
  });

  test('outputs name the cluster, the endpoint service and the NLB endpoint', () => {
    const outputs = Object.entries(template.findOutputs('*'));
    const valueOf = (fragment: string) => outputs.find(([name]) => name.includes(fragment))?.[1].Value;
    expect(valueOf('GatewayClusterName')).toEqual({ Ref: stack.getLogicalId(gateway.cluster.node.defaultChild as any) });
    expect(valueOf('GatewayEndpointServiceName')).toBeDefined();
    expect(JSON.stringify(valueOf('GatewayLoadBalancerEndpoint'))).toContain(':4318');
  });

  test('cdk-nag AwsSolutions: no unacknowledged error', () => {
    expect(nagErrors(stack)).toEqual([]);
  });
});
