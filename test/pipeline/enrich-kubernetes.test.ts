import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { KubernetesMetadata } from '../../sensor/pipeline/enrich/kubernetes';
import { ProcessContextReader } from '../../sensor/pipeline/enrich/process';
import { SpanEnricher } from '../../sensor/pipeline/enrich/span-enricher';
import type { GenAiSpan } from '../../sensor/span/gen-ai-span';

const NODE = 'ip-10-0-1-23.eu-west-1.compute.internal';
const cid = (seed: string): string => seed.repeat(64).slice(0, 64);

function ownerRef(apiVersion: string, kind: string, name: string) {
  return { apiVersion, kind, name, uid: `${name}-uid`, controller: true, blockOwnerDeletion: true };
}

function pod(namespace: string, name: string, uid: string, owner: ReturnType<typeof ownerRef> | undefined, containerId: string, runtime = 'containerd') {
  return {
    metadata: {
      name,
      namespace,
      uid,
      resourceVersion: '48213',
      creationTimestamp: '2026-01-10T09:00:00Z',
      labels: { app: name.split('-')[0] },
      ...(owner ? { ownerReferences: [owner] } : {}),
    },
    spec: { nodeName: NODE, containers: [{ name: 'app', image: 'registry.example/app:1.2.3' }] },
    status: {
      phase: 'Running',
      podIP: '10.0.1.77',
      containerStatuses: [{
        name: 'app',
        ready: true,
        restartCount: 0,
        started: true,
        image: 'registry.example/app:1.2.3',
        imageID: 'registry.example/app@sha256:abc',
        containerID: `${runtime}://${containerId}`,
        state: { running: { startedAt: '2026-01-10T09:00:05Z' } },
      }],
    },
  };
}

const PODS_PAGE_1 = [
  pod('shop', 'checkout-7d9f8b6c5-x2x9q', 'uid-checkout', ownerRef('apps/v1', 'ReplicaSet', 'checkout-7d9f8b6c5'), cid('a')),
  pod('shop', 'cart-db-0', 'uid-db', ownerRef('apps/v1', 'StatefulSet', 'cart-db'), cid('b'), 'cri-o'),
  pod('kube-system', 'node-agent-abcde', 'uid-agent', ownerRef('apps/v1', 'DaemonSet', 'node-agent'), cid('c')),
];
const PODS_PAGE_2 = [
  pod('batch', 'nightly-report-28712345-q8w2l', 'uid-report', ownerRef('batch/v1', 'Job', 'nightly-report-28712345'), cid('d')),
  pod('batch', 'migrate-h7k2p', 'uid-migrate', ownerRef('batch/v1', 'Job', 'migrate'), cid('e')),
  pod('default', 'debug-shell', 'uid-debug', undefined, cid('f')),
  pod('payments', 'ledger-5c6d7e8f9-abcde', 'uid-ledger', ownerRef('apps/v1', 'ReplicaSet', 'ledger-5c6d7e8f9'), cid('9')),
];

const REPLICA_SET = {
  kind: 'ReplicaSet',
  apiVersion: 'apps/v1',
  metadata: {
    name: 'checkout-7d9f8b6c5',
    namespace: 'shop',
    uid: 'rs-uid',
    labels: { app: 'checkout', 'pod-template-hash': '7d9f8b6c5' },
    ownerReferences: [ownerRef('apps/v1', 'Deployment', 'checkout')],
  },
  spec: { replicas: 2, selector: { matchLabels: { app: 'checkout' } } },
  status: { replicas: 2, readyReplicas: 2 },
};

const JOB_FROM_CRONJOB = {
  kind: 'Job',
  apiVersion: 'batch/v1',
  metadata: { name: 'nightly-report-28712345', namespace: 'batch', uid: 'job-uid', ownerReferences: [ownerRef('batch/v1', 'CronJob', 'nightly-report')] },
  spec: { completions: 1, parallelism: 1 },
  status: { active: 1 },
};

