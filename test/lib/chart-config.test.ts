/**
 * The config.yaml of every synthesized chart against the real configuration schema and the real command line:
 * the file must load, mean what the chart intends, and agree with the pod's ports, mounts and arguments.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { App as Cdk8sApp, type Chart } from 'cdk8s';
import { parse } from 'yaml';
import { buildApp } from '../../bin/app';
import { GatewayChart, type GatewaySinks } from '../../lib/charts/gateway-chart';
import { SensorChart } from '../../lib/charts/sensor-chart';
import type { DataPlaneStack } from '../../lib/data-plane-stack';
import { SensorStack } from '../../lib/sensor-stack';
import { parseConfig } from '../../sensor/config/load-config';
import type { SightlineConfig } from '../../sensor/config/schema';

// bin/sightline.js (the launcher of the compiled CLI) sits beside the source and would win a plain import.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { buildCli } = require('../../bin/sightline.ts') as typeof import('../../bin/sightline');

const image = 'public.ecr.aws/example/sightline:1.0.0';
const byKind = (manifests: any[], kind: string): any => manifests.find((manifest) => manifest.kind === kind);

interface RenderedChart {
  manifests: any[];
  config: SightlineConfig;
  /** The config as written, before defaults. */
  document: any;
  container: any;
  pod: any;
  workload: any;
}

function rendered(manifests: any[]): RenderedChart {
  const configMap = byKind(manifests, 'ConfigMap');
  const document = parse(configMap.data['config.yaml']);
  const workload = byKind(manifests, 'DaemonSet') ?? byKind(manifests, 'StatefulSet');
  const pod = workload.spec.template.spec;
  return { manifests, document, config: parseConfig(document), container: pod.containers[0], pod, workload };
}

/** Parses the container's arguments with the real `sightline` command line, without running the command. */
function cliOptions(args: string[]): { command: string; options: Record<string, unknown> } {
  const program = buildCli().exitOverride();
  let seen: { command: string; options: Record<string, unknown> } | undefined;
  for (const command of program.commands) {
    command.exitOverride().action((options) => {
      seen = { command: command.name(), options };
    });
  }
  program.parse(['node', 'sightline', ...args]);
  if (seen === undefined) throw new Error(`no command ran for ${args.join(' ')}`);
  return seen;
}

/** Checks that the config file, the mounts, the ports and the probes of one pod agree. */
function expectPodMatchesConfig({ config, container, pod, manifests }: RenderedChart, command: 'sensor' | 'gateway'): void {
  const { options } = cliOptions(container.args);
  expect(cliOptions(container.args).command).toBe(command);
  // Everything but the file comes from the file, so nothing on the command line can contradict it.
  expect(options).toEqual({ config: '/etc/sightline/config.yaml' });
  const mounts = Object.fromEntries(container.volumeMounts.map((mount: any) => [mount.name, mount]));
  const volumes = Object.fromEntries(pod.volumes.map((volume: any) => [volume.name, volume]));
  expect(`${mounts.config.mountPath}/config.yaml`).toBe(options.config);
  expect(volumes.config.configMap.name).toBe(byKind(manifests, 'ConfigMap').metadata.name);
  expect(mounts.spool.mountPath).toBe(config.exporters.spool.dir);
  expect(mounts.spool.readOnly).toBeUndefined();

  const ports = Object.fromEntries(container.ports.map((port: any) => [port.name, port.containerPort]));
  expect(ports.otlp).toBe(config.receiver.port);
  expect(ports.http).toBe(config.server.httpPort);
  expect(config.receiver.enabled).toBe(true);
  // The process defaults to loopback; a pod must listen on its own address for probes, Services and host ports.
  expect(config.receiver.host).toBe('0.0.0.0');
  expect(config.server.host).toBe('0.0.0.0');
  expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
  expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
}

