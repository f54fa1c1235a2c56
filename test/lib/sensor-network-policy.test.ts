/**
 * Who can reach a sensor's node receiver, decided over the manifest the sensor stack applies (the synthesized
 * CloudFormation template's Kubernetes resource) by a NetworkPolicy evaluator that is first checked against the
 * Kubernetes documentation's own examples.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { App as Cdk8sApp } from 'cdk8s';
import { SensorChart, type SensorChartProps } from '../../lib/charts/sensor-chart';
import { SensorStack } from '../../lib/sensor-stack';
import { isIngressAllowed, type Connection, type NetworkPolicy, type Pod } from '../support/network-policy-evaluator';

describe('the NetworkPolicy evaluator agrees with the Kubernetes documentation', () => {
  // The documentation's example: role=db pods admit TCP 6379 from 172.17.0.0/16 except 172.17.1.0/24, from pods of
  // namespaces labelled project=myproject, and from role=frontend pods of the policy's namespace.
  const docsExample: NetworkPolicy = {
    kind: 'NetworkPolicy',
    metadata: { name: 'test-network-policy', namespace: 'default' },
    spec: {
      podSelector: { matchLabels: { role: 'db' } },
      policyTypes: ['Ingress'],
      ingress: [{
        from: [
          { ipBlock: { cidr: '172.17.0.0/16', except: ['172.17.1.0/24'] } },
          { namespaceSelector: { matchLabels: { project: 'myproject' } } },
          { podSelector: { matchLabels: { role: 'frontend' } } },
        ],
        ports: [{ protocol: 'TCP', port: 6379 }],
      }],
    },
  };
  const db: Pod = { namespace: 'default', labels: { role: 'db' }, node: 'n1', ip: '10.0.0.5' };
  const pod = (namespace: string, labels: Record<string, string>, ip = '10.0.1.9'): Connection['source'] => ({ pod: { namespace, labels, node: 'n2', ip } });
  const namespaces = { myproject: { project: 'myproject' }, other: {} };
  const allowed = (source: Connection['source'], port = 6379, policies = [docsExample]) => isIngressAllowed(policies, { source, destination: db, port }, namespaces);

  test('the example\'s three peers are alternatives; port and protocol must match', () => {
    expect(allowed({ external: '172.17.5.5' })).toBe(true);
    expect(allowed({ external: '172.17.1.5' })).toBe(false); // in the except range
    expect(allowed(pod('myproject', {}))).toBe(true);
    expect(allowed(pod('default', { role: 'frontend' }))).toBe(true);
    expect(allowed(pod('other', { role: 'frontend' }))).toBe(false); // a podSelector alone means the policy's namespace
    expect(allowed(pod('default', { role: 'frontend' }), 5432)).toBe(false);
    expect(isIngressAllowed([docsExample], { source: pod('default', { role: 'frontend' }), destination: db, port: 6379, protocol: 'UDP' }, namespaces)).toBe(false);
  });

  test('namespaceSelector and podSelector in one peer mean both; in two peers, either', () => {
    const both: NetworkPolicy = { ...docsExample, spec: { ...docsExample.spec, ingress: [{ from: [{ namespaceSelector: { matchLabels: { user: 'alice' } }, podSelector: { matchLabels: { role: 'client' } } }] }] } };
    const either: NetworkPolicy = { ...docsExample, spec: { ...docsExample.spec, ingress: [{ from: [{ namespaceSelector: { matchLabels: { user: 'alice' } } }, { podSelector: { matchLabels: { role: 'client' } } }] }] } };
    const ns = { alice: { user: 'alice' } };
    const conn = (source: Connection['source']): Connection => ({ source, destination: db, port: 80 });
    expect(isIngressAllowed([both], conn(pod('alice', { role: 'client' })), ns)).toBe(true);
    expect(isIngressAllowed([both], conn(pod('alice', {})), ns)).toBe(false);
    expect(isIngressAllowed([either], conn(pod('alice', {})), ns)).toBe(true);
    expect(isIngressAllowed([either], conn(pod('default', { role: 'client' })), ns)).toBe(true);
  });

  test('an unselected pod is not isolated; a selecting policy without rules denies all but its own node', () => {
    const denyAll: NetworkPolicy = { kind: 'NetworkPolicy', metadata: { name: 'default-deny-ingress', namespace: 'default' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } };
    expect(isIngressAllowed([denyAll], { source: { external: '10.9.9.9' }, destination: { ...db, namespace: 'elsewhere' }, port: 1 })).toBe(true);
    expect(isIngressAllowed([denyAll], { source: pod('default', {}), destination: db, port: 1 })).toBe(false);
    expect(isIngressAllowed([denyAll], { source: { node: 'n1', ip: '10.0.0.1' }, destination: db, port: 1 })).toBe(true);
    expect(isIngressAllowed([denyAll], { source: { node: 'n2', ip: '10.0.0.2' }, destination: db, port: 1 })).toBe(false);
  });
});

describe('the sensor\'s node receiver, as the sensor stack deploys it', () => {
  const stack = new SensorStack(new App(), 'Sensor', {
    env: { account: '444455556666', region: 'eu-west-1' },
    cluster: { existingClusterName: 'workloads', kubernetesVersion: '1.34' },
    gatewayEndpoint: 'https://vpce-0123.example.internal:4318',
    gatewayCredentials: {
      tokenSecretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:SensorToken-workloads-AbCdEf',
      caSecretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:GatewayCa-GhIjKl',
    },
    image: 'public.ecr.aws/example/sightline:1.0.0',
  });
  const resource = Object.values(Template.fromStack(stack).findResources('Custom::AWSCDK-EKS-KubernetesResource'))[0] as any;
  const manifest: any[] = JSON.parse(resource.Properties.Manifest);
  const policiesOf = (objects: any[]): NetworkPolicy[] => objects.filter((object) => object.kind === 'NetworkPolicy');
  const sensorOf = (objects: any[]): Pod => {
    const daemonSet = objects.find((object) => object.kind === 'DaemonSet');
    const ports = daemonSet.spec.template.spec.containers[0].ports;
    return {
      namespace: daemonSet.metadata.namespace,
      labels: daemonSet.spec.template.metadata.labels,
      node: 'node-a',
      ip: '10.0.12.34',
      namedPorts: Object.fromEntries(ports.map((port: any) => [port.name, port.containerPort])),
    };
  };
  const app = (namespace: string, node = 'node-a'): Connection['source'] => ({ pod: { namespace, labels: { app: 'checkout' }, node, ip: '10.0.12.80' } });
  const namespaces = { shop: {}, monitoring: {}, sightline: {} };
  const reach = (source: Connection['source'], port: number, objects = manifest) =>
    isIngressAllowed(policiesOf(objects), { source, destination: sensorOf(objects), port }, namespaces);

  test('apps in any namespace reach the OTLP port of the sensor pods, which the policy selects', () => {
    expect(policiesOf(manifest)).toHaveLength(1);
    expect(sensorOf(manifest).namedPorts).toEqual({ otlp: 4318, http: 9464 });
    expect(reach(app('shop'), 4318)).toBe(true);
    expect(reach(app('monitoring'), 4318)).toBe(true);
  });

  test('nothing from outside the cluster\'s pods: no VPC host, no peered network, no other node\'s host', () => {
    for (const outside of ['10.0.99.7', '172.31.4.4', '192.168.1.10', '203.0.113.9']) {
      expect([outside, reach({ external: outside }, 4318)]).toEqual([outside, false]);
      expect([outside, reach({ external: outside }, 9464)]).toEqual([outside, false]);
    }
    expect(reach({ node: 'node-b', ip: '10.0.13.1' }, 4318)).toBe(false);
  });

  test('the health port admits only its own node (the kubelet\'s probes), not pods, unless scrapers are named', () => {
    expect(reach({ node: 'node-a', ip: '10.0.12.1' }, 9464)).toBe(true);
    expect(reach(app('shop'), 9464)).toBe(false);
    expect(reach(app('monitoring'), 9464)).toBe(false);
    const scraped = chart({ metricsScrapers: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }] });
    expect(reach(app('monitoring'), 9464, scraped)).toBe(true);
    expect(reach(app('shop'), 9464, scraped)).toBe(false);
  });

  test('NetworkPolicy cannot say "this node only": a pod on another node is admitted too (the Service keeps apps on their own node, tokens narrow it)', () => {
    expect(reach(app('shop', 'node-b'), 4318)).toBe(true);
    const service = manifest.find((object) => object.kind === 'Service' && object.metadata.name === 'sightline-sensor-otlp');
    expect(service.spec.internalTrafficPolicy).toBe('Local');
  });

  test('nodeReceiverClients narrows the senders to labelled namespaces', () => {
    const narrowed = chart({ nodeReceiverClients: [{ namespaceSelector: { matchLabels: { 'sightline.dev/otlp': 'allowed' } } }] });
    const labelled = { ...namespaces, shop: { 'sightline.dev/otlp': 'allowed' } };
    const decide = (namespace: string) => isIngressAllowed(policiesOf(narrowed), { source: app(namespace), destination: sensorOf(narrowed), port: 4318 }, labelled);
    expect(decide('shop')).toBe(true);
    expect(decide('monitoring')).toBe(false);
  });

  function chart(props: Partial<SensorChartProps>): any[] {
    return new SensorChart(new Cdk8sApp(), 'sensor', {
      image: 'public.ecr.aws/example/sightline:1.0.0',
      gatewayEndpoint: 'https://gw:4318',
      gatewayCredentials: { kubernetes: { secretName: 'creds' } },
      ...props,
    }).toJson();
  }
});
