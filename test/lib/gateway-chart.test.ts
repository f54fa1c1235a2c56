import { App } from 'cdk8s';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { StorageClass } from 'kubernetes-models/storage.k8s.io/v1/StorageClass';
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
const credentials: GatewayChartProps['credentials'] = {
  secretsManager: {
    tlsSecretArn: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:GatewayTls-aaaaaa',
    clientTokenSecretArns: { payments: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:Token-payments-bbbbbb' },
  },
};
const render = (props: Partial<GatewayChartProps> = {}): any[] => new GatewayChart(new App(), 'gateway', { image, sinks, credentials, ...props }).toJson();
const byKind = (manifests: any[], kind: string): any => manifests.find((manifest) => manifest.kind === kind);

describe('GatewayChart', () => {
  let manifests: any[];
  let statefulSet: any;
  let container: any;
  beforeAll(() => {
    manifests = render();
    statefulSet = byKind(manifests, 'StatefulSet');
    container = statefulSet.spec.template.spec.containers[0];
  });

  test('every object validates against the Kubernetes schema', () => {
    const models: Record<string, new (data: any) => { validate(): void }> = {
      StatefulSet, StorageClass, HorizontalPodAutoscaler, PodDisruptionBudget, ConfigMap, Namespace, Service, ServiceAccount,
    };
    expect([...new Set(manifests.map((manifest) => manifest.kind))].sort()).toEqual(Object.keys(models).sort());
    for (const manifest of manifests) expect(() => new models[manifest.kind](manifest).validate()).not.toThrow();
  });

  test('stable names the control plane drives: StatefulSet and HPA sightline-gateway, Service sightline-gateway', () => {
    expect(statefulSet.metadata.name).toBe('sightline-gateway');
    expect(byKind(manifests, 'HorizontalPodAutoscaler').metadata.name).toBe('sightline-gateway');
    expect(manifests.filter((manifest) => manifest.kind === 'Service').map((service) => service.metadata.name).sort()).toEqual(['sightline-gateway', 'sightline-gateway-pods']);
  });

  test('each replica spools on its own encrypted EBS volume, kept when the replica is scaled in', () => {
    expect(statefulSet.spec.serviceName).toBe('sightline-gateway-pods');
    const headless = manifests.find((manifest) => manifest.kind === 'Service' && manifest.metadata.name === 'sightline-gateway-pods');
    expect(headless.spec.clusterIP).toBe('None');
    expect(statefulSet.spec.volumeClaimTemplates).toEqual([expect.objectContaining({
      metadata: expect.objectContaining({ name: 'spool' }),
      spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'sightline-spool', resources: { requests: { storage: '20Gi' } } },
    })]);
    expect(statefulSet.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenScaled: 'Retain', whenDeleted: 'Retain' });
    // Mounted where the config puts the spool; no emptyDir stands in for it.
    expect(container.volumeMounts).toContainEqual({ name: 'spool', mountPath: '/var/lib/sightline/spool' });
    expect(statefulSet.spec.template.spec.volumes.map((volume: any) => volume.name)).not.toContain('spool');
    expect(parse(byKind(manifests, 'ConfigMap').data['config.yaml']).exporters.spool.dir).toBe('/var/lib/sightline/spool');
    expect(byKind(manifests, 'StorageClass')).toMatchObject({
      metadata: { name: 'sightline-spool' },
      provisioner: 'ebs.csi.eks.amazonaws.com',
      parameters: { type: 'gp3', encrypted: 'true' },
      volumeBindingMode: 'WaitForFirstConsumer',
    });
    // An existing class instead: the chart defines none.
    const existing = render({ spoolStorageClass: 'gp3' });
    expect(byKind(existing, 'StorageClass')).toBeUndefined();
    expect(byKind(existing, 'StatefulSet').spec.volumeClaimTemplates[0].spec.storageClassName).toBe('gp3');
    expect(byKind(render({ ebsProvisioner: 'ebs.csi.aws.com' }), 'StorageClass').provisioner).toBe('ebs.csi.aws.com');
  });

  test('scale-in drains: the pod keeps serving while the NLB deregisters it, then drains for drainSeconds within its grace period', () => {
    const config = parse(byKind(manifests, 'ConfigMap').data['config.yaml']);
    expect(config.exporters.drainSeconds).toBe(45);
    expect(container.lifecycle.preStop).toEqual({ sleep: { seconds: 10 } });
    // preStop, then the drain, then time to close: all inside the grace period, or the kubelet kills the drain.
    expect(statefulSet.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(10 + 45);
    const short = render({ drainSeconds: 5 });
    expect(parse(byKind(short, 'ConfigMap').data['config.yaml']).exporters.drainSeconds).toBe(5);
    expect(byKind(short, 'StatefulSet').spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(10 + 5);
    expect(() => render({ drainSeconds: -1 })).toThrow('gateway chart: drainSeconds must be a whole number of seconds, got -1');
  });

  test('the container runs gateway mode on the OTLP and health ports', () => {
    expect(container.args).toEqual(['gateway', '--config', '/etc/sightline/config.yaml']);
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(statefulSet.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    expect(statefulSet.spec.template.spec.serviceAccountName).toBe(byKind(manifests, 'ServiceAccount').metadata.name);
  });

  test('pods roll when the config changes (checksum annotation), and run only where the x86-64 image can', () => {
    const checksum = (rendered: any[]) => byKind(rendered, 'StatefulSet').spec.template.metadata.annotations['sightline.dev/config-sha256'];
    expect(checksum(manifests)).toMatch(/^[0-9a-f]{64}$/);
    expect(checksum(render())).toBe(checksum(manifests));
    expect(checksum(render({ sinks: { ...sinks, slaMs: 900 } }))).not.toBe(checksum(manifests));
    expect(statefulSet.spec.template.spec.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' });
  });

  test('the config carries the sinks', () => {
    const config = parse(byKind(manifests, 'ConfigMap').data['config.yaml']);
    // Objects of a minute or 32 MiB of spans, whichever comes first: large at scale, still timely when quiet.
    expect(config.exporters.s3).toEqual({ enabled: true, bucket: 'spans-bucket', prefix: '', region: 'eu-west-1', maxBatchBytes: 32 * 1024 * 1024, maxWaitSeconds: 60 });
    expect(config.exporters.timestream).toEqual({ enabled: true, database: 'sightline-db', table: 'llm_calls', region: 'eu-west-1' });
    expect(config.exporters.cloudwatch).toEqual({ enabled: true, namespace: 'Sightline', region: 'eu-west-1' });
    expect(config.metrics.slaThresholdMs).toBe(1500);
  });

  test('CloudWatch-only when no Timestream database is given', () => {
    const config = parse(byKind(render({ sinks: { ...sinks, timestreamDatabaseName: undefined } }), 'ConfigMap').data['config.yaml']);
    expect(config.exporters.timestream).toBeUndefined();
    expect(config.exporters.cloudwatch.enabled).toBe(true);
  });

  test('the spool volume is sized by spoolVolumeGiB, split between the sinks, and bad sizes are refused', () => {
    const rendered = render({ spoolVolumeGiB: 30 });
    expect(byKind(rendered, 'StatefulSet').spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('30Gi');
    // Three sinks (S3, Timestream, CloudWatch) share nine tenths of the volume.
    expect(parse(byKind(rendered, 'ConfigMap').data['config.yaml']).exporters.spool.maxBytes).toBe(Math.floor((30 * 1024 ** 3 * 0.9) / 3));
    expect(() => render({ spoolVolumeGiB: 0.5 })).toThrow('gateway chart: spoolVolumeGiB must be a whole number of at least 1, got 0.5');
  });

  test('Service selects the gateway pods on the OTLP port', () => {
    const service = byKind(manifests, 'Service');
    expect(service.spec.type).toBe('ClusterIP');
    expect(service.spec.ports).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'otlp', port: 4318, targetPort: 'otlp' })]));
    for (const [key, value] of Object.entries(service.spec.selector)) expect(statefulSet.spec.template.metadata.labels[key]).toBe(value);
  });

  test('HPA scales the StatefulSet on CPU between the bounds, one replica at a time on the way down; PDB keeps one pod', () => {
    const hpa = byKind(render({ minReplicas: 3, maxReplicas: 12, targetCpuUtilization: 60 }), 'HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'StatefulSet', name: statefulSet.metadata.name });
    expect(hpa.spec.behavior.scaleDown.policies).toEqual([{ type: 'Pods', value: 1, periodSeconds: 120 }]);
    expect(hpa.spec.minReplicas).toBe(3);
    expect(hpa.spec.maxReplicas).toBe(12);
    expect(hpa.spec.metrics[0].resource).toEqual({ name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } });
    const pdb = byKind(manifests, 'PodDisruptionBudget');
    expect(pdb.spec.minAvailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(statefulSet.spec.selector.matchLabels);
  });

  test('serves TLS with the fetched certificate and accepts the clusters\' tokens, current and previous', () => {
    const configMap = byKind(manifests, 'ConfigMap');
    const config = parse(configMap.data['config.yaml']);
    expect(config.receiver).toMatchObject({
      host: '0.0.0.0',
      tls: { certFile: '/run/sightline/credentials/tls/tls.crt', keyFile: '/run/sightline/credentials/tls/tls.key' },
      auth: { tokensDir: '/run/sightline/credentials/tokens' },
    });
    const { tlsSecretArn, clientTokenSecretArns } = (credentials as { secretsManager: any }).secretsManager;
    expect(JSON.parse(configMap.data['credentials.json'])).toEqual({
      directories: ['/run/sightline/credentials/tokens'],
      files: [
        { secretId: tlsSecretArn, jsonKey: 'certificate', path: '/run/sightline/credentials/tls/tls.crt', versionStage: 'AWSCURRENT', optional: false },
        { secretId: tlsSecretArn, jsonKey: 'privateKey', path: '/run/sightline/credentials/tls/tls.key', versionStage: 'AWSCURRENT', optional: false },
        { secretId: clientTokenSecretArns.payments, path: '/run/sightline/credentials/tokens/payments', versionStage: 'AWSCURRENT', optional: false },
        { secretId: clientTokenSecretArns.payments, path: '/run/sightline/credentials/tokens/payments.previous', versionStage: 'AWSPREVIOUS', optional: true },
      ],
    });
    const pod = statefulSet.spec.template.spec;
    expect(pod.initContainers.map((init: any) => [init.name, init.image, init.args])).toEqual([['credentials', image, ['credentials', '--plan', '/etc/sightline/credentials.json']]]);
    expect(pod.volumes).toContainEqual({ name: 'credentials', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } });
    // A new token secret (a cluster added) rolls the pods, which fetch again.
    const checksum = (rendered: any[]) => byKind(rendered, 'StatefulSet').spec.template.metadata.annotations['sightline.dev/config-sha256'];
    const more = { secretsManager: { tlsSecretArn, clientTokenSecretArns: { ...clientTokenSecretArns, search: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:Token-search-cccccc' } } };
    expect(checksum(render({ credentials: more }))).not.toBe(checksum(manifests));
  });

  test('or mounts Kubernetes Secrets (cert-manager\'s kubernetes.io/tls among them) for clusters this app does not manage', () => {
    const rendered = render({ credentials: { kubernetes: { tlsSecretName: 'gw-tls', clientTokensSecretName: 'gw-tokens' } } });
    const pod = byKind(rendered, 'StatefulSet').spec.template.spec;
    expect(pod.initContainers).toEqual([]);
    expect(pod.volumes).toEqual(expect.arrayContaining([
      { name: 'tls', secret: { secretName: 'gw-tls', defaultMode: 0o440 } },
      { name: 'client-tokens', secret: { secretName: 'gw-tokens', defaultMode: 0o440 } },
    ]));
    expect(parse(byKind(rendered, 'ConfigMap').data['config.yaml']).receiver).toMatchObject({
      tls: { certFile: '/etc/sightline-tls/tls.crt', keyFile: '/etc/sightline-tls/tls.key' }, auth: { tokensDir: '/etc/sightline-tokens' },
    });
  });

  test('rejects an impossible replica range', () => {
    expect(() => render({ minReplicas: 5, maxReplicas: 2 })).toThrow(/minReplicas \(5\) <= maxReplicas \(2\)/);
  });

  test('in-cluster endpoint names the Service', () => {
    const chart = new GatewayChart(new App(), 'gateway', { image, sinks, credentials });
    expect(chart.inClusterEndpoint).toBe(`https://${byKind(manifests, 'Service').metadata.name}.sightline.svc.cluster.local:4318`);
    expect(chart.serverName).toBe(`${byKind(manifests, 'Service').metadata.name}.sightline.svc`);
  });
});
