import { App } from 'cdk8s';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { parse } from 'yaml';
import { GatewayChart, type GatewayChartProps } from '../../lib/charts/gateway-chart';

const image = 'public.ecr.aws/example/sightline:1.2.3';
const sinks = {
  region: 'eu-west-1',
  spanBucketName: 'spans-bucket',
  timestreamDatabaseName: 'sightline-db',
  slaMs: 1500,
};
const render = (props: Partial<GatewayChartProps> = {}): any[] => new GatewayChart(new App(), 'gateway', { image, sinks, ...props }).toJson();
const byKind = (manifests: any[], kind: string): any => manifests.find((manifest) => manifest.kind === kind);

describe('GatewayChart', () => {
  let manifests: any[];
  let deployment: any;
  let container: any;
  beforeAll(() => {
    manifests = render();
    deployment = byKind(manifests, 'Deployment');
    container = deployment.spec.template.spec.containers[0];
  });

  test('every object validates against the Kubernetes schema', () => {
    const models: Record<string, new (data: any) => { validate(): void }> = {
      Deployment, HorizontalPodAutoscaler, PodDisruptionBudget, ConfigMap, Namespace, Service, ServiceAccount,
    };
    expect(manifests.map((manifest) => manifest.kind).sort()).toEqual(Object.keys(models).sort());
    for (const manifest of manifests) expect(() => new models[manifest.kind](manifest).validate()).not.toThrow();
  });

  test('the container runs gateway mode on the OTLP and health ports', () => {
    expect(container.args).toEqual(['gateway', '--config', '/etc/sightline/config.yaml']);
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(deployment.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    expect(deployment.spec.template.spec.serviceAccountName).toBe(byKind(manifests, 'ServiceAccount').metadata.name);
  });

  test('pods roll when the config changes (checksum annotation), and run only where the x86-64 image can', () => {
    const checksum = (rendered: any[]) => byKind(rendered, 'Deployment').spec.template.metadata.annotations['sightline.dev/config-sha256'];
    expect(checksum(manifests)).toMatch(/^[0-9a-f]{64}$/);
    expect(checksum(render())).toBe(checksum(manifests));
    expect(checksum(render({ sinks: { ...sinks, slaMs: 900 } }))).not.toBe(checksum(manifests));
    expect(deployment.spec.template.spec.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' });
  });

  test('the config carries the sinks', () => {
    const config = parse(byKind(manifests, 'ConfigMap').data['config.yaml']);
    expect(config.exporters.s3).toEqual({ enabled: true, bucket: 'spans-bucket', prefix: '', region: 'eu-west-1' });
    expect(config.exporters.timestream).toEqual({ enabled: true, database: 'sightline-db', table: 'llm_calls', region: 'eu-west-1' });
    expect(config.exporters.cloudwatch).toEqual({ enabled: true, namespace: 'Sightline', region: 'eu-west-1' });
    expect(config.metrics.slaThresholdMs).toBe(1500);
  });

  test('CloudWatch-only when no Timestream database is given', () => {
    const config = parse(byKind(render({ sinks: { ...sinks, timestreamDatabaseName: undefined } }), 'ConfigMap').data['config.yaml']);
    expect(config.exporters.timestream).toBeUndefined();
    expect(config.exporters.cloudwatch.enabled).toBe(true);
  });

  test('the spool volume is sized by spoolSizeMiB and bad sizes are refused', () => {
    const volume = byKind(render({ spoolSizeMiB: 1024 }), 'Deployment').spec.template.spec.volumes.find((v: any) => v.name === 'spool');
    expect(volume.emptyDir).toEqual({ sizeLimit: '1024Mi' });
    expect(() => render({ spoolSizeMiB: 10 })).toThrow('gateway chart: spoolSizeMiB must be a whole number of at least 64, got 10');
  });

  test('Service selects the Deployment pods on the OTLP port', () => {
    const service = byKind(manifests, 'Service');
    expect(service.spec.type).toBe('ClusterIP');
    expect(service.spec.ports).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'otlp', port: 4318, targetPort: 'otlp' })]));
    for (const [key, value] of Object.entries(service.spec.selector)) expect(deployment.spec.template.metadata.labels[key]).toBe(value);
  });

  test('HPA scales the Deployment on CPU between the bounds; PDB keeps one pod', () => {
    const hpa = byKind(render({ minReplicas: 3, maxReplicas: 12, targetCpuUtilization: 60 }), 'HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    expect(hpa.spec.minReplicas).toBe(3);
    expect(hpa.spec.maxReplicas).toBe(12);
    expect(hpa.spec.metrics[0].resource).toEqual({ name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } });
    const pdb = byKind(manifests, 'PodDisruptionBudget');
    expect(pdb.spec.minAvailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
  });

  test('rejects an impossible replica range', () => {
    expect(() => render({ minReplicas: 5, maxReplicas: 2 })).toThrow(/minReplicas \(5\) <= maxReplicas \(2\)/);
  });

  test('in-cluster endpoint names the Service', () => {
    const chart = new GatewayChart(new App(), 'gateway', { image, sinks });
    expect(chart.inClusterEndpoint).toBe(`http://${byKind(manifests, 'Service').metadata.name}.sightline.svc.cluster.local:4318`);
  });
});
