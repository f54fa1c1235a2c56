import { CfnOutput, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { KubectlV35Layer } from '@aws-cdk/lambda-layer-kubectl-v35';
import { App as Cdk8sApp } from 'cdk8s';
import { Construct, type IDependable } from 'constructs';
import { GatewayChart, type GatewaySinks } from '../charts/gateway-chart';
import type { GatewayCredentials } from '../charts/transport';
import { KUBECTL_VERSION } from '../kubectl-version';
import { acknowledgeKubectlProviderFindings, acknowledgeNagRule } from '../nag-acknowledgements';
import { SightlinePort } from '../../sensor/common/telemetry-contract';

export interface GatewayClusterProps {
  /** Sightline container image. */
  readonly image: string;
  /** Sinks the gateway writes to. */
  readonly sinks: GatewaySinks;
  /** The write-only role the gateway pods assume through EKS Pod Identity. */
  readonly writerRole: iam.IRole;
  /**
   * The gateway's TLS certificate and the sensor clusters' tokens; `ready` is what must exist before the gateway
   * starts (the certificate written into its secret).
   */
  readonly transport: { readonly credentials: GatewayCredentials; readonly ready?: IDependable };
  /** Key for envelope encryption of Kubernetes secrets (the platform key, not the data key). */
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
   * CIDR ranges, besides the data-plane VPC, whose sensors reach the NLB directly (peered VPCs, Transit Gateway).
   * PrivateLink consumers need no entry: the endpoint service admits the allowed accounts.
   * @default - the data-plane VPC only
   */
  readonly gatewayClientCidrs?: string[];
  /**
   * Fewest and most gateway replicas (the HorizontalPodAutoscaler's bounds); nodes follow the pods (EKS Auto Mode).
   * @default { min: 2, max: 10 }
   */
  readonly replicas?: { readonly min: number; readonly max: number };
  /**
   * Size of each gateway replica's spool volume in GiB.
   * @default 20
   */
  readonly spoolVolumeGiB?: number;
  /**
   * Availability Zones of the new VPC; PrivateLink consumers can only use endpoint subnets in these zones.
   * @default 2
   */
  readonly maxAzs?: number;
  /**
   * One NAT gateway per zone, so egress survives the loss of a zone (production); one shared NAT otherwise.
   * @default false
   */
  readonly natGatewayPerAz?: boolean;
  /**
   * Interface endpoints for the gateway's AWS calls besides S3 (CloudWatch metrics, EKS Pod Identity credentials and,
   * with Timestream, its ingest cell), so they skip the NAT gateway.
   * @default false
   */
  readonly interfaceEndpoints?: boolean;
  /**
   * The Timestream ingest cell of the account (`cell1`, ... from `aws timestream-write describe-endpoints`), for its
   * interface endpoint; required with `interfaceEndpoints` when Timestream is on.
   * @default - none
   */
  readonly timestreamIngestCell?: string;
  /**
   * Retention of the operational log groups: EKS control plane, VPC flow logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * VPC of the cluster.
   * @default - a new VPC over `maxAzs` zones with an S3 gateway endpoint
   */
  readonly vpc?: ec2.IVpc;
}

function securityGroupOf(loadBalancer: elbv2.NetworkLoadBalancer): ec2.ISecurityGroup {
  const [securityGroup] = loadBalancer.connections.securityGroups;
  if (securityGroup === undefined) throw new Error('gateway load balancer: expected the security group it was created with');
  return securityGroup;
}

/** The Kubernetes version of the data-plane cluster; the kubectl layer is the same minor version. */
export const GATEWAY_KUBERNETES_VERSION = eks.KubernetesVersion.V1_35;

/**
 * The data-plane EKS cluster running the Sightline gateway, and the private way in for workload VPCs: an internal
 * NLB whose target group the AWS Load Balancer Controller keeps filled with gateway pods, published as a VPC endpoint
 * service. EKS Auto Mode runs the nodes: they come and go with the pods the HorizontalPodAutoscaler asks for (it reads
 * CPU from the metrics-server add-on), and Auto Mode's block storage provisions the gateway's spool volumes.
 */
export class GatewayCluster extends Construct {
  readonly cluster: eks.Cluster;
  /** The cluster's name as a plain string (`<stack name>-gateway`), known at synth. */
  readonly clusterName: string;
  readonly chart: GatewayChart;
  /** The applied gateway chart (it creates the `sightline` namespace). */
  readonly manifest: eks.KubernetesManifest;
  readonly loadBalancer: elbv2.NetworkLoadBalancer;
  readonly targetGroup: elbv2.NetworkTargetGroup;
  readonly endpointService: ec2.VpcEndpointService;
  readonly vpc: ec2.IVpc;
  readonly controlPlaneLogs: logs.LogGroup;

  /** The name the cluster of the stack holding `scope` gets: `<stack name>-gateway`. */
  static clusterNameOf(scope: Construct): string {
    return `${Stack.of(scope).stackName}-gateway`;
  }

  constructor(scope: Construct, id: string, props: GatewayClusterProps) {
    super(scope, id);
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    this.vpc = props.vpc ?? this.createVpc(props, logRetention);
    if (props.interfaceEndpoints) this.addInterfaceEndpoints(this.vpc, props);

    // A name derived from the stack: stable for the control plane and the log group, unique per deployment.
    const clusterName = GatewayCluster.clusterNameOf(this);
    this.clusterName = clusterName;
    // EKS creates /aws/eks/<name>/cluster without retention; created here first, it is the one EKS writes to.
    this.controlPlaneLogs = new logs.LogGroup(this, 'ControlPlaneLogs', {
      logGroupName: `/aws/eks/${clusterName}/cluster`,
      retention: logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const apiAccessCidrs = props.apiAccessCidrs ?? [];
    this.cluster = new eks.Cluster(this, 'Cluster', {
      clusterName,
      version: GATEWAY_KUBERNETES_VERSION,
      vpc: this.vpc,
      vpcSubnets: [{ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }],
      endpointAccess: apiAccessCidrs.length > 0
        ? eks.EndpointAccess.PUBLIC_AND_PRIVATE.onlyFrom(...apiAccessCidrs)
        : eks.EndpointAccess.PRIVATE,
      // Auto Mode: AWS runs Karpenter, the EBS CSI driver, the Pod Identity agent, VPC CNI, CoreDNS and kube-proxy.
      defaultCapacityType: eks.DefaultCapacityType.AUTOMODE,
      compute: { nodePools: ['system', 'general-purpose'] },
      secretsEncryptionKey: props.secretsKey,
      clusterLogging: [
        eks.ClusterLoggingTypes.API, eks.ClusterLoggingTypes.AUDIT, eks.ClusterLoggingTypes.AUTHENTICATOR,
        eks.ClusterLoggingTypes.CONTROLLER_MANAGER, eks.ClusterLoggingTypes.SCHEDULER,
      ],
      kubectlProviderOptions: { kubectlLayer: new KubectlV35Layer(this, 'KubectlLayer') },
      // The controller binds gateway pods into the NLB target group defined below (TargetGroupBinding).
      albController: { version: eks.AlbControllerVersion.V3_2_2 },
    });
    this.cluster.node.addDependency(this.controlPlaneLogs);
    if (GATEWAY_KUBERNETES_VERSION.version !== KUBECTL_VERSION) {
      throw new Error(`gateway cluster: Kubernetes ${GATEWAY_KUBERNETES_VERSION.version} needs the kubectl ${GATEWAY_KUBERNETES_VERSION.version} layer, this app ships ${KUBECTL_VERSION}`);
    }

    Validations.of(this.cluster).acknowledge({
      id: 'CloudFormation-Validate::W9009',
      reason: 'The EKS construct library renders EncryptionConfig.Resources itself; "secrets" is still the only value EKS accepts.',
    });

    // The HorizontalPodAutoscaler reads pod CPU from the metrics API, which only metrics-server serves.
    const metricsServer = new eks.Addon(this, 'MetricsServer', { cluster: this.cluster, addonName: 'metrics-server' });

    const replicas = props.replicas ?? { min: 2, max: 10 };
    this.chart = new GatewayChart(new Cdk8sApp(), 'sightline-gateway', {
      image: props.image,
      sinks: props.sinks,
      minReplicas: replicas.min,
      maxReplicas: replicas.max,
      spoolVolumeGiB: props.spoolVolumeGiB,
      credentials: props.transport.credentials,
    });
    const gatewayManifest = this.cluster.addCdk8sChart('Gateway', this.chart);
    this.manifest = gatewayManifest;
    gatewayManifest.node.addDependency(metricsServer);
    if (props.transport.ready !== undefined) gatewayManifest.node.addDependency(props.transport.ready);

    // Pod Identity (its agent is part of Auto Mode) gives the gateway's service account, and nothing else, the writer role.
    const association = new eks.CfnPodIdentityAssociation(this, 'GatewayPodIdentity', {
      clusterName: this.cluster.clusterName,
      namespace: this.chart.namespaceName,
      serviceAccount: this.chart.serviceAccountName,
      roleArn: props.writerRole.roleArn,
    });
    gatewayManifest.node.addDependency(association);

    const { loadBalancer, targetGroup } = this.createLoadBalancer(this.vpc, props.gatewayClientCidrs ?? []);
    this.loadBalancer = loadBalancer;
    this.targetGroup = targetGroup;
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
      description: 'Create an interface VPC endpoint to this service in each workload VPC (subnets in the same AZ ids as the NLB), then point sensors at it',
      value: this.endpointService.vpcEndpointServiceName,
    });
    new CfnOutput(this, 'GatewayLoadBalancerEndpoint', {
      description: 'OTLP/HTTPS endpoint of the gateway inside the data-plane VPC and the networks in sightline:gatewayClientCidrs',
      value: `https://${loadBalancer.loadBalancerDnsName}:${SightlinePort.otlp}`,
    });
  }

  /** cdk-nag findings on resources the EKS construct library defines for us, each with the reason it stands. */
  private acknowledgeLibraryFindings(loadBalancerSecurityGroup: ec2.ISecurityGroup): void {
    acknowledgeKubectlProviderFindings(this.cluster);
    acknowledgeNagRule(this.cluster, 'AwsSolutions-IAM4',
      'AWS-managed policies EKS documents for the cluster role and the Auto Mode node role; they grant no access to Sightline data.',
      [
        'AmazonEKSClusterPolicy', 'AmazonEKSComputePolicy', 'AmazonEKSBlockStoragePolicy', 'AmazonEKSLoadBalancingPolicy',
        'AmazonEKSNetworkingPolicy', 'AmazonEKSWorkerNodePolicy',
      ].map((name) => `Policy::arn:<AWS::Partition>:iam::aws:policy/${name}`));
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
      'Ingress is limited to the VPC CIDR block and the configured client CIDRs; the VPC block is a token cdk-nag cannot resolve at synth time.');
    acknowledgeNagRule(this.loadBalancer, 'AwsSolutions-ELB2',
      'The NLB has a TCP listener only (TLS passes through to the gateway pods); NLB access logs exist for TLS listeners alone.');
  }

  private createVpc(props: GatewayClusterProps, logRetention: logs.RetentionDays): ec2.Vpc {
    const maxAzs = props.maxAzs ?? 2;
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs,
      // One NAT gateway keeps the idle cost down; one per zone keeps egress up when a zone fails.
      natGateways: props.natGatewayPerAz ? maxAzs : 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
    });
    // Span objects go to S3 through the free gateway endpoint, not the NAT gateway (billed per GB). Its policy stays
    // open: image layers from ECR come from S3 through it too.
    vpc.addGatewayEndpoint('S3Endpoint', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(new logs.LogGroup(this, 'FlowLogs', { retention: logRetention })),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });
    return vpc;
  }

  private addInterfaceEndpoints(vpc: ec2.IVpc, props: GatewayClusterProps): void {
    const subnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    const endpoints = [
      vpc.addInterfaceEndpoint('CloudWatchMetricsEndpoint', { service: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING, subnets }),
      // Pod Identity exchanges the pod's token for the writer role's credentials here.
      vpc.addInterfaceEndpoint('EksAuthEndpoint', { service: ec2.InterfaceVpcEndpointAwsService.EKS_AUTH, subnets }),
    ];
    if (props.sinks.timestreamDatabaseName !== undefined) {
      if (props.timestreamIngestCell === undefined) {
        throw new Error('gateway cluster: interfaceEndpoints with Timestream needs the account\'s ingest cell: '
          + 'run `aws timestream-write describe-endpoints` and pass the cell of the address (e.g. cell1) as sightline:timestreamIngestCell');
      }
      endpoints.push(vpc.addInterfaceEndpoint('TimestreamIngestEndpoint', {
        service: new ec2.InterfaceVpcEndpointService(`com.amazonaws.${Stack.of(this).region}.timestream.ingest-${props.timestreamIngestCell}`, 443),
        privateDnsEnabled: true,
        subnets,
      }));
    }
    for (const endpoint of endpoints) {
      acknowledgeNagRule(endpoint, 'AwsSolutions-EC23',
        'The endpoint admits HTTPS from the VPC CIDR block only, a token cdk-nag cannot resolve at synth time.');
    }
  }

  private createLoadBalancer(vpc: ec2.IVpc, clientCidrs: string[]): { loadBalancer: elbv2.NetworkLoadBalancer; targetGroup: elbv2.NetworkTargetGroup } {
    const securityGroup = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc,
      description: 'Sightline gateway NLB: OTLP from the data-plane VPC and the allowed client networks',
      allowAllOutbound: false,
    });
    securityGroup.addIngressRule(ec2.Peer.ipv4(vpc.vpcCidrBlock), ec2.Port.tcp(SightlinePort.otlp), 'OTLP from inside the VPC');
    for (const cidr of clientCidrs) {
      securityGroup.addIngressRule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(SightlinePort.otlp), `OTLP from ${cidr}`);
    }
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
    // TCP passthrough: TLS ends in the gateway pod, with the certificate sensors verify against the deployment's CA,
    // so the NLB never sees a span in clear and needs no certificate of its own.
    loadBalancer.addListener('Otlp', { port: SightlinePort.otlp, protocol: elbv2.Protocol.TCP, defaultTargetGroups: [targetGroup] });
    return { loadBalancer, targetGroup };
  }
}
