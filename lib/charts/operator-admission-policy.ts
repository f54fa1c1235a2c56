/**
 * The ValidatingAdmissionPolicy that limits what the vendor's operator may change inside the cluster, beyond what its
 * RBAC Role lets it reach: container images (from the release repository, by digest), replica counts, HPA bounds and
 * container resources. Any other change (env, args, command, volumes, service account, config, network settings,
 * labels that policies select on) is refused, so a role that may patch a workload still cannot redirect spans.
 *
 * The rules are CEL. Kubernetes presents built-in objects to CEL as typed objects whose fields cannot be iterated, so
 * "everything else unchanged" is spelled out field by field; the field lists below are every field of the Kubernetes
 * API types (test/lib/operator-admission-policy.test.ts compares them with the API's type definitions).
 */
import { IMAGE_BY_DIGEST, OPERATOR_KUBERNETES_GROUP, SIGHTLINE_NAMESPACE, SIGHTLINE_WORKLOADS, type WorkloadComponent } from '../../control-plane/contract';

/** PodSpec fields the operator may not change: all but `containers` and `initContainers`, checked field by field. */
export const FIXED_POD_SPEC_FIELDS = [
  'activeDeadlineSeconds', 'affinity', 'automountServiceAccountToken', 'dnsConfig', 'dnsPolicy', 'enableServiceLinks',
  'ephemeralContainers', 'hostAliases', 'hostIPC', 'hostNetwork', 'hostPID', 'hostUsers', 'hostname', 'hostnameOverride',
  'imagePullSecrets', 'nodeName', 'nodeSelector', 'os', 'overhead', 'preemptionPolicy', 'priority',
  'priorityClassName', 'readinessGates', 'resourceClaims', 'resources', 'restartPolicy', 'runtimeClassName',
  'schedulerName', 'schedulingGates', 'securityContext', 'serviceAccount', 'serviceAccountName', 'setHostnameAsFQDN',
  'shareProcessNamespace', 'subdomain', 'terminationGracePeriodSeconds', 'tolerations', 'topologySpreadConstraints',
  'volumes', 'workloadRef',
] as const;

/** Container fields that may change: the image (checked against the release repository) and resources. */
export const MUTABLE_CONTAINER_FIELDS = ['image', 'resources'] as const;

/** Container fields the operator may not change. */
export const FIXED_CONTAINER_FIELDS = [
  'args', 'command', 'env', 'envFrom', 'imagePullPolicy', 'lifecycle', 'livenessProbe', 'name', 'ports',
  'readinessProbe', 'resizePolicy', 'restartPolicy', 'restartPolicyRules', 'securityContext', 'startupProbe', 'stdin',
  'stdinOnce', 'terminationMessagePath', 'terminationMessagePolicy', 'tty', 'volumeDevices', 'volumeMounts', 'workingDir',
] as const;

/** StatefulSet spec fields the operator may not change: all but `replicas` and the pod `template`. */
export const FIXED_STATEFUL_SET_SPEC_FIELDS = [
  'minReadySeconds', 'ordinals', 'persistentVolumeClaimRetentionPolicy', 'podManagementPolicy', 'revisionHistoryLimit',
  'selector', 'serviceName', 'updateStrategy', 'volumeClaimTemplates',
] as const;

/** DaemonSet spec fields the operator may not change: all but the pod `template`. */
export const FIXED_DAEMON_SET_SPEC_FIELDS = ['minReadySeconds', 'revisionHistoryLimit', 'selector', 'updateStrategy'] as const;

/** HorizontalPodAutoscaler (autoscaling/v2) spec fields the operator may not change: all but the two bounds. */
export const FIXED_AUTOSCALER_SPEC_FIELDS = ['behavior', 'metrics', 'scaleTargetRef'] as const;

/** Object metadata the operator may not change (names, uids and versions are immutable or set by the server). */
export const FIXED_METADATA_FIELDS = ['labels', 'ownerReferences', 'finalizers'] as const;

/** The DaemonSet controller's own annotation, bumped by the API server whenever the pod template changes. */
const SERVER_MANAGED_ANNOTATIONS = ['deprecated.daemonset.template.generation'];

/** A CEL string literal. */
export function celString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** `a.f` and `b.f` both absent, or both present and equal. */
function sameField(a: string, b: string, field: string): string {
  return `(has(${a}.${field}) ? has(${b}.${field}) && ${a}.${field} == ${b}.${field} : !has(${b}.${field}))`;
}

function allSame(a: string, b: string, fields: readonly string[]): string {
  return fields.map((field) => sameField(a, b, field)).join(' && ');
}