const JOB_ALONE = {
  kind: 'Job',
  apiVersion: 'batch/v1',
  metadata: { name: 'migrate', namespace: 'batch', uid: 'job2-uid' },
  spec: { completions: 1 },
  status: { active: 1 },
};

const FORBIDDEN = {
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message: 'replicasets.apps "ledger-5c6d7e8f9" is forbidden: User "system:serviceaccount:sightline:sensor" cannot get resource "replicasets" in API group "apps" in the namespace "payments"',
  reason: 'Forbidden',
  details: { name: 'ledger-5c6d7e8f9', group: 'apps', kind: 'replicasets' },
  code: 403,
};

interface FakeApiServer {
  url: string;
  requests: URL[];
  authorizations: Array<string | undefined>;
  close(): Promise<void>;
}

async function startFakeApiServer(): Promise<FakeApiServer> {
  const requests: URL[] = [];
  const authorizations: Array<string | undefined> = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    requests.push(url);
    authorizations.push(req.headers.authorization);
    const reply = (status: number, body: unknown): void => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/api/v1/pods') {
      if (url.searchParams.get('fieldSelector') !== `spec.nodeName=${NODE}`) return reply(400, { kind: 'Status', code: 400, message: 'test server only answers node-scoped lists' });
      const second = url.searchParams.get('continue') === 'page-2';
      return reply(200, {
        kind: 'PodList',
        apiVersion: 'v1',
        metadata: { resourceVersion: '48213', ...(second ? {} : { continue: 'page-2', remainingItemCount: PODS_PAGE_2.length }) },
        items: second ? PODS_PAGE_2 : PODS_PAGE_1,
      });
    }
    if (url.pathname === '/apis/apps/v1/namespaces/shop/replicasets/checkout-7d9f8b6c5') return reply(200, REPLICA_SET);
    if (url.pathname === '/apis/apps/v1/namespaces/payments/replicasets/ledger-5c6d7e8f9') return reply(403, FORBIDDEN);
    if (url.pathname === '/apis/batch/v1/namespaces/batch/jobs/nightly-report-28712345') return reply(200, JOB_FROM_CRONJOB);
    if (url.pathname === '/apis/batch/v1/namespaces/batch/jobs/migrate') return reply(200, JOB_ALONE);
    return reply(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    authorizations,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function kubeConfigFor(server: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'fake', server, skipTLSVerify: true }],
    users: [{ name: 'sensor', token: 'test-token' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'sensor' }],
    currentContext: 'fake',
  });
  return kubeConfig;
}

function recordingLog() {
  const entries: Array<{ level: 'warn' | 'debug'; message: string }> = [];
  return {
    entries,
    warn: (message: string) => entries.push({ level: 'warn', message }),
    debug: (message: string) => entries.push({ level: 'debug', message }),
  };
}

function span(attributes: GenAiSpan['attributes'] = {}): GenAiSpan {
  return {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    name: 'chat gpt-4o',
    kind: 'client',
    startTimeUnixNano: 1n,
    endTimeUnixNano: 2n,
    attributes: { 'gen_ai.request.model': 'gpt-4o', 'server.address': 'api.openai.com', ...attributes },
    resource: {},
    status: { code: 'unset' },
    source: 'ebpf',
  };
}

