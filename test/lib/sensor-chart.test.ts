import { App } from 'cdk8s';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { PriorityClass } from 'kubernetes-models/scheduling.k8s.io/v1/PriorityClass';
import { parse } from 'yaml';
import { SensorChart } from '../../lib/charts/sensor-chart';

const image = 'public.ecr.aws/example/sightline:1.2.3';
const gatewayEndpoint = 'http://gateway.sightline.internal:4318';

function render(props: Partial<ConstructorParameters<typeof SensorChart>[2]> = {}): any[] {
  return new SensorChart(new App(), 'sensor', { image, gatewayEndpoint, clusterName: 'prod-eu', ...props }).toJson();
}
const byKind = (manifests: any[], kind: string): any => manifests.find((manifest) => manifest.kind === kind);

describe('SensorChart', () => {
  let manifests: any[];
  let pod: any;
  let container: any;
  beforeAll(() => {
    manifests = render();
    pod = byKind(manifests, 'DaemonSet').spec.template.spec;
    container = pod.containers[0];
  });

  test('every object validates against the Kubernetes schema', () => {
    const models: Record<string, new (data: any) => { validate(): void }> = {
      DaemonSet, ClusterRole, ClusterRoleBinding, ConfigMap, Namespace, ServiceAccount, PriorityClass,
    };
    expect(manifests.map((manifest) => manifest.kind).sort()).toEqual(Object.keys(models).sort());
    for (const manifest of manifests) expect(() => new models[manifest.kind](manifest).validate()).not.toThrow();
  });

  test('pods roll when the config changes (checksum annotation), and run only where the x86-64 image can', () => {
    const checksum = (rendered: any[]) => byKind(rendered, 'DaemonSet').spec.template.metadata.annotations['sightline.dev/config-sha256'];
    expect(checksum(manifests)).toMatch(/^[0-9a-f]{64}$/);
    expect(checksum(render())).toBe(checksum(manifests)); // same config, same pods
    expect(checksum(render({ gatewayEndpoint: 'http://other-gateway:4318' }))).not.toBe(checksum(manifests));
    expect(pod.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' });
  });

  test('the container runs the sensor mode from its config file, with the health port', () => {
    expect(container.image).toBe(image);
    expect(container.args).toEqual(['sensor', '--config', '/etc/sightline/config.yaml']);
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.ports).toEqual(expect.arrayContaining([
      expect.objectContaining({ name: 'otlp', containerPort: 4318, hostPort: 4318 }),
      expect.objectContaining({ name: 'http', containerPort: 9464 }),
    ]));
    expect(container.env).toEqual([{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }]);
  });

  test('capabilities instead of privileged, host PID; SYS_ADMIN, which current kernels require to create uprobes', () => {
    expect(pod.hostPID).toBe(true);
    expect(container.securityContext.privileged).toBe(false);
    expect(container.securityContext.capabilities.drop).toEqual(['ALL']);
    expect(container.securityContext.capabilities.add).toEqual(['SYS_ADMIN', 'BPF', 'PERFMON', 'SYS_PTRACE', 'SYS_RESOURCE', 'DAC_READ_SEARCH']);
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);

    const privileged = byKind(render({ privileged: true }), 'DaemonSet').spec.template.spec.containers[0];
    expect(privileged.securityContext).toEqual({ privileged: true, runAsUser: 0 });
  });

  test('BTF and the spool are host mounts (host /proc comes with hostPID); the config comes from the ConfigMap', () => {
    const volumes = Object.fromEntries(pod.volumes.map((volume: any) => [volume.name, volume]));
    expect(Object.keys(volumes).sort()).toEqual(['btf', 'config', 'spool', 'tmp']);
    expect(volumes.btf.hostPath).toEqual({ path: '/sys/kernel/btf', type: 'Directory' });
    expect(volumes.spool.hostPath).toEqual({ path: '/var/lib/sightline/spool', type: 'DirectoryOrCreate' });
    expect(volumes.config.configMap.name).toBe(byKind(manifests, 'ConfigMap').metadata.name);
    const mounts = Object.fromEntries(container.volumeMounts.map((mount: any) => [mount.name, mount]));
    expect(mounts.btf).toMatchObject({ mountPath: '/sys/kernel/btf', readOnly: true });
    expect(mounts.spool.readOnly).toBeUndefined();
  });

  test('scheduling: every node, own priority class, rolling update, resources', () => {
    const daemonSet = byKind(manifests, 'DaemonSet');
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(pod.priorityClassName).toBe(byKind(manifests, 'PriorityClass').metadata.name);
    expect(daemonSet.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '10%' } });
    expect(container.resources).toEqual({ requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '512Mi' } });
    expect(daemonSet.spec.selector.matchLabels).toEqual(
      Object.fromEntries(Object.entries(daemonSet.spec.template.metadata.labels).filter(([key]) => key in daemonSet.spec.selector.matchLabels)),
    );
  });

  test('the config names the cluster and holds no AWS settings', () => {
    const config = parse(byKind(manifests, 'ConfigMap').data['config.yaml']);
    expect(config.enrichment.kubernetes.clusterName).toBe('prod-eu');
    expect(JSON.stringify(manifests)).not.toMatch(/AWS_ACCESS_KEY|AWS_SECRET|aws_secret|eks.amazonaws.com\/role-arn/i);
  });

  test('RBAC is read-only', () => {
    const verbs = byKind(manifests, 'ClusterRole').rules.flatMap((rule: any) => rule.verbs);
    expect(new Set(verbs)).toEqual(new Set(['get', 'list', 'watch']));
  });

  test('createNamespace: false leaves the namespace to another chart', () => {
    expect(byKind(render({ createNamespace: false }), 'Namespace')).toBeUndefined();
  });
});