/** RE2 source matching exactly `<repository>@sha256:<64 hex>`. */
export function digestPattern(repository: string): string {
  if (!IMAGE_BY_DIGEST.test(`${repository}@sha256:${'0'.repeat(64)}`)) {
    throw new Error(`operator admission policy: "${repository}" is not an image repository such as public.ecr.aws/acme/sightline`);
  }
  return `^${repository.replace(/[.\\+*?^$()[\]{}|-]/g, (character) => `\\${character}`)}@sha256:[0-9a-f]{64}$`;
}

export interface OperatorAdmissionPolicyOptions {
  /** Repository the operator may roll images out from, by digest only. */
  readonly releaseRepository: string;
  /** Workloads in this cluster the operator may change. */
  readonly workloads: readonly WorkloadComponent[];
  /** Highest replica count or HPA maximum the operator may set. */
  readonly maxReplicas: number;
  /** Namespace of the workloads. */
  readonly namespace?: string;
  /** Kubernetes group the operator acts as. */
  readonly group?: string;
}

export interface CelValidation {
  readonly expression: string;
  readonly message: string;
}

export interface CelVariable {
  readonly name: string;
  readonly expression: string;
}

/** The policy's CEL, kept apart from the manifest so tests can evaluate it as rendered. */
export interface OperatorAdmissionRules {
  readonly matchConditions: Array<{ name: string; expression: string }>;
  readonly variables: CelVariable[];
  readonly validations: CelValidation[];
}

