import { App } from 'cdk8s';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { PriorityClass } from 'kubernetes-models/scheduling.k8s.io/v1/PriorityClass';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { Service } from 'kubernetes-models/v1/Service';
import { parse } from 'yaml';
import { SensorChart } from '../../lib/charts/sensor-chart';

const image = 'public.ecr.aws/example/sightline:1.2.3';
const gatewayEndpoint = 'https://gateway.sightline.internal:4318';
const gatewayCredentials = {
  secretsManager: {
    tokenSecretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:SensorToken-prod-eu-AbCdEf',
    caSecretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:GatewayCa-GhIjKl',
  },
};

function render(props: Partial<ConstructorParameters<typeof SensorChart>[2]> = {}): any[] {
  return new SensorChart(new App(), 'sensor', { image, gatewayEndpoint, gatewayCredentials, clusterName: 'prod-eu', ...props }).toJson();
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
      DaemonSet, ClusterRole, ClusterRoleBinding, ConfigMap, Namespace, ServiceAccount, PriorityClass, NetworkPolicy, Service,
    };
    expect(manifests.map((manifest) => manifest.kind).sort()).toEqual(Object.keys(models).sort());
    for (const manifest of manifests) expect(() => new models[manifest.kind](manifest).validate()).not.toThrow();
  });

  test('pods roll when the config changes (checksum annotation), and run only where the x86-64 image can', () => {
    const checksum = (rendered: any[]) => byKind(rendered, 'DaemonSet').spec.template.metadata.annotations['sightline.dev/config-sha256'];
    expect(checksum(manifests)).toMatch(/^[0-9a-f]{64}$/);
    expect(checksum(render())).toBe(checksum(manifests)); // same config, same pods
    expect(checksum(render({ gatewayEndpoint: 'https://other-gateway:4318' }))).not.toBe(checksum(manifests));
    expect(pod.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' });
  });

  test('the container runs the sensor mode from its config file, with the health port', () => {
    expect(container.image).toBe(image);
    expect(container.args).toEqual(['sensor', '--config', '/etc/sightline/config.yaml']);
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.ports).toEqual(expect.arrayContaining([
      expect.objectContaining({ name: 'otlp', containerPort: 4318 }),
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
    expect(Object.keys(volumes).sort()).toEqual(['btf', 'config', 'credentials', 'spool', 'tmp']);
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

  test('no port on the node: apps reach their own node\'s sensor through a node-local Service', () => {
    expect(container.ports.every((port: any) => port.hostPort === undefined)).toBe(true);
    expect(pod.hostNetwork).toBeUndefined();
    const service = byKind(manifests, 'Service');
    expect(service.metadata.name).toBe('sightline-sensor-otlp');
    expect(service.spec).toEqual({
      type: 'ClusterIP',
      selector: byKind(manifests, 'DaemonSet').spec.selector.matchLabels,
      internalTrafficPolicy: 'Local',
      ports: [{ name: 'otlp', port: 4318, targetPort: 'otlp', protocol: 'TCP' }],
    });
  });

  test('a NetworkPolicy admits OTLP from the cluster\'s pods only, and metrics from nobody but the node unless told', () => {
    const policy = byKind(manifests, 'NetworkPolicy');
    expect(policy.metadata.namespace).toBe('sightline');
    expect(policy.spec).toEqual({
      podSelector: { matchLabels: byKind(manifests, 'DaemonSet').spec.selector.matchLabels },
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ namespaceSelector: {} }], ports: [{ protocol: 'TCP', port: 4318 }] }],
    });
    const scraped = byKind(render({ metricsScrapers: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }] }), 'NetworkPolicy');
    expect(scraped.spec.ingress[1]).toEqual({ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ protocol: 'TCP', port: 9464 }] });
  });

  test('optional node receiver tokens: mounted from their Secret and required by the receiver', () => {
    const rendered = render({ nodeReceiverTokensSecret: 'sightline-node-tokens' });
    const config = parse(byKind(rendered, 'ConfigMap').data['config.yaml']);
    expect(config.receiver.auth).toEqual({ tokensDir: '/etc/sightline-node-tokens' });
    const spec = byKind(rendered, 'DaemonSet').spec.template.spec;
    expect(spec.volumes).toContainEqual({ name: 'node-tokens', secret: { secretName: 'sightline-node-tokens', defaultMode: 0o400 } });
    expect(spec.containers[0].volumeMounts).toContainEqual({ name: 'node-tokens', mountPath: '/etc/sightline-node-tokens', readOnly: true });
    expect(parse(byKind(manifests, 'ConfigMap').data['config.yaml']).receiver.auth).toBeUndefined();
  });

  test('the gateway token and CA are fetched from Secrets Manager by an unprivileged init container into memory, by a plan of ARNs', () => {
    const configMap = byKind(manifests, 'ConfigMap');
    const config = parse(configMap.data['config.yaml']);
    expect(config.exporters.otlp).toMatchObject({
      endpoint: gatewayEndpoint,
      tls: { caFile: '/run/sightline/credentials/ca.crt', serverName: 'sightline-gateway.sightline.svc' },
      auth: { tokenFile: '/run/sightline/credentials/token' },
    });
    expect(JSON.parse(configMap.data['credentials.json'])).toEqual({
      directories: [],
      files: [
        { secretId: gatewayCredentials.secretsManager.caSecretArn, path: '/run/sightline/credentials/ca.crt', versionStage: 'AWSCURRENT', optional: false },
        { secretId: gatewayCredentials.secretsManager.tokenSecretArn, path: '/run/sightline/credentials/token', versionStage: 'AWSCURRENT', optional: false },
      ],
    });
    const [init] = pod.initContainers;
    expect(init).toMatchObject({ name: 'credentials', image, args: ['credentials', '--plan', '/etc/sightline/credentials.json'] });
    expect(init.securityContext).toEqual({
      runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] },
    });
    expect(pod.volumes).toContainEqual({ name: 'credentials', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } });
    expect(container.volumeMounts).toContainEqual({ name: 'credentials', mountPath: '/run/sightline/credentials', readOnly: true });
    expect(init.volumeMounts).toContainEqual({ name: 'credentials', mountPath: '/run/sightline/credentials' });
  });

  test('refuses a plain http gateway endpoint', () => {
    expect(() => render({ gatewayEndpoint: 'http://gateway:4318' })).toThrow('sensor chart: gatewayEndpoint must be https://');
  });

  test('createNamespace: false leaves the namespace to another chart', () => {
    expect(byKind(render({ createNamespace: false }), 'Namespace')).toBeUndefined();
  });
});
