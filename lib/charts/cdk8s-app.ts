/**
 * Renders the Sightline charts to plain YAML for clusters that this CDK app does not manage:
 *
 *   SIGHTLINE_IMAGE=... SIGHTLINE_GATEWAY_ENDPOINT=... npx tsx lib/charts/cdk8s-app.ts
 *   (or `cdk8s synth --app "npx tsx lib/charts/cdk8s-app.ts"`)
 *
 * writes cdk8s.out/sightline-sensor.k8s.yaml and, when SIGHTLINE_SPAN_BUCKET is set, sightline-gateway.k8s.yaml.
 * The gateway's spool volumes use SIGHTLINE_SPOOL_STORAGE_CLASS when set, else a StorageClass of the chart through
 * SIGHTLINE_EBS_PROVISIONER (default `ebs.csi.aws.com`, the EBS CSI driver add-on; EKS Auto Mode: ebs.csi.eks.amazonaws.com).
 *
 * Credentials come from Kubernetes Secrets you create in the namespace (docs/deploy.md says how):
 * `sightline-gateway-tls` (kubernetes.io/tls) and `sightline-gateway-client-tokens` (one key per sensor cluster) for
 * the gateway, `sightline-gateway-credentials` (`token`, `ca.crt`) for the sensor; the SIGHTLINE_*_SECRET variables
 * rename them. SIGHTLINE_GATEWAY_SERVER_NAME is the name in the gateway's certificate (default sightline-gateway.sightline.svc).
 */
import { App, YamlOutputType } from 'cdk8s';
import { GatewayChart } from './gateway-chart';
import { SensorChart } from './sensor-chart';

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`${name} is required: set it in the environment before rendering the charts`);
  }
  return value;
}

export function renderCharts(env: NodeJS.ProcessEnv, outdir: string): App {
  const app = new App({ outdir, yamlOutputType: YamlOutputType.FILE_PER_CHART });
  const image = env.SIGHTLINE_IMAGE ?? required('SIGHTLINE_IMAGE');
  const spanBucket = env.SIGHTLINE_SPAN_BUCKET;
  if (spanBucket !== undefined && spanBucket !== '') {
    new GatewayChart(app, 'sightline-gateway', {
      image,
      sinks: {
        region: env.AWS_REGION ?? required('AWS_REGION'),
        spanBucketName: spanBucket,
        timestreamDatabaseName: env.SIGHTLINE_TIMESTREAM_DATABASE || undefined,
        slaMs: Number(env.SIGHTLINE_SLA_MS ?? '1000'),
      },
      spoolStorageClass: env.SIGHTLINE_SPOOL_STORAGE_CLASS || undefined,
      ebsProvisioner: env.SIGHTLINE_EBS_PROVISIONER || 'ebs.csi.aws.com',
      credentials: {
        kubernetes: {
          tlsSecretName: env.SIGHTLINE_GATEWAY_TLS_SECRET || 'sightline-gateway-tls',
          clientTokensSecretName: env.SIGHTLINE_GATEWAY_TOKENS_SECRET || 'sightline-gateway-client-tokens',
        },
      },
    });
  }
  new SensorChart(app, 'sightline-sensor', {
    image,
    gatewayEndpoint: env.SIGHTLINE_GATEWAY_ENDPOINT ?? required('SIGHTLINE_GATEWAY_ENDPOINT'),
    clusterName: env.SIGHTLINE_CLUSTER_NAME,
    gatewayCredentials: { kubernetes: { secretName: env.SIGHTLINE_SENSOR_CREDENTIALS_SECRET || 'sightline-gateway-credentials' } },
    gatewayServerName: env.SIGHTLINE_GATEWAY_SERVER_NAME || undefined,
    // The gateway chart owns the namespace when both are rendered together.
    createNamespace: spanBucket === undefined || spanBucket === '',
  });
  return app;
}

if (require.main === module) {
  renderCharts(process.env, process.env.CDK8S_OUTDIR ?? 'cdk8s.out').synth();
}
