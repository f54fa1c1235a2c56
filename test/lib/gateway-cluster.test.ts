import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { GatewayCluster, GATEWAY_KUBERNETES_VERSION, type GatewayClusterProps } from '../../lib/constructs/gateway-cluster';
import { KUBECTL_VERSION } from '../../lib/kubectl-version';
import { nagErrors } from './support';

function gatewayIn(stackId: string, props: Partial<GatewayClusterProps> = {}): { stack: Stack; gateway: GatewayCluster; writerRole: iam.Role; template: Template } {
  const stack = new Stack(new App(), stackId, { env: { account: '111122223333', region: 'eu-west-1' } });
  const writerRole = new iam.Role(stack, 'Writer', { assumedBy: new iam.ServicePrincipal('pods.eks.amazonaws.com') });
  const gateway = new GatewayCluster(stack, 'Gateway', {
    image: 'public.ecr.aws/example/sightline:1.0.0',
    writerRole,
    secretsKey: new kms.Key(stack, 'Key', { enableKeyRotation: true }),
    workloadAccounts: ['444455556666'],
    sinks: { region: 'eu-west-1', spanBucketName: 'spans', slaMs: 1000 },
    transport: {
      credentials: {
        secretsManager: {
          tlsSecretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:GatewayTls-aaaaaa',
          clientTokenSecretArns: { payments: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:Token-payments-bbbbbb' },
        },
      },
    },
    ...props,
  });
  return { stack, gateway, writerRole, template: Template.fromStack(stack) };
}

const manifestsOf = (template: Template): string[] => Object.values(template.findResources('Custom::AWSCDK-EKS-KubernetesResource'))
  .map((resource: any) => JSON.stringify(resource.Properties.Manifest));

describe('GatewayCluster', () => {
  let stack: Stack;
  let template: Template;
  let gateway: GatewayCluster;
  let writerRole: iam.Role;
  beforeAll(() => {
    ({ stack, template, gateway, writerRole } = gatewayIn('Test'));
  });

  test('EKS cluster: private API endpoint, control-plane logs, secrets encryption', () => {
    template.hasResourceProperties('AWS::EKS::Cluster', {
      ResourcesVpcConfig: Match.objectLike({ EndpointPublicAccess: false, EndpointPrivateAccess: true }),
      Logging: { ClusterLogging: { EnabledTypes: Match.arrayWith([{ Type: 'api' }, { Type: 'audit' }, { Type: 'authenticator' }]) } },
      EncryptionConfig: [Match.objectLike({ Resources: ['secrets'] })],
    });
  });

  test('nodes follow the pods: EKS Auto Mode with its block storage and load balancing, no fixed node group', () => {
    template.hasResourceProperties('AWS::EKS::Cluster', {
      ComputeConfig: { Enabled: true, NodePools: ['system', 'general-purpose'], NodeRoleArn: Match.anyValue() },
      StorageConfig: { BlockStorage: { Enabled: true } },
    });
    template.resourceCountIs('AWS::EKS::Nodegroup', 0);
    template.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 0);
  });

  test('the HPA can scale: metrics-server is installed (an EKS add-on) before the gateway chart', () => {
    const addons = template.findResources('AWS::EKS::Addon', { Properties: { AddonName: 'metrics-server' } });
    const [metricsServerId] = Object.keys(addons);
    expect(metricsServerId).toBeDefined();
    const chart = Object.entries(template.findResources('Custom::AWSCDK-EKS-KubernetesResource'))
      .find(([, resource]: [string, any]) => JSON.stringify(resource.Properties.Manifest).includes('HorizontalPodAutoscaler'))!;
    expect(chart[1].DependsOn).toContain(metricsServerId);
    expect(chart[0]).toBeDefined();
  });

  test('the gateway runs as a StatefulSet with spool volumes, scaled by its HPA between the given bounds', () => {
    const { template: bounded } = gatewayIn('Bounded', { replicas: { min: 3, max: 12 } });
    const manifest = manifestsOf(bounded).find((text) => text.includes('HorizontalPodAutoscaler'))!;
    expect(manifest).toContain('\\"kind\\":\\"StatefulSet\\"');
    expect(manifest).toContain('\\"volumeClaimTemplates\\"');
    expect(manifest).toContain('\\"minReplicas\\":3');
    expect(manifest).toContain('\\"maxReplicas\\":12');
    expect(manifest).not.toContain('\\"kind\\":\\"Deployment\\"');
  });

  test('the writer role is associated with the gateway service account only; Auto Mode brings the Pod Identity agent', () => {
    const associations = Object.values(template.findResources('AWS::EKS::PodIdentityAssociation')).map((resource: any) => resource.Properties);
    expect(associations).toHaveLength(1);
    expect(associations[0]).toMatchObject({ Namespace: 'sightline', ServiceAccount: 'sightline-gateway' });
    expect(associations[0].RoleArn).toEqual({ 'Fn::GetAtt': [stack.getLogicalId(writerRole.node.defaultChild as iam.CfnRole), 'Arn'] });
    // A second agent (the add-on) would fight Auto Mode's own for the node's Pod Identity port.
    expect(Object.keys(template.findResources('AWS::EKS::Addon', { Properties: { AddonName: 'eks-pod-identity-agent' } }))).toEqual([]);
  });

  test('gateway chart and target group binding are applied through kubectl', () => {
    const manifests = manifestsOf(template);
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

  test('VPC over two zones with one NAT gateway and a free S3 gateway endpoint; rejected traffic logged for a month', () => {
    template.resourceCountIs('AWS::EC2::VPC', 1);
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
    template.resourceCountIs('AWS::EC2::Subnet', 4);
    template.hasResourceProperties('AWS::EC2::FlowLog', { ResourceType: 'VPC', TrafficType: 'REJECT', LogDestinationType: 'cloud-watch-logs' });
    // The S3 endpoint is on the private route tables, where the gateway pods run.
    const endpoints = Object.values(template.findResources('AWS::EC2::VPCEndpoint')).map((endpoint: any) => endpoint.Properties);
    expect(endpoints).toHaveLength(1);
    expect(endpoints[0]).toMatchObject({ VpcEndpointType: 'Gateway', ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.s3']] } });
    const privateTables = Object.entries(template.findResources('AWS::EC2::RouteTable'))
      .filter(([id]) => id.includes('private')).map(([id]) => ({ Ref: id }));
    expect(endpoints[0].RouteTableIds).toEqual(expect.arrayContaining(privateTables));
  });

  test('production networking: a NAT gateway per zone, three zones, interface endpoints for CloudWatch, Pod Identity and the Timestream cell', () => {
    const { template: production, stack: productionStack } = gatewayIn('Production', {
      maxAzs: 3, natGatewayPerAz: true, interfaceEndpoints: true, timestreamIngestCell: 'cell2',
      sinks: { region: 'eu-west-1', spanBucketName: 'spans', timestreamDatabaseName: 'db', slaMs: 1000 },
    });
    production.resourceCountIs('AWS::EC2::NatGateway', 3);
    const services = Object.values(production.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } }))
      .map((endpoint: any) => JSON.stringify(endpoint.Properties.ServiceName));
    expect(services).toEqual(expect.arrayContaining([
      expect.stringContaining('monitoring'), expect.stringContaining('eks-auth'), expect.stringContaining('com.amazonaws.eu-west-1.timestream.ingest-cell2'),
    ]));
    expect(() => gatewayIn('NoCell', { interfaceEndpoints: true, sinks: { region: 'eu-west-1', spanBucketName: 'spans', timestreamDatabaseName: 'db', slaMs: 1000 } }))
      .toThrow(/needs the account's ingest cell: run `aws timestream-write describe-endpoints`/);
    expect(nagErrors(productionStack)).toEqual([]);
  });

  test('NLB security group: OTLP in from the VPC and the given client networks only, out only to the gateway pods', () => {
    const ingressOf = (rendered: Template) => {
      const groups = Object.values(rendered.findResources('AWS::EC2::SecurityGroup')).map((group: any) => group.Properties);
      return groups.find((group) => String(group.GroupDescription).startsWith('Sightline gateway NLB'));
    };
    const nlbGroup = ingressOf(template);
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

    const peeredGateway = gatewayIn('Peered', { gatewayClientCidrs: ['10.20.0.0/16', '172.16.0.0/12'] });
    expect(nagErrors(peeredGateway.stack)).toEqual([]);
    const peered = ingressOf(peeredGateway.template);
    expect(peered.SecurityGroupIngress.map((rule: any) => [rule.CidrIp, rule.FromPort, rule.ToPort])).toEqual([
      [expect.objectContaining({ 'Fn::GetAtt': expect.any(Array) }), 4318, 4318],
      ['10.20.0.0/16', 4318, 4318],
      ['172.16.0.0/12', 4318, 4318],
    ]);
  });

  test('the AWS Load Balancer Controller is installed to bind gateway pods into the target group', () => {
    template.hasResourceProperties('Custom::AWSCDK-EKS-HelmChart', { Chart: 'aws-load-balancer-controller', Version: '3.2.2' });
  });

  test('every log group has a retention, the EKS control-plane log group included (created before the cluster)', () => {
    const groups = template.findResources('AWS::Logs::LogGroup');
    for (const group of Object.values(groups) as any[]) expect(group.Properties.RetentionInDays).toBe(30);
    const [controlPlaneId, controlPlane] = Object.entries(groups).find(([, group]: [string, any]) => group.Properties.LogGroupName !== undefined) as [string, any];
    expect(controlPlane.Properties.LogGroupName).toBe('/aws/eks/Test-gateway/cluster');
    const [cluster] = Object.values(template.findResources('AWS::EKS::Cluster')) as any[];
    expect(cluster.Properties.Name).toBe('Test-gateway');
    expect(cluster.DependsOn).toContain(controlPlaneId);
  });

  test('kubectl skew: the cluster runs the Kubernetes minor version of the kubectl layer the app ships', () => {
    expect(GATEWAY_KUBERNETES_VERSION.version).toBe(KUBECTL_VERSION);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const dependencies = Object.keys(require('../../package.json').dependencies);
    expect(dependencies).toContain(`@aws-cdk/lambda-layer-kubectl-v${KUBECTL_VERSION.split('.')[1]}`);
    template.hasResourceProperties('AWS::EKS::Cluster', { Version: KUBECTL_VERSION });
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
