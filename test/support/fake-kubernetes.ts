/**
 * A fake Kubernetes API server on loopback, standing in for one tenant cluster: it serves the Sightline StatefulSet,
 * HPA and DaemonSet as the charts render them (stored with server defaults), authenticates EKS tokens the way the EKS
 * authenticator does (the presigned GetCallerIdentity URL, its signature recomputed for this cluster), authorizes with
 * the operator access chart's Role, admits patches through its ValidatingAdmissionPolicy (CEL evaluated), applies JSON
 * patches, and plays the controllers: pods are replaced one step per read, and pods of a bad image never get ready.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { App } from 'cdk8s';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';
import { decodeEksToken } from '../../control-plane/fleet/eks-token';
import { OPERATOR_KUBERNETES_GROUP, type WorkloadComponent } from '../../control-plane/contract';
import { OperatorAccessChart } from '../../lib/charts/operator-access-chart';
import { evaluateAdmission } from './admission-policy';
import { applyJsonPatch, JsonPatchError } from './json-patch';
import { serverUpdate, sightlineWorkloads } from './kubernetes-objects';

/** A session of an assumed role, as the fake STS handed it out. */
export interface IssuedSession {
  roleArn: string;
  sessionName: string;
  sourceIdentity: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

export interface FakeClusterOptions {
  clusterName: string;
  accountId: string;
  region: string;
  workloads: WorkloadComponent[];
  /** Image both workloads run at first. */
  image: string;
  releaseRepository: string;
  operatorRoleArn: string;
  /** Finds the session behind an access key (the fake STS). */
  sessions: (accessKeyId: string) => IssuedSession | undefined;
  /** Images whose pods crash-loop: never ready. */
  badImages: ReadonlySet<string>;
  nodes?: number;
}

interface Pod {
  image: string;
  ready: boolean;
}

interface Workload {
  object: any;
  pods: Pod[];
}

export interface ApiRequest {
  method: string;
  path: string;
  user?: string;
  status: number;
  message?: string;
}

const PATHS: Record<string, { component: WorkloadComponent; resource: string; group: string; version: string; autoscaler?: boolean }> = {
  '/apis/apps/v1/namespaces/sightline/statefulsets/sightline-gateway': { component: 'gateway', resource: 'statefulsets', group: 'apps', version: 'v1' },
  '/apis/apps/v1/namespaces/sightline/daemonsets/sightline-sensor': { component: 'sensor', resource: 'daemonsets', group: 'apps', version: 'v1' },
  '/apis/autoscaling/v2/namespaces/sightline/horizontalpodautoscalers/sightline-gateway': { component: 'gateway', resource: 'horizontalpodautoscalers', group: 'autoscaling', version: 'v2', autoscaler: true },
};

function status(code: number, reason: string, message: string): object {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

export class FakeCluster {
  readonly requests: ApiRequest[] = [];
  private readonly workloads = new Map<string, Workload>();
  private readonly autoscaler: any;
  private readonly chart: OperatorAccessChart;
  private readonly server: http.Server;
  /** Set to make the API unreachable (connections refused) while the cluster keeps its state. */
  private closed = false;
  /** The customer deleted the operator's access entry: its tokens no longer map to anyone. */
  private accessEntryRemoved = false;
  url = '';

  constructor(readonly options: FakeClusterOptions) {
    const stored = sightlineWorkloads(options.image, options.nodes ?? 3);
    if (options.workloads.includes('gateway')) {
      this.workloads.set('gateway', { object: stored.statefulSet, pods: this.podsOf(stored.statefulSet.spec.replicas, options.image) });
    }
    if (options.workloads.includes('sensor')) {
      this.workloads.set('sensor', { object: stored.daemonSet, pods: this.podsOf(options.nodes ?? 3, options.image) });
    }
    this.autoscaler = stored.autoscaler;
    this.chart = new OperatorAccessChart(new App(), 'access', { releaseRepository: options.releaseRepository, workloads: options.workloads });
    this.server = http.createServer((request, response) => {
      this.handle(request, response).catch((error) => {
        response.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify(status(500, 'InternalError', String(error))));
      });
    });
  }

  private podsOf(count: number, image: string): Pod[] {
    return Array.from({ length: count }, () => ({ image, ready: !this.options.badImages.has(image) }));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Refuse every connection from now on, as a cluster whose API went away. */
  goDark(): void {
    this.closed = true;
    this.server.closeAllConnections();
  }

  /** `aws eks delete-access-entry` for the operator role. */
  removeAccessEntry(): void {
    this.accessEntryRemoved = true;
  }

  /** Image of the Sightline container of a workload, and of each of its pods. */
  imageOf(component: WorkloadComponent): { template: string; pods: string[]; ready: number } {
    const workload = this.workloads.get(component)!;
    return { template: workload.object.spec.template.spec.containers[0].image, pods: workload.pods.map((pod) => pod.image), ready: workload.pods.filter((pod) => pod.ready).length };
  }

  get autoscalerBounds(): { minReplicas: number; maxReplicas: number } {
    return { minReplicas: this.autoscaler.spec.minReplicas, maxReplicas: this.autoscaler.spec.maxReplicas };
  }

  /** The pods run by the current template, and whether they are ready (every pod ready: true). */
  healthy(component: WorkloadComponent): boolean {
    const workload = this.workloads.get(component);
    return workload === undefined || workload.pods.every((pod) => pod.ready);
  }

  /** The EKS authenticator: who signed the token, if it was made for this cluster. */
  private async authenticate(header: string | undefined): Promise<{ username: string; groups: string[] } | undefined> {
    if (header === undefined || !header.startsWith('Bearer ')) return undefined;
    let url: URL;
    try {
      url = decodeEksToken(header.slice('Bearer '.length));
    } catch {
      return undefined;
    }
    const query = url.searchParams;
    if (url.hostname !== `sts.${this.options.region}.amazonaws.com` || query.get('Action') !== 'GetCallerIdentity') return undefined;
    if (!(query.get('X-Amz-SignedHeaders') ?? '').split(';').includes('x-k8s-aws-id') || Number(query.get('X-Amz-Expires')) > 60) return undefined;
    const accessKeyId = (query.get('X-Amz-Credential') ?? '').split('/')[0];
    const session = this.options.sessions(accessKeyId);
    if (session === undefined) return undefined;
    // Recompute the signature for this cluster's name: a token made for another cluster does not verify here.
    const amzDate = query.get('X-Amz-Date')!;
    const signingDate = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
    const signer = new SignatureV4({ credentials: session, region: this.options.region, service: 'sts', sha256: Hash.bind(null, 'sha256') });
    const expected = await signer.presign({
      method: 'GET', protocol: 'https:', hostname: url.hostname, path: '/', query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host: url.hostname, 'x-k8s-aws-id': this.options.clusterName },
    }, { expiresIn: Number(query.get('X-Amz-Expires')), signingDate });
    if (expected.query?.['X-Amz-Signature'] !== query.get('X-Amz-Signature')) return undefined;
    // The access entry: the operator role, and only it, maps to the operator group.
    if (session.roleArn !== this.options.operatorRoleArn || this.accessEntryRemoved) return undefined;
    const [, , , , account, resource] = session.roleArn.split(':');
    return { username: `arn:aws:sts::${account}:assumed-role/${resource.split('/')[1]}/${session.sessionName}`, groups: [OPERATOR_KUBERNETES_GROUP, 'system:authenticated'] };
  }

  /** RBAC with the chart's Role: the verb on the resource (or subresource) by name. */
  private authorized(verb: string, group: string, resource: string, name: string): boolean {
    return this.chart.rules.some((rule) => (rule.apiGroups ?? []).includes(group) && (rule.resources ?? []).includes(resource)
      && (rule.verbs ?? []).includes(verb) && (rule.resourceNames === undefined || rule.resourceNames.includes(name)));
  }

  /** The controllers' work between two reads: one step of the rolling update, and the status that follows. */
  private reconcile(component: WorkloadComponent): void {
    const workload = this.workloads.get(component)!;
    const image = workload.object.spec.template.spec.containers[0].image;
    const replace = (pod: Pod) => Object.assign(pod, { image, ready: !this.options.badImages.has(image) });
    if (component === 'gateway') {
      // StatefulSet RollingUpdate with Parallel pod management: from the highest ordinal down, one pod at a time,
      // waiting while an updated pod is not ready.
      for (let ordinal = workload.pods.length - 1; ordinal >= 0; ordinal -= 1) {
        const pod = workload.pods[ordinal];
        if (pod.image !== image) {
          replace(pod);
          break;
        }
        if (!pod.ready) break;
      }
    } else {
      // DaemonSet RollingUpdate: old pods that are unavailable go at once; others within maxUnavailable (10%, rounded up).
      const maxUnavailable = Math.max(1, Math.ceil(workload.pods.length * 0.1));
      workload.pods.filter((pod) => pod.image !== image && !pod.ready).forEach(replace);
      let budget = maxUnavailable - workload.pods.filter((pod) => !pod.ready).length;
      for (const pod of workload.pods.filter((candidate) => candidate.image !== image)) {
        if (budget <= 0) break;
        replace(pod);
        budget -= pod.ready ? 0 : 1;
      }
    }
    const ready = workload.pods.filter((pod) => pod.ready).length;
    const updated = workload.pods.filter((pod) => pod.image === image).length;
    const object = workload.object;
    object.status = component === 'gateway'
      ? { ...object.status, observedGeneration: object.metadata.generation, replicas: workload.pods.length, readyReplicas: ready, availableReplicas: ready, updatedReplicas: updated, currentReplicas: workload.pods.length - updated }
      : { ...object.status, observedGeneration: object.metadata.generation, desiredNumberScheduled: workload.pods.length, numberReady: ready, numberAvailable: ready, updatedNumberScheduled: updated, numberUnavailable: workload.pods.length - ready };
  }

  private async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const reply = (code: number, body: object, user?: string) => {
      const message = (body as { message?: string }).message;
      this.requests.push({ method: request.method!, path: request.url!, user, status: code, message: code >= 400 ? message : undefined });
      response.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (this.closed) {
      request.socket.destroy();
      return;
    }
    const user = await this.authenticate(request.headers.authorization);
    if (user === undefined) return reply(401, status(401, 'Unauthorized', 'Unauthorized'));
    const path = (request.url ?? '').split('?')[0];
    const target = PATHS[path];
    const verb = request.method === 'GET' ? 'get' : request.method === 'PATCH' ? 'patch' : request.method!.toLowerCase();
    if (target === undefined || !this.workloads.has(target.component) || !this.authorized(verb, target.group, target.resource, path.split('/').pop()!)) {
      return reply(403, status(403, 'Forbidden', `${user.username} cannot ${verb} ${path}`), user.username);
    }
    const workload = this.workloads.get(target.component)!;
    const current = target.autoscaler ? this.autoscaler : workload.object;
    if (request.method === 'GET') {
      if (!target.autoscaler) this.reconcile(target.component);
      return reply(200, current, user.username);
    }
    if (request.method !== 'PATCH') return reply(405, status(405, 'MethodNotAllowed', request.method!), user.username);
    if (request.headers['content-type'] !== 'application/json-patch+json') {
      return reply(415, status(415, 'UnsupportedMediaType', `the fake server takes JSON patches, not ${request.headers['content-type']}`), user.username);
    }
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    let patched: any;
    try {
      patched = serverUpdate(current, applyJsonPatch(current, JSON.parse(Buffer.concat(chunks).toString('utf8'))));
    } catch (error) {
      if (error instanceof JsonPatchError) return reply(422, status(422, 'Invalid', error.message), user.username);
      throw error;
    }
    const [group, version] = current.apiVersion.split('/');
    const decision = evaluateAdmission(this.chart.toJson().find((object: any) => object.kind === 'ValidatingAdmissionPolicy'), {
      uid: `req-${this.requests.length}`, kind: { group, version, kind: current.kind }, resource: { group: target.group, version: target.version, resource: target.resource },
      name: current.metadata.name, namespace: 'sightline', operation: 'UPDATE', userInfo: { username: user.username, groups: user.groups },
      object: patched, oldObject: current, options: { kind: 'PatchOptions', apiVersion: 'meta.k8s.io/v1' },
    });
    if (!decision.allowed) {
      return reply(403, status(403, 'Forbidden', `${current.kind.toLowerCase()}s.${group} "${current.metadata.name}" is forbidden: ValidatingAdmissionPolicy 'sightline-operator' with binding 'sightline-operator' denied request: ${decision.messages.join('; ')}`), user.username);
    }
    if (target.autoscaler) Object.assign(this.autoscaler, patched);
    else workload.object = patched;
    return reply(200, patched, user.username);
  }
}
