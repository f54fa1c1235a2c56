import { Stack, type StackProps } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import { KubectlV35Layer } from '@aws-cdk/lambda-layer-kubectl-v35';
import type { Construct } from 'constructs';
import { acknowledgeKubectlProviderFindings } from './nag-acknowledgements';
import { SensorDeployment } from './constructs/sensor-deployment';
import { sightlineImageUri } from './constructs/sightline-image';

export interface SensorStackProps extends StackProps {
  /** OTLP/HTTP endpoint of the Sightline gateway. */
  readonly gatewayEndpoint: string;
  /** The cluster: either a cluster of this app (all-in-one) or the name of an existing EKS cluster. */
  readonly cluster: eks.ICluster | { readonly existingClusterName: string };
  /**
   * Sightline container image URI.
   * @default - built from the repository Dockerfile as an image asset
   */
  readonly image?: string;
  /**
   * Whether the sensor chart creates the `sightline` namespace (off when the gateway shares the cluster).
   * @default true
   */
  readonly createNamespace?: boolean;
}

/**
 * Puts the sensor DaemonSet on one workload cluster. The nodes get no AWS permissions: the sensor only speaks
 * OTLP to the gateway, which holds the only write access to storage.
 */
export class SensorStack extends Stack {
  readonly cluster: eks.ICluster;
  readonly sensor: SensorDeployment;

  constructor(scope: Construct, id: string, props: SensorStackProps) {
    super(scope, id, props);
    this.cluster = 'existingClusterName' in props.cluster
      ? this.importCluster(props.cluster.existingClusterName)
      : props.cluster;
    this.sensor = new SensorDeployment(this, 'Sensor', {
      cluster: this.cluster,
      image: sightlineImageUri(this, props.image),
      gatewayEndpoint: props.gatewayEndpoint,
      clusterName: this.cluster.clusterName,
      createNamespace: props.createNamespace,
    });
  }

  /** An existing cluster, with a kubectl provider of this stack that is granted cluster admin through an access entry. */
  private importCluster(clusterName: string): eks.ICluster {
    // Imported clusters take a ready provider, so the provider is built against a bare reference first.
    const reference = eks.Cluster.fromClusterAttributes(this, 'ClusterReference', { clusterName });
    const kubectlProvider = new eks.KubectlProvider(this, 'KubectlProvider', {
      cluster: reference,
      kubectlLayer: new KubectlV35Layer(this, 'KubectlLayer'),
    });
    acknowledgeKubectlProviderFindings(kubectlProvider);
    const cluster = eks.Cluster.fromClusterAttributes(this, 'Cluster', { clusterName, kubectlProvider });
    if (kubectlProvider.role !== undefined) {
      new eks.AccessEntry(this, 'KubectlAccess', {
        cluster,
        principal: kubectlProvider.role.roleArn,
        accessPolicies: [eks.AccessPolicy.fromAccessPolicyName('AmazonEKSClusterAdminPolicy', { accessScopeType: eks.AccessScopeType.CLUSTER })],
      });
    }
    return cluster;
  }
}
