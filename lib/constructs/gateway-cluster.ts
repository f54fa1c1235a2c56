import { CfnOutput, Duration, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { KubectlV35Layer } from '@aws-cdk/lambda-layer-kubectl-v35';
import { App as Cdk8sApp } from 'cdk8s';
import { Construct } from 'constructs';
import { GatewayChart, type GatewaySinks } from '../charts/gateway-chart';
import { acknowledgeKubectlProviderFindings, acknowledgeNagRule } from '../nag-acknowledgements';
import { SightlinePort } from '../../sensor/common/telemetry-contract';

export interface GatewayClusterProps {
  /** Sightline container image. */
  readonly image: string;
  /** Sinks the gateway writes to. */
  readonly sinks: GatewaySinks;
  /** The write-only role the gateway pods assume through EKS Pod Identity. */
  readonly writerRole: iam.IRole;
  /** Key for envelope encryption of Kubernetes secrets. */
  readonly secretsKey: kms.IKey;
  /**
   * Accounts whose VPCs may create an interface endpoint to the gateway.
   * @default - none; add principals later on the endpoint service
   */
  readonly workloadAccounts?: string[];
  /**
   * CIDR ranges that may reach the Kubernetes API over the internet.
   * @default - private API endpoint only
   */
  readonly apiAccessCidrs?: string[];
  /**
   * Instance type of the gateway nodes.
   * @default m6i.large
   */
  readonly instanceType?: ec2.InstanceType;
  /**
   * Fewest and most gateway nodes.
   * @default { min: 2, max: 6 }
   */
  readonly nodeCount?: { readonly min: number; readonly max: number };
  /**
   * VPC of the cluster.
   * @default - a new VPC over two zones with one NAT gateway
   */
  readonly vpc?: ec2.IVpc;
}

function securityGroupOf(loadBalancer: elbv2.NetworkLoadBalancer): ec2.ISecurityGroup {
  const [securityGroup] = loadBalancer.connections.securityGroups;
  if (securityGroup === undefined) throw new Error('gateway load balancer: expected the security group it was created with');
  return securityGroup;
}

/**
 * The data-plane EKS cluster running the Sightline gateway, and the private way in for workload VPCs:
 * an internal NLB whose target group the AWS Load Balancer Controller keeps filled with gateway pods,
 * published as a VPC endpoint service.
 */
export class GatewayCluster extends Construct {
  readonly cluster: eks.Cluster;
  readonly chart: GatewayChart;
  readonly loadBalancer: elbv2.NetworkLoadBalancer;
  readonly endpointService: ec2.VpcEndpointService;

  constructor(scope: Construct, id: string, props: GatewayClusterProps) {
    super(scope, id);
    const vpc = props.vpc ?? this.createVpc();

    const apiAccessCidrs = props.apiAccessCidrs ?? [];
    this.cluster = new eks.Cluster(this, 'Cluster', {
      version: eks.KubernetesVersion.V1_35,
      vpc,
      vpcSubnets: [{ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }],
      endpointAccess: apiAccessCidrs.length > 0
        ? eks.EndpointAccess.PUBLIC_AND_PRIVATE.onlyFrom(...apiAccessCidrs)
        : eks.EndpointAccess.PRIVATE,
      defaultCapacityType: eks.DefaultCapacityType.NODEGROUP,
      defaultCapacity: 0,
      secretsEncryptionKey: props.secretsKey,
      clusterLogging: [
        eks.ClusterLoggingTypes.API, eks.ClusterLoggingTypes.AUDIT, eks.ClusterLoggingTypes.AUTHENTICATOR,
        eks.ClusterLoggingTypes.CONTROLLER_MANAGER, eks.ClusterLoggingTypes.SCHEDULER,
      ],
      kubectlProviderOptions: { kubectlLayer: new KubectlV35Layer(this, 'KubectlLayer') },
      // The controller binds gateway pods into the NLB target group defined below (TargetGroupBinding).
      albController: { version: eks.AlbControllerVersion.V3_2_2 },
    });

    Validations.of(this.cluster).acknowledge({
      id: 'CloudFormation-Validate::W9009',
      reason: 'The EKS construct library renders EncryptionConfig.Resources itself; "secrets" is still the only value EKS accepts.',
    });

    const nodeCount = props.nodeCount ?? { min: 2, max: 6 };
    this.cluster.addNodegroupCapacity('GatewayNodes', {
      amiType: eks.NodegroupAmiType.AL2023_X86_64_STANDARD,
      instanceTypes: [props.instanceType ?? new ec2.InstanceType('m6i.large')],
      minSize: nodeCount.min,
      desiredSize: nodeCount.min,
      maxSize: nodeCount.max,
      subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    });

    this.chart = new GatewayChart(new Cdk8sApp(), 'sightline-gateway', { image: props.image, sinks: props.sinks });
    const gatewayManifest = this.cluster.addCdk8sChart('Gateway', this.chart);

    // Pod Identity gives the gateway's service account, and nothing else in the cluster, the writer role.
    const podIdentityAgent = this.cluster.eksPodIdentityAgent;
    const association = new eks.CfnPodIdentityAssociation(this, 'GatewayPodIdentity', {
      clusterName: this.cluster.clusterName,
      namespace: this.chart.namespaceName,
      serviceAccount: this.chart.serviceAccountName,
      roleArn: props.writerRole.roleArn,
    });
    if (podIdentityAgent !== undefined) association.node.addDependency(podIdentityAgent);
    gatewayManifest.node.addDependency(association);

    const { loadBalancer, targetGroup } = this.createLoadBalancer(vpc);
    this.loadBalancer = loadBalancer;
    const binding = this.cluster.addManifest('GatewayTargetGroupBinding', {
      apiVersion: 'elbv2.k8s.aws/v1beta1',
      kind: 'TargetGroupBinding',
      metadata: { name: 'sightline-gateway-otlp', namespace: this.chart.namespaceName },
      spec: {
        serviceRef: { name: this.chart.serviceName, port: SightlinePort.otlp },
        targetGroupARN: targetGroup.targetGroupArn,
        targetType: 'ip',
      },
    });
    binding.node.addDependency(gatewayManifest);
    if (this.cluster.albController !== undefined) binding.node.addDependency(this.cluster.albController);

    this.endpointService = new ec2.VpcEndpointService(this, 'EndpointService', {
      vpcEndpointServiceLoadBalancers: [loadBalancer],
      acceptanceRequired: false,
      allowedPrincipals: (props.workloadAccounts ?? []).map((account) => new iam.ArnPrincipal(`arn:aws:iam::${account}:root`)),
      contributorInsights: false,
    });

    this.acknowledgeLibraryFindings(securityGroupOf(loadBalancer));

    new CfnOutput(this, 'GatewayClusterName', {
      description: 'EKS cluster of the gateway: grant yourself an access entry, then aws eks update-kubeconfig --name <this>',
      value: this.cluster.clusterName,
    });
    new CfnOutput(this, 'GatewayEndpointServiceName', {
      description: 'Create an interface VPC endpoint to this service in each workload VPC, then point sensors at it',
      value: this.endpointService.vpcEndpointServiceName,
    });
    new CfnOutput(this, 'GatewayLoadBalancerEndpoint', {
      description: 'OTLP endpoint of the gateway inside the data-plane VPC and peered networks',
      value: `http://${loadBalancer.loadBalancerDnsName}:${SightlinePort.otlp}`,
    });
  }

  /** cdk-nag findings on resources the EKS construct library defines for us, each with the reason it stands. */
  private acknowledgeLibraryFindings(loadBalancerSecurityGroup: ec2.ISecurityGroup): void {
    acknowledgeKubectlProviderFindings(this.cluster);
    acknowledgeNagRule(this.cluster, 'AwsSolutions-IAM4',
      'AWS-managed policies EKS documents for the cluster role and the managed node role; they grant no access to Sightline data.',
      ['AmazonEKSClusterPolicy', 'AmazonEKSWorkerNodePolicy', 'AmazonEKS_CNI_Policy']
        .map((name) => `Policy::arn:<AWS::Partition>:iam::aws:policy/${name}`));
    if (this.cluster.albController !== undefined) {
      acknowledgeNagRule(this.cluster.albController, 'AwsSolutions-IAM5',
        'The AWS Load Balancer Controller policy as published for the controller; it manages load balancers and target groups it tags.',
        [
          'Resource::*',
          'Resource::arn:<AWS::Partition>:ec2:*:*:security-group/*',
          ...['listener-rule/app/*/*/*', 'listener-rule/net/*/*/*', 'listener/app/*/*/*', 'listener/net/*/*/*',
            'loadbalancer/app/*/*', 'loadbalancer/net/*/*', 'targetgroup/*/*']
            .map((resource) => `Resource::arn:<AWS::Partition>:elasticloadbalancing:*:*:${resource}`),
        ]);
    }
    acknowledgeNagRule(loadBalancerSecurityGroup, 'AwsSolutions-EC23',
      'Ingress is limited to the VPC CIDR block, which is a token cdk-nag cannot resolve at synth time.');
    acknowledgeNagRule(this.loadBalancer, 'AwsSolutions-ELB2',
      'The NLB has TCP listeners only; NLB access logs exist for TLS listeners alone.');
  }

  private createVpc(): ec2.Vpc {
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      // One NAT gateway keeps the idle cost down; add one per zone for zone-independent egress.
      natGateways: 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
    });
    vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(new logs.LogGroup(this, 'FlowLogs', { retention: logs.RetentionDays.ONE_MONTH })),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });
    return vpc;
  }

  private createLoadBalancer(vpc: ec2.IVpc): { loadBalancer: elbv2.NetworkLoadBalancer; targetGroup: elbv2.NetworkTargetGroup } {
    const securityGroup = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc,
      description: 'Sightline gateway NLB: OTLP from the data-plane VPC',
      allowAllOutbound: false,
    });
    securityGroup.addIngressRule(ec2.Peer.ipv4(vpc.vpcCidrBlock), ec2.Port.tcp(SightlinePort.otlp), 'OTLP from inside the VPC');
    for (const port of [SightlinePort.otlp, SightlinePort.http]) {
      securityGroup.addEgressRule(this.cluster.clusterSecurityGroup, ec2.Port.tcp(port), 'to gateway pods');
      this.cluster.clusterSecurityGroup.addIngressRule(securityGroup, ec2.Port.tcp(port), 'from the gateway NLB');
    }

    const loadBalancer = new elbv2.NetworkLoadBalancer(this, 'LoadBalancer', {
      vpc,
      internetFacing: false,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [securityGroup],
      crossZoneEnabled: true,
      // PrivateLink consumers are already limited to the allowed accounts of the endpoint service.
      enforceSecurityGroupInboundRulesOnPrivateLinkTraffic: false,
    });
    const targetGroup = new elbv2.NetworkTargetGroup(this, 'OtlpTargets', {
      vpc,
      port: SightlinePort.otlp,
      protocol: elbv2.Protocol.TCP,
      targetType: elbv2.TargetType.IP,
      deregistrationDelay: Duration.seconds(30),
      healthCheck: {
        protocol: elbv2.Protocol.HTTP,
        port: String(SightlinePort.http),
        path: '/readyz',
        interval: Duration.seconds(10),
      },
    });
    loadBalancer.addListener('Otlp', { port: SightlinePort.otlp, protocol: elbv2.Protocol.TCP, defaultTargetGroups: [targetGroup] });
    return { loadBalancer, targetGroup };
  }
}