describe('sensor chart config.yaml', () => {
  const gatewayEndpoint = 'https://gateway.sightline.internal:4318';
  const gatewayCredentials = { kubernetes: { secretName: 'sightline-gateway-credentials' } };

  test('loads, ships to the gateway, spools on the host, names the cluster, takes the node from NODE_NAME', () => {
    const chart = rendered(new SensorChart(new Cdk8sApp(), 'sensor', { image, gatewayEndpoint, gatewayCredentials, clusterName: 'prod-eu' }).toJson());
    const { config, container, pod } = chart;
    expect(config.exporters.otlp).toMatchObject({ enabled: true, endpoint: gatewayEndpoint });
    expect(config.exporters.spool.dir).toBe('/var/lib/sightline/spool');
    const spoolVolume = pod.volumes.find((volume: any) => volume.name === 'spool');
    expect(spoolVolume.hostPath.path).toBe('/var/lib/sightline/spool');
    expect(config.enrichment.kubernetes).toMatchObject({ enabled: true, clusterName: 'prod-eu' });
    expect(config.enrichment.kubernetes.nodeName).toBeUndefined();
    expect(container.env).toContainEqual({ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
    expect(config.receiver.port).toBe(4318);
    expect(config.server.httpPort).toBe(9464);
    // The sensor holds no storage sink: the gateway alone writes to AWS.
    for (const sink of ['s3', 'timestream', 'cloudwatch', 'file'] as const) expect(config.exporters[sink].enabled).toBe(false);
    expectPodMatchesConfig(chart, 'sensor');
    // No port on the node's address: apps reach their node's sensor through the node-local Service.
    expect(container.ports.find((port: any) => port.name === 'otlp').hostPort).toBeUndefined();
  });

  test('the gateway is verified and authenticated with files the config names, mounted from the Secret', () => {
    const chart = rendered(new SensorChart(new Cdk8sApp(), 'sensor', { image, gatewayEndpoint, gatewayCredentials }).toJson());
    const { tls, auth } = chart.config.exporters.otlp;
    expect(tls).toEqual({ caFile: '/etc/sightline-gateway/ca.crt', serverName: 'sightline-gateway.sightline.svc' });
    expect(auth).toEqual({ tokenFile: '/etc/sightline-gateway/token' });
    const mount = chart.container.volumeMounts.find((candidate: any) => candidate.mountPath === '/etc/sightline-gateway');
    expect(mount.readOnly).toBe(true);
    expect(chart.pod.volumes.find((volume: any) => volume.name === mount.name).secret).toEqual({ secretName: 'sightline-gateway-credentials', defaultMode: 0o400 });
    // Nothing secret is in the ConfigMap: only paths.
    expect(JSON.stringify(byKind(chart.manifests, 'ConfigMap').data)).not.toMatch(/BEGIN|token:\s*[A-Za-z0-9]{16}/);
  });

  test('a custom host spool path keeps the container side the config names', () => {
    const chart = rendered(new SensorChart(new Cdk8sApp(), 'sensor', {
      image, gatewayEndpoint, gatewayCredentials, spoolHostPath: '/mnt/data/sightline',
    }).toJson());
    expect(chart.pod.volumes.find((volume: any) => volume.name === 'spool').hostPath.path).toBe('/mnt/data/sightline');
    expect(chart.config.enrichment.kubernetes.clusterName).toBeUndefined();
    expectPodMatchesConfig(chart, 'sensor');
  });

  test('extra configuration is merged under the chart settings and validated at synth', () => {
    const chart = rendered(new SensorChart(new Cdk8sApp(), 'sensor', {
      image,
      gatewayEndpoint,
      gatewayCredentials,
      extraConfig: {
        privacy: { obfuscation: { requestPrompts: true } },
        exporters: { otlp: { endpoint: 'https://elsewhere:4318', timeoutMs: 2500 }, batching: { maxBatch: 64 } },
      },
    }).toJson());
    expect(chart.config.privacy.obfuscation.requestPrompts).toBe(true);
    expect(chart.config.exporters.otlp).toMatchObject({ endpoint: gatewayEndpoint, timeoutMs: 2500 });
    expect(chart.config.exporters.batching.maxBatch).toBe(64);
    expect(() => new SensorChart(new Cdk8sApp(), 'sensor', { image, gatewayEndpoint, gatewayCredentials, extraConfig: { exporter: {} } as never }))
      .toThrow(/the sensor chart's config.yaml is invalid:\n {2}- exporter: unknown key/);
  });
});

describe('gateway chart config.yaml', () => {
  const sinks: GatewaySinks = { region: 'eu-west-1', spanBucketName: 'sightline-spans', timestreamDatabaseName: 'sightline', slaMs: 1200 };
  const credentials = { kubernetes: { tlsSecretName: 'sightline-gateway-tls', clientTokensSecretName: 'sightline-gateway-client-tokens' } };

  test.each([
    ['with Timestream', sinks],
    ['CloudWatch-only', { ...sinks, timestreamDatabaseName: undefined }],
  ])('%s: loads and writes to the sinks of the data plane', (_, chartSinks) => {
    const chart = rendered(new GatewayChart(new Cdk8sApp(), 'gateway', { image, sinks: chartSinks, credentials }).toJson());
    const { config, workload } = chart;
    expect(config.exporters.s3).toMatchObject({ enabled: true, bucket: 'sightline-spans', prefix: '', region: 'eu-west-1' });
    if (chartSinks.timestreamDatabaseName === undefined) {
      expect(config.exporters.timestream.enabled).toBe(false);
    } else {
      expect(config.exporters.timestream).toMatchObject({ enabled: true, database: 'sightline', table: 'llm_calls', region: 'eu-west-1' });
    }
    expect(config.exporters.cloudwatch).toMatchObject({ enabled: true, namespace: 'Sightline', region: 'eu-west-1' });
    expect(config.exporters.otlp.enabled).toBe(false);
    expect(config.metrics.slaThresholdMs).toBe(1200);
    expect(config.receiver.port).toBe(4318);
    expect(config.server.httpPort).toBe(9464);
    expectPodMatchesConfig(chart, 'gateway');

    // All sinks spooling at once fit the replica's volume (a full disk would fail spool writes), and use most of it.
    const claim = workload.spec.volumeClaimTemplates.find((template: any) => template.metadata.name === 'spool');
    const volumeBytes = Number(claim.spec.resources.requests.storage.replace(/Gi$/, '')) * 1024 ** 3;
    const sinkCount = ['s3', 'timestream', 'cloudwatch'].filter((sink) => (config.exporters as any)[sink].enabled).length;
    expect(sinkCount * config.exporters.spool.maxBytes).toBeLessThanOrEqual(volumeBytes);
    expect(sinkCount * config.exporters.spool.maxBytes).toBeGreaterThan(0.8 * volumeBytes);

    const service = byKind(chart.manifests, 'Service');
    expect(service.spec.ports.find((port: any) => port.name === 'otlp')).toMatchObject({ port: config.receiver.port, targetPort: 'otlp' });
  });
});

describe('config.yaml of the charts inside every topology', () => {
  const configOf = (chart: Chart): any => parse(byKind(chart.toJson(), 'ConfigMap').data['config.yaml']);

  test.each([
    ['all-in-one, Timestream on', { 'sightline:image': image }],
    ['all-in-one, CloudWatch-only', { 'sightline:image': image, 'sightline:timestream': 'false' }],
    ['data-plane pinned to an account, CloudWatch-only', {
      'sightline:image': image, 'sightline:topology': 'data-plane', 'sightline:dataPlaneAccount': '111122223333',
      'sightline:region': 'eu-west-1', 'sightline:timestream': 'false', 'sightline:slaMs': '800',
    }],
  ])('%s: the gateway writes to the stack\'s own bucket, table and namespace', (_, context) => {
    const app = buildApp(new App({ context }));
    const dataPlane = app.node.findChild('SightlineDataPlane') as DataPlaneStack;
    const document = configOf(dataPlane.gateway.chart);
    const config = parseConfig(document);
    const resolve = (value: unknown) => dataPlane.resolve(value);

    expect(resolve(config.exporters.s3.bucket)).toEqual(resolve(dataPlane.spans.bucket.bucketName));
    expect(resolve(config.exporters.s3.region)).toEqual(resolve(dataPlane.region));
    expect(config.exporters.s3.prefix).toBe('');
    expect(config.exporters.cloudwatch).toMatchObject({ enabled: true, namespace: 'Sightline' });
    expect(resolve(config.exporters.cloudwatch.region)).toEqual(resolve(dataPlane.region));
    expect(config.metrics.slaThresholdMs).toBe(Number(context['sightline:slaMs' as keyof typeof context] ?? 1000));
    if (dataPlane.metricStore === undefined) {
      expect(document.exporters.timestream).toBeUndefined();
      expect(config.exporters.timestream.enabled).toBe(false);
    } else {
      expect(config.exporters.timestream).toMatchObject({ enabled: true, table: 'llm_calls' });
      expect(resolve(config.exporters.timestream.database)).toEqual(resolve(dataPlane.metricStore.databaseName));
      expect(resolve(dataPlane.metricStore.tables.llmCalls.tableName)).toBe(config.exporters.timestream.table);
    }
    if (context['sightline:region' as keyof typeof context] !== undefined) expect(config.exporters.s3.region).toBe('eu-west-1');

    const sensorStack = app.node.children.find((child): child is SensorStack => child instanceof SensorStack);
    expect(sensorStack !== undefined).toBe(context['sightline:topology' as keyof typeof context] === undefined);
    if (sensorStack !== undefined) {
      const sensor = parseConfig(configOf(sensorStack.sensor.chart));
      expect(sensor.exporters.otlp).toMatchObject({ enabled: true, endpoint: dataPlane.gateway.chart.inClusterEndpoint });
      expect(sensorStack.resolve(sensor.enrichment.kubernetes.clusterName)).toEqual(sensorStack.resolve(dataPlane.gateway.cluster.clusterName));
    }
  });

  test('sensor topology: the applied manifest carries a config that loads and points at the given gateway', () => {
    const app = buildApp(new App({ context: {
      'sightline:image': image, 'sightline:topology': 'sensor', 'sightline:clusterName': 'workloads',
      'sightline:gatewayEndpoint': 'https://vpce-0abc.vpce-svc-0123.eu-west-1.vpce.amazonaws.com:4318',
      'sightline:gatewayTokenSecretArn': 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:SensorToken-workloads-AbCdEf',
      'sightline:gatewayCaSecretArn': 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:GatewayCa-GhIjKl',
    } }));
    const template = Template.fromStack(app.node.findChild('SightlineSensor-workloads') as Stack);
    const resource = Object.values(template.findResources('Custom::AWSCDK-EKS-KubernetesResource'))[0] as any;
    const chart = rendered(JSON.parse(resource.Properties.Manifest));
    expect(chart.config.exporters.otlp).toMatchObject({ enabled: true, endpoint: 'https://vpce-0abc.vpce-svc-0123.eu-west-1.vpce.amazonaws.com:4318' });
    expect(chart.config.enrichment.kubernetes.clusterName).toBe('workloads');
    expect(chart.config.exporters.spool.dir).toBe('/var/lib/sightline/spool');
    expectPodMatchesConfig(chart, 'sensor');
  });
});
