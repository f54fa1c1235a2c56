import { Annotations, Stack, Token, type StackProps } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { KubectlV35Layer } from '@aws-cdk/lambda-layer-kubectl-v35';
import type { Construct } from 'constructs';
import { deploymentNames } from './deployment-names';
import { checkKubectlSkew, KUBECTL_VERSION, supportedClusterVersions } from './kubectl-version';
import { retainFunctionLogs } from './log-retention';
import { acknowledgeKubectlProviderFindings, acknowledgeNagRule } from './nag-acknowledgements';
import { OperatorAccess, type OperatorAccessOptions } from './constructs/operator-access';
import { SensorDeployment } from './constructs/sensor-deployment';
import type { SensorSecretsManagerCredentials } from './charts/transport';
import { sightlineImageUri } from './constructs/sightline-image';

/** An EKS cluster this app does not manage, by name, with the Kubernetes version it runs. */
export interface ExistingCluster {
  readonly existingClusterName: string;
  /**
   * Its Kubernetes version (`1.33`), checked against the kubectl this stack applies the manifest with.
   * @default - unchecked; synth warns
   */
  readonly kubernetesVersion?: string;
}

export interface SensorStackProps extends StackProps {
  /** OTLP/HTTPS endpoint of the Sightline gateway. */
  readonly gatewayEndpoint: string;
  /**
   * This cluster's token secret and the gateway CA secret (outputs of the data-plane stack, possibly in another
   * account): the sensors read them at start through EKS Pod Identity.
   */
  readonly gatewayCredentials: SensorSecretsManagerCredentials;
  /**
   * Name in the gateway's certificate, verified whatever host the endpoint names.
   * @default 'sightline-gateway.sightline.svc'
   */
  readonly gatewayServerName?: string;
  /** The cluster: either a cluster of this app (all-in-one) or an existing EKS cluster. */
  readonly cluster: eks.ICluster | ExistingCluster;
  /**
   * Sightline container image URI, best pinned by digest (`repo@sha256:...`).
   * @default - built from the repository Dockerfile as an image asset
   */
  readonly image?: string;
  /**
   * Whether the sensor chart creates the `sightline` namespace (off when the gateway shares the cluster).
   * @default true
   */
  readonly createNamespace?: boolean;
  /**
   * Run the sensor container privileged: needed on nodes whose SELinux policy confines unprivileged containers
   * (Bottlerocket, EKS Auto Mode), where BPF and the host spool directory are otherwise refused.
   * @default false
   */
  readonly privileged?: boolean;
  /**
   * Lets the vendor's control plane upgrade and scale the sensor DaemonSet through an operator role of this stack
   * (`sightline-operator-sensor-<cluster>`: IAM names are per account, and an account may hold several clusters).
   * @default - no vendor access
   */
  readonly operatorAccess?: OperatorAccessOptions;
}

/**
 * Puts the sensor DaemonSet on one workload cluster. The nodes get no AWS permissions, and the sensor pods only one:
 * reading their cluster's gateway token and the gateway's CA (EKS Pod Identity, needs the cluster's Pod Identity
 * Agent add-on). The sensor only speaks OTLP to the gateway, which holds the only write access to storage.
 */
export class SensorStack extends Stack {
  readonly cluster: eks.ICluster;
  readonly sensor: SensorDeployment;
  /** The role the sensor pods get through EKS Pod Identity: read two secrets, nothing else. */
  readonly credentialsRole: iam.Role;
  /** The access entry that lets this stack's kubectl provider apply the manifest (imported clusters only). */
  readonly kubectlAccess?: eks.AccessEntry;
  readonly operatorAccess?: OperatorAccess;

  constructor(scope: Construct, id: string, props: SensorStackProps) {
    super(scope, id, props);
    let kubectlAccess: eks.AccessEntry | undefined;
    if ('existingClusterName' in props.cluster) {
      this.checkClusterVersion(props.cluster.kubernetesVersion);
      ({ cluster: this.cluster, access: kubectlAccess } = this.importCluster(props.cluster.existingClusterName));
    } else {
      this.cluster = props.cluster;
    }
    this.kubectlAccess = kubectlAccess;
    this.sensor = new SensorDeployment(this, 'Sensor', {
      cluster: this.cluster,
      image: sightlineImageUri(this, props.image),
      gatewayEndpoint: props.gatewayEndpoint,
      gatewayCredentials: { secretsManager: props.gatewayCredentials },
      gatewayServerName: props.gatewayServerName,
      clusterName: this.cluster.clusterName,
      createNamespace: props.createNamespace,
      privileged: props.privileged,
    });
    // The provider may only apply once its access entry exists, and must delete the manifest before the entry goes.
    if (kubectlAccess !== undefined) this.sensor.manifest.node.addDependency(kubectlAccess);
    this.credentialsRole = this.grantGatewayCredentials(props.gatewayCredentials);
    if (props.operatorAccess !== undefined) {
      if (Token.isUnresolved(this.cluster.clusterName)) {
        throw new Error('sensor stack: operator access needs the cluster by name (the sensor topology); all-in-one, the data-plane stack grants it for the shared cluster');
      }
      this.operatorAccess = new OperatorAccess(this, 'OperatorAccess', {
        workloads: ['sensor'],
        ...props.operatorAccess,
        roleName: deploymentNames().sensorOperatorRoleName(this.cluster.clusterName),
        cluster: this.cluster,
        clusterName: this.cluster.clusterName,
        namespaceCreatedBy: this.sensor.manifest,
      });
    }
    retainFunctionLogs(this, logs.RetentionDays.ONE_MONTH);
  }