export function operatorAdmissionRules(options: OperatorAdmissionPolicyOptions): OperatorAdmissionRules {
  const namespace = options.namespace ?? SIGHTLINE_NAMESPACE;
  const group = options.group ?? OPERATOR_KUBERNETES_GROUP;
  const { gateway, sensor } = SIGHTLINE_WORKLOADS;
  const has = (component: WorkloadComponent) => options.workloads.includes(component);
  if (options.workloads.length === 0) throw new Error('operator admission policy: name at least one workload (gateway, sensor)');
  if (!Number.isInteger(options.maxReplicas) || options.maxReplicas < 1) {
    throw new Error(`operator admission policy: maxReplicas must be a whole number of at least 1, got ${options.maxReplicas}`);
  }
  const pattern = celString(digestPattern(options.releaseRepository));

  // The main resource, not a subresource: the API server leaves `subResource` out when there is none.
  const mainResource = "(!has(request.subResource) || request.subResource == '')";
  const target = (apiGroup: string, resource: string, name: string) =>
    `request.operation == 'UPDATE' && request.namespace == ${celString(namespace)} && request.resource.group == ${celString(apiGroup)} `
    + `&& request.resource.resource == ${celString(resource)} && request.name == ${celString(name)}`;
  const never = 'false';
  const variables: CelVariable[] = [
    { name: 'statefulSet', expression: has('gateway') ? `${target('apps', 'statefulsets', gateway.name)} && request.resource.version == 'v1' && ${mainResource}` : never },
    { name: 'scale', expression: has('gateway') ? `${target('apps', 'statefulsets', gateway.name)} && has(request.subResource) && request.subResource == 'scale'` : never },
    { name: 'autoscaler', expression: has('gateway') ? `${target('autoscaling', 'horizontalpodautoscalers', gateway.name)} && request.resource.version == 'v2' && ${mainResource}` : never },
    { name: 'daemonSet', expression: has('sensor') ? `${target('apps', 'daemonsets', sensor.name)} && request.resource.version == 'v1' && ${mainResource}` : never },
    { name: 'workload', expression: 'variables.statefulSet || variables.daemonSet' },
  ];

  const reachable = [
    has('gateway') ? `the gateway StatefulSet ${gateway.name} (apps/v1, and its scale) and its HorizontalPodAutoscaler (autoscaling/v2)` : undefined,
    has('sensor') ? `the sensor DaemonSet ${sensor.name} (apps/v1)` : undefined,
  ].filter(Boolean).join(' and ');
  const containers = 'object.spec.template.spec.containers';
  const oldContainers = 'oldObject.spec.template.spec.containers';
  const initContainers = 'object.spec.template.spec.initContainers';
  const oldInitContainers = 'oldObject.spec.template.spec.initContainers';
  const bothHaveInit = `has(${initContainers}) && has(${oldInitContainers})`;
  const serverManaged = `[${SERVER_MANAGED_ANNOTATIONS.map(celString).join(', ')}]`;
  const annotationsUnchanged = (a: string, b: string) =>
    `(has(${a}.metadata.annotations) ? ${a}.metadata.annotations : {}).all(k, k in ${serverManaged} `
    + `|| (has(${b}.metadata.annotations) && k in ${b}.metadata.annotations && ${b}.metadata.annotations[k] == ${a}.metadata.annotations[k]))`;

  const validations: CelValidation[] = [
    {
      expression: 'variables.statefulSet || variables.scale || variables.autoscaler || variables.daemonSet',
      message: `the Sightline operator may only update ${reachable} in namespace ${namespace}`,
    },
    {
      expression: `!(variables.workload || variables.autoscaler) || (${allSame('object.metadata', 'oldObject.metadata', FIXED_METADATA_FIELDS)} `
        + `&& ${annotationsUnchanged('object', 'oldObject')} && ${annotationsUnchanged('oldObject', 'object')})`,
      message: 'the Sightline operator may not change labels, annotations, owner references or finalizers',
    },
    {
      expression: `!variables.statefulSet || (${allSame('object.spec', 'oldObject.spec', FIXED_STATEFUL_SET_SPEC_FIELDS)})`,
      message: 'the Sightline operator may change only replicas and container images and resources of the StatefulSet',
    },
    {
      expression: `!variables.daemonSet || (${allSame('object.spec', 'oldObject.spec', FIXED_DAEMON_SET_SPEC_FIELDS)})`,
      message: 'the Sightline operator may change only container images and resources of the DaemonSet',
    },
    {
      expression: `!variables.workload || (${sameField('object.spec.template', 'oldObject.spec.template', 'metadata')} `
        + `&& ${allSame('object.spec.template.spec', 'oldObject.spec.template.spec', FIXED_POD_SPEC_FIELDS)})`,
      message: 'the Sightline operator may not change the pod template beyond container images and resources '
        + '(volumes, service account, security context, host settings, scheduling and pod labels stay as they are)',
    },
    {
      expression: `!variables.workload || (${containers}.size() == ${oldContainers}.size() && ${containers}.all(c, ${oldContainers}.exists(o, o.name == c.name `
        + `&& ${allSame('c', 'o', FIXED_CONTAINER_FIELDS)})))`,
      message: 'the Sightline operator may change only the image and resources of a container (env, args, command, ports, probes, mounts and security settings stay as they are)',
    },
    {
      // Init containers (the one that fetches credentials runs the release image too) follow the containers' rules.
      expression: `!variables.workload || (has(${initContainers}) ? has(${oldInitContainers}) && ${initContainers}.size() == ${oldInitContainers}.size() `
        + `&& ${initContainers}.all(c, ${oldInitContainers}.exists(o, o.name == c.name && ${allSame('c', 'o', FIXED_CONTAINER_FIELDS)})) : !has(${oldInitContainers}))`,
      message: 'the Sightline operator may change only the image and resources of an init container, and may not add or remove one',
    },
    {
      expression: `!variables.workload || (${containers}.all(c, ${oldContainers}.exists(o, o.name == c.name && o.image == c.image) || c.image.matches(${pattern})) `
        + `&& (!(${bothHaveInit}) || ${initContainers}.all(c, ${oldInitContainers}.exists(o, o.name == c.name && o.image == c.image) || c.image.matches(${pattern}))))`,
      message: `the Sightline operator may only set images from ${options.releaseRepository}, pinned by digest (${options.releaseRepository}@sha256:...)`,
    },
    {
      expression: `!variables.autoscaler || (${allSame('object.spec', 'oldObject.spec', FIXED_AUTOSCALER_SPEC_FIELDS)} `
        + `&& (has(object.spec.minReplicas) ? object.spec.minReplicas : 1) >= 1 && (has(object.spec.minReplicas) ? object.spec.minReplicas : 1) <= object.spec.maxReplicas `
        + `&& object.spec.maxReplicas <= ${options.maxReplicas})`,
      message: `the Sightline operator may change only the HorizontalPodAutoscaler's bounds, with 1 <= minReplicas <= maxReplicas <= ${options.maxReplicas}`,
    },
    {
      expression: `!(variables.statefulSet || variables.scale) || !has(object.spec.replicas) || object.spec.replicas <= ${options.maxReplicas}`,
      message: `the Sightline operator may set at most ${options.maxReplicas} replicas`,
    },
  ];

  return {
    // Customers, CI and controllers are never affected: the policy applies to the operator's group only.
    matchConditions: [{
      name: 'sightline-operator',
      expression: `has(request.userInfo.groups) && ${celString(group)} in request.userInfo.groups`,
    }],
    variables,
    validations,
  };
}
