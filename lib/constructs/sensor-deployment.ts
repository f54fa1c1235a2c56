import * as eks from 'aws-cdk-lib/aws-eks-v2';
import { App as Cdk8sApp } from 'cdk8s';
import { Construct } from 'constructs';
import { SensorChart, type SensorChartProps } from '../charts/sensor-chart';

export interface SensorDeploymentProps extends Omit<SensorChartProps, 'image' | 'gatewayEndpoint'> {
  /** Cluster the DaemonSet is applied to (created in this app or imported). */
  readonly cluster: eks.ICluster;
  /** Sightline container image. */
  readonly image: string;
  /** OTLP/HTTPS endpoint of the gateway. */
  readonly gatewayEndpoint: string;
}

/** Applies the sensor chart to a cluster through the cluster's kubectl provider. */
export class SensorDeployment extends Construct {
  readonly chart: SensorChart;
  readonly manifest: eks.KubernetesManifest;

  constructor(scope: Construct, id: string, props: SensorDeploymentProps) {
    super(scope, id);
    const { cluster, ...chartProps } = props;
    this.chart = new SensorChart(new Cdk8sApp(), 'sightline-sensor', chartProps);
    // Defined in this scope (not through cluster.addCdk8sChart) so the manifest belongs to the sensor stack.
    this.manifest = new eks.KubernetesManifest(this, 'Manifest', {
      cluster,
      manifest: this.chart.toJson(),
      overwrite: true,
    });
  }
}
