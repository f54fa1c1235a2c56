import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import type { IRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import type { IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import type { IIoK8sApiRbacV1PolicyRule as PolicyRule } from 'kubernetes-models/rbac.authorization.k8s.io/v1/PolicyRule';
import type { IValidatingAdmissionPolicy } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy';
import type { IValidatingAdmissionPolicyBinding } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding';
import { OPERATOR_KUBERNETES_GROUP, SIGHTLINE_NAMESPACE, SIGHTLINE_WORKLOADS, type WorkloadComponent } from '../../control-plane/contract';
import { defineKubeObject } from './kube-object';
import { operatorAdmissionRules } from './operator-admission-policy';

/** Name of the Role, its binding, the admission policy and its binding. */
export const OPERATOR_ACCESS_NAME = 'sightline-operator';

export interface OperatorAccessChartProps {
  /** Image repository the operator may roll out from (by digest only), e.g. `public.ecr.aws/acme/sightline`. */
  readonly releaseRepository: string;
  /** Sightline workloads in this cluster: `gateway` (data plane), `sensor` (workload clusters), or both (all-in-one). */
  readonly workloads: readonly WorkloadComponent[];
  /**
   * Highest replica count or HPA maximum the operator may set.
   * @default 50
   */
  readonly maxReplicas?: number;
  /**
   * Namespace of the Sightline workloads.
   * @default 'sightline'
   */
  readonly namespace?: string;
  /**
   * Kubernetes group of the operator's EKS access entry.
   * @default 'sightline-operators'
   */
  readonly group?: string;
}

const labels = { 'app.kubernetes.io/name': 'sightline', 'app.kubernetes.io/component': 'operator-access', 'app.kubernetes.io/part-of': 'sightline' };

/**
 * What the vendor's operator may do inside a cluster: a namespaced Role (read and patch the named Sightline workloads,
 * nothing else, nothing cluster-wide) bound to the operator's group, and a ValidatingAdmissionPolicy that narrows a
 * patch to images by digest, replicas, HPA bounds and resources. Usable on its own (`cdk8s synth`) too.
 */
export class OperatorAccessChart extends Chart {
  readonly namespaceName: string;
  readonly rules: PolicyRule[];

  constructor(scope: Construct, id: string, props: OperatorAccessChartProps) {
    super(scope, id);
    const namespace = props.namespace ?? SIGHTLINE_NAMESPACE;
    const group = props.group ?? OPERATOR_KUBERNETES_GROUP;
    this.namespaceName = namespace;
    const { gateway, sensor } = SIGHTLINE_WORKLOADS;
    const workloads = new Set(props.workloads);

    // Named objects only: resourceNames holds for get and patch, and for list and watch by metadata.name.
    const read = ['get', 'list', 'watch'];
    this.rules = [
      ...(workloads.has('gateway') ? [
        { apiGroups: ['apps'], resources: ['statefulsets'], resourceNames: [gateway.name], verbs: [...read, 'patch'] },
        { apiGroups: ['apps'], resources: ['statefulsets/scale'], resourceNames: [gateway.name], verbs: ['get', 'patch'] },
        { apiGroups: ['autoscaling'], resources: ['horizontalpodautoscalers'], resourceNames: [gateway.name], verbs: [...read, 'patch'] },
      ] : []),
      ...(workloads.has('sensor') ? [
        { apiGroups: ['apps'], resources: ['daemonsets'], resourceNames: [sensor.name], verbs: [...read, 'patch'] },
      ] : []),
    ];
    defineKubeObject<IRole>(this, 'Role', {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: OPERATOR_ACCESS_NAME, namespace, labels },
      rules: this.rules,
    });
    defineKubeObject<IRoleBinding>(this, 'RoleBinding', {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: OPERATOR_ACCESS_NAME, namespace, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: OPERATOR_ACCESS_NAME },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: group }],
    });

    const rules = operatorAdmissionRules({
      releaseRepository: props.releaseRepository, workloads: props.workloads, maxReplicas: props.maxReplicas ?? 50, namespace, group,
    });
    defineKubeObject<IValidatingAdmissionPolicy>(this, 'AdmissionPolicy', {
      apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name: OPERATOR_ACCESS_NAME, labels },
      spec: {
        // If a rule cannot be evaluated, the request is refused.
        failurePolicy: 'Fail',
        // Every write the operator could make, in every namespace, whatever RBAC it is given by mistake later.
        matchConstraints: {
          // `*/*`: every resource and every subresource (the API server refuses it next to `*`).
          resourceRules: [{ apiGroups: ['*'], apiVersions: ['*'], resources: ['*/*'], operations: ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] }],
        },
        matchConditions: rules.matchConditions,
        variables: rules.variables,
        validations: rules.validations.map(({ expression, message }) => ({ expression, message, reason: 'Forbidden' })),
      },
    });
    defineKubeObject<IValidatingAdmissionPolicyBinding>(this, 'AdmissionPolicyBinding', {
      apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: OPERATOR_ACCESS_NAME, labels },
      spec: { policyName: OPERATOR_ACCESS_NAME, validationActions: ['Deny', 'Audit'] },
    });
  }
}