describe('KubernetesMetadata against a fake API server', () => {
  let api: FakeApiServer;

  beforeEach(async () => {
    api = await startFakeApiServer();
  });
  afterEach(async () => {
    await api.close();
  });

  it('lists only this node\'s pods, follows pagination and resolves every owner chain', async () => {
    const log = recordingLog();
    const metadata = new KubernetesMetadata({ kubeConfig: kubeConfigFor(api.url), nodeName: NODE, clusterName: 'prod-eu', log });
    await metadata.refresh();

    const podLists = api.requests.filter((url) => url.pathname === '/api/v1/pods');
    expect(podLists).toHaveLength(2);
    for (const list of podLists) expect(list.searchParams.get('fieldSelector')).toBe(`spec.nodeName=${NODE}`);
    expect(podLists[1].searchParams.get('continue')).toBe('page-2');
    expect(api.requests.some((url) => url.pathname.startsWith('/api/v1/namespaces/'))).toBe(false);
    expect(new Set(api.authorizations)).toEqual(new Set(['Bearer test-token']));

    expect(metadata.podForContainer(cid('a'))).toEqual({
      podName: 'checkout-7d9f8b6c5-x2x9q',
      podUid: 'uid-checkout',
      namespace: 'shop',
      nodeName: NODE,
      containerName: 'app',
      controllerKind: 'ReplicaSet',
      controllerName: 'checkout-7d9f8b6c5',
      workloadName: 'checkout',
      workloadKind: 'Deployment',
    });
    expect(metadata.podForContainer(cid('b'))).toMatchObject({ workloadKind: 'StatefulSet', workloadName: 'cart-db' });
    expect(metadata.podForContainer(cid('c'))).toMatchObject({ workloadKind: 'DaemonSet', workloadName: 'node-agent', namespace: 'kube-system' });
    expect(metadata.podForContainer(cid('d'))).toMatchObject({
      workloadKind: 'CronJob', workloadName: 'nightly-report', controllerKind: 'Job', controllerName: 'nightly-report-28712345',
    });
    expect(metadata.podForContainer(cid('e'))).toMatchObject({ workloadKind: 'Job', workloadName: 'migrate' });
    expect(metadata.podForContainer(cid('e'))!.controllerKind).toBeUndefined();
    expect(metadata.podForContainer(cid('f'))).toMatchObject({ workloadKind: 'Pod', workloadName: 'debug-shell' });
    expect(metadata.podForUid('uid-db')).toMatchObject({ podName: 'cart-db-0' });

    // RBAC refused the ReplicaSet: the ReplicaSet stands in for the workload and one warning says why.
    expect(metadata.podForContainer(cid('9'))).toMatchObject({ workloadKind: 'ReplicaSet', workloadName: 'ledger-5c6d7e8f9' });
    const warnings = log.entries.filter((entry) => entry.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0].message).toContain('ReplicaSet payments/ledger-5c6d7e8f9');
    expect(warnings[0].message).toContain('403');
  });

  it('reads each owner once and re-lists without re-reading cached owners', async () => {
    const metadata = new KubernetesMetadata({ kubeConfig: kubeConfigFor(api.url), nodeName: NODE });
    await metadata.refresh();
    await metadata.refresh();
    const reads = api.requests.filter((url) => url.pathname.includes('/replicasets/checkout') || url.pathname.includes('/jobs/nightly'));
    expect(reads).toHaveLength(2);
    expect(api.requests.filter((url) => url.pathname === '/api/v1/pods')).toHaveLength(4);
  });

  it('warns once per outage and keeps the last pod list', async () => {
    const log = recordingLog();
    const metadata = new KubernetesMetadata({ kubeConfig: kubeConfigFor(api.url), nodeName: NODE, log });
    await metadata.refresh();
    await api.close();
    await metadata.refresh();
    await metadata.refresh();
    expect(metadata.podForContainer(cid('a'))).toMatchObject({ workloadName: 'checkout' });
    const listWarnings = log.entries.filter((entry) => entry.message.includes('listing pods'));
    expect(listWarnings.map((entry) => entry.level)).toEqual(['warn', 'debug']);
    api = await startFakeApiServer(); // for afterEach
  });

  it('is found through a kubeconfig file and NODE_NAME, and enriches a span end to end', async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'sightline-kube-'));
    try {
      const kubeconfigPath = path.join(home, 'kubeconfig');
      writeFileSync(kubeconfigPath, [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{name: fake, cluster: {server: "${api.url}"}}]`,
        'users: [{name: sensor, user: {token: file-token}}]',
        'contexts: [{name: fake, context: {cluster: fake, user: sensor}}]',
        'current-context: fake',
        '',
      ].join('\n'));
      const procRoot = path.join(home, 'proc');
      mkdirSync(path.join(procRoot, '777'), { recursive: true });
      symlinkSync('/usr/local/bin/node', path.join(procRoot, '777', 'exe'));
      writeFileSync(path.join(procRoot, '777', 'cmdline'), ['node', 'server.js', '--openai-api-key=sk-proj-abcdefghijklmnopqrstuvwx', ''].join('\0'));
      writeFileSync(path.join(procRoot, '777', 'comm'), 'node\n');
      writeFileSync(path.join(procRoot, '777', 'cgroup'), `0::/kubepods.slice/kubepods-burstable.slice/cri-containerd-${cid('a')}.scope\n`);

      const kubernetes = KubernetesMetadata.fromEnvironment({
        env: { KUBECONFIG: kubeconfigPath, NODE_NAME: NODE, SIGHTLINE_CLUSTER_NAME: 'prod-eu', HOME: home },
      });
      expect(kubernetes).toBeDefined();
      await kubernetes!.start();
      kubernetes!.stop();
      expect(api.authorizations).toContain('Bearer file-token');

      const enricher = new SpanEnricher({ processes: new ProcessContextReader({ procRoot }), kubernetes });
      const enriched = await enricher.enrich(span(), { pid: 777, comm: 'node' });
      expect(enriched.resource).toEqual({
        'process.pid': 777,
        'process.executable.name': 'node',
        'process.executable.path': '/usr/local/bin/node',
        'process.command_line': 'node server.js --openai-api-key=<redacted>',
        'container.id': cid('a'),
        'k8s.pod.name': 'checkout-7d9f8b6c5-x2x9q',
        'k8s.pod.uid': 'uid-checkout',
        'k8s.namespace.name': 'shop',
        'k8s.node.name': NODE,
        'k8s.container.name': 'app',
        'k8s.replicaset.name': 'checkout-7d9f8b6c5',
        'k8s.deployment.name': 'checkout',
        'k8s.cluster.name': 'prod-eu',
        'sightline.workload': 'checkout',
        'sightline.workload.kind': 'Deployment',
      });
      expect(enriched.attributes['sightline.client']).toBe('checkout');
      expect(enriched.attributes['sightline.server']).toBe('api.openai.com');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('without Kubernetes', () => {
  it('finds no cluster, logs no warning, and enriches with process context only', async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'sightline-nokube-'));
    try {
      const log = recordingLog();
      const kubernetes = KubernetesMetadata.fromEnvironment({ env: { HOME: home, KUBECONFIG: path.join(home, 'missing') }, log });
      expect(kubernetes).toBeUndefined();
      expect(log.entries.filter((entry) => entry.level === 'warn')).toEqual([]);

      const enricher = new SpanEnricher({ processes: new ProcessContextReader(), kubernetes });
      const enriched = await enricher.enrich(span(), { pid: process.pid });
      expect(enriched.resource['process.pid']).toBe(process.pid);
      expect(enriched.resource['process.executable.name']).toBe(path.basename(process.execPath));
      expect(Object.keys(enriched.resource).filter((key) => key.startsWith('k8s.') || key.startsWith('sightline.'))).toEqual([]);
      expect(enriched.attributes['sightline.client']).toBe(path.basename(process.execPath));
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('refuses to list the whole cluster when the node name is unknown', () => {
    const home = mkdtempSync(path.join(tmpdir(), 'sightline-nonode-'));
    try {
      writeFileSync(path.join(home, 'kubeconfig'), 'apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n');
      const log = recordingLog();
      expect(KubernetesMetadata.fromEnvironment({ env: { HOME: home, KUBECONFIG: path.join(home, 'kubeconfig') }, log })).toBeUndefined();
      expect(log.entries.some((entry) => entry.message.includes('NODE_NAME'))).toBe(true);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('uses the capture stage\'s comm when the process has already exited', async () => {
    const enricher = new SpanEnricher({ processes: new ProcessContextReader({ procRoot: '/nonexistent-proc' }) });
    const enriched = await enricher.enrich(span(), { pid: 31337, comm: 'curl' });
    expect(enriched.resource).toEqual({ 'process.pid': 31337, 'process.executable.name': 'curl' });
    expect(enriched.attributes['sightline.client']).toBe('curl');
  });
});