  /**
   * The sensor service account's role: GetSecretValue on the two secrets, and kms:Decrypt only as Secrets Manager
   * decrypting them (the key is the data-plane account's; its own policy names the accounts it admits).
   */
  private grantGatewayCredentials(credentials: SensorSecretsManagerCredentials): iam.Role {
    const sameAccount = { StringEquals: { 'aws:SourceAccount': this.account } };
    const role = new iam.Role(this, 'SensorCredentialsRole', {
      description: 'Sightline sensor: reads its cluster\'s gateway token and the gateway CA, nothing else',
      assumedBy: new iam.PrincipalWithConditions(new iam.ServicePrincipal('pods.eks.amazonaws.com'), sameAccount),
    });
    role.assumeRolePolicy?.addStatements(new iam.PolicyStatement({
      actions: ['sts:TagSession'],
      principals: [new iam.ServicePrincipal('pods.eks.amazonaws.com')],
      conditions: sameAccount,
    }));
    const policy = new iam.Policy(this, 'SensorCredentialsPolicy', {
      statements: [
        new iam.PolicyStatement({
          sid: 'ReadGatewayCredentials',
          actions: ['secretsmanager:GetSecretValue'],
          resources: [credentials.tokenSecretArn, credentials.caSecretArn],
        }),
        new iam.PolicyStatement({
          sid: 'DecryptThroughSecretsManager',
          actions: ['kms:Decrypt'],
          resources: ['*'],
          conditions: { StringLike: { 'kms:ViaService': 'secretsmanager.*.amazonaws.com' } },
        }),
      ],
    });
    policy.attachToRole(role);
    acknowledgeNagRule(policy, 'AwsSolutions-IAM5',
      'The transport key lives in the data-plane account and is not known to this stack; kms:Decrypt is held to Secrets Manager by kms:ViaService, and the key policy admits this account for that only.',
      ['Resource::*']);
    const association = new eks.CfnPodIdentityAssociation(this, 'SensorPodIdentity', {
      clusterName: this.cluster.clusterName,
      namespace: this.sensor.chart.namespaceName,
      serviceAccount: this.sensor.chart.serviceAccountName,
      roleArn: role.roleArn,
    });
    // The init container asks for credentials at pod start: the association must exist before the pods.
    this.sensor.manifest.node.addDependency(association);
    return role;
  }

  private checkClusterVersion(kubernetesVersion: string | undefined): void {
    if (kubernetesVersion !== undefined) {
      checkKubectlSkew(kubernetesVersion);
      return;
    }
    const supported = supportedClusterVersions();
    Annotations.of(this).addWarningV2('sightline:cluster-version-unchecked',
      `The manifest is applied with kubectl ${KUBECTL_VERSION}, which supports clusters ${supported[0]} to ${supported[supported.length - 1]}. `
      + 'Pass -c sightline:clusterVersion=<the cluster\'s version> to have synth check it.');
  }

  /** An existing cluster, with a kubectl provider of this stack that is granted cluster admin through an access entry. */
  private importCluster(clusterName: string): { cluster: eks.ICluster; access?: eks.AccessEntry } {
    // Imported clusters take a ready provider, so the provider is built against a bare reference first.
    const reference = eks.Cluster.fromClusterAttributes(this, 'ClusterReference', { clusterName });
    const kubectlProvider = new eks.KubectlProvider(this, 'KubectlProvider', {
      cluster: reference,
      kubectlLayer: new KubectlV35Layer(this, 'KubectlLayer'),
    });
    acknowledgeKubectlProviderFindings(kubectlProvider);
    const cluster = eks.Cluster.fromClusterAttributes(this, 'Cluster', { clusterName, kubectlProvider });
    if (kubectlProvider.role === undefined) return { cluster };
    const access = new eks.AccessEntry(this, 'KubectlAccess', {
      cluster,
      principal: kubectlProvider.role.roleArn,
      accessPolicies: [eks.AccessPolicy.fromAccessPolicyName('AmazonEKSClusterAdminPolicy', { accessScopeType: eks.AccessScopeType.CLUSTER })],
    });
    return { cluster, access };
  }
}
