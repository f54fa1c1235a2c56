/**
 * Decides whether Kubernetes NetworkPolicies (networking.k8s.io/v1) admit one ingress connection, by the semantics of
 * the Kubernetes documentation ("Network Policies"): a pod selected by no policy with Ingress is not isolated; an
 * isolated pod admits a connection only if some rule of some selecting policy matches both its port and its source;
 * peers are pod selectors (the policy's namespace), namespace selectors (pods of matching namespaces), both (AND), or
 * IP blocks; traffic from the pod's own node is always allowed.
 *
 * Hand-written because no maintained evaluator exists for JavaScript (the reference one, policy-assistant of
 * sigs.k8s.io/network-policy-api, is Go and needs a newer toolchain than this machine has). Its own test checks it
 * against the documentation's examples before it judges the charts.
 */
import * as ipaddr from 'ipaddr.js';

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }>;
}

export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

export interface NetworkPolicyPort {
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  port?: number | string;
  endPort?: number;
}

export interface NetworkPolicy {
  kind: 'NetworkPolicy';
  metadata: { name: string; namespace?: string };
  spec: {
    podSelector: LabelSelector;
    policyTypes?: Array<'Ingress' | 'Egress'>;
    ingress?: Array<{ from?: NetworkPolicyPeer[]; ports?: NetworkPolicyPort[] }>;
  };
}

export interface Pod {
  namespace: string;
  labels: Record<string, string>;
  node: string;
  ip: string;
  /** Named container ports, for policies that name a port. */
  namedPorts?: Record<string, number>;
}

/** Where a connection comes from: a pod of the cluster, a host process of a node, or an address outside the cluster. */
export type Source = { pod: Pod } | { node: string; ip: string } | { external: string };

export interface Connection {
  source: Source;
  destination: Pod;
  port: number;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
}

export function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (selector === undefined) return true;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const expression of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, expression.key);
    const values = expression.values ?? [];
    switch (expression.operator) {
      case 'In': if (!has || !values.includes(labels[expression.key])) return false; break;
      case 'NotIn': if (has && values.includes(labels[expression.key])) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
      default: throw new Error(`unknown selector operator ${(expression as { operator: string }).operator}`);
    }
  }
  return true;
}

function inCidr(ip: string, cidr: string): boolean {
  const address = ipaddr.parse(ip);
  const [range, bits] = ipaddr.parseCIDR(cidr);
  return address.kind() === range.kind() && address.match(range, bits);
}

function isIngressPolicy(policy: NetworkPolicy): boolean {
  // Without policyTypes a policy is always an Ingress policy (and Egress only if it has egress rules).
  return policy.spec.policyTypes === undefined || policy.spec.policyTypes.includes('Ingress');
}

function peerMatches(peer: NetworkPolicyPeer, policyNamespace: string, source: Source, namespaces: Record<string, Record<string, string>>): boolean {
  if (peer.ipBlock !== undefined) {
    const ip = 'pod' in source ? source.pod.ip : 'node' in source ? source.ip : source.external;
    return inCidr(ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((except) => inCidr(ip, except));
  }
  // Pod and namespace selectors select pods, and only pods: never a node's host processes or outside addresses.
  if (!('pod' in source)) return false;
  const pod = source.pod;
  if (peer.namespaceSelector !== undefined) {
    const namespaceLabels = { 'kubernetes.io/metadata.name': pod.namespace, ...namespaces[pod.namespace] };
    if (!selectorMatches(peer.namespaceSelector, namespaceLabels)) return false;
  } else if (pod.namespace !== policyNamespace) {
    return false;
  }
  return selectorMatches(peer.podSelector, pod.labels);
}

function portMatches(port: NetworkPolicyPort, connection: Connection): boolean {
  if ((port.protocol ?? 'TCP') !== (connection.protocol ?? 'TCP')) return false;
  if (port.port === undefined) return true;
  const number = typeof port.port === 'number' ? port.port : connection.destination.namedPorts?.[port.port];
  if (number === undefined) return false;
  return port.endPort === undefined ? connection.port === number : connection.port >= number && connection.port <= port.endPort;
}

/** `namespaces`: the labels of each namespace (`kubernetes.io/metadata.name` is added by the API server). */
export function isIngressAllowed(policies: NetworkPolicy[], connection: Connection, namespaces: Record<string, Record<string, string>> = {}): boolean {
  const destination = connection.destination;
  const selecting = policies.filter((policy) =>
    isIngressPolicy(policy) && (policy.metadata.namespace ?? 'default') === destination.namespace && selectorMatches(policy.spec.podSelector, destination.labels));
  if (selecting.length === 0) return true;
  if ('node' in connection.source && connection.source.node === destination.node) return true;
  return selecting.some((policy) => (policy.spec.ingress ?? []).some((rule) => {
    const portOk = rule.ports === undefined || rule.ports.length === 0 || rule.ports.some((port) => portMatches(port, connection));
    const fromOk = rule.from === undefined || rule.from.length === 0
      || rule.from.some((peer) => peerMatches(peer, policy.metadata.namespace ?? 'default', connection.source, namespaces));
    return portOk && fromOk;
  }));
}
