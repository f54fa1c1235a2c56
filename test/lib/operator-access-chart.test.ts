import { App } from 'cdk8s';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ValidatingAdmissionPolicy } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy';
import { ValidatingAdmissionPolicyBinding } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding';
import { SIGHTLINE_WORKLOADS } from '../../control-plane/contract';
import { GATEWAY_WORKLOAD } from '../../lib/charts/gateway-chart';
import { OperatorAccessChart, type OperatorAccessChartProps } from '../../lib/charts/operator-access-chart';
import { SensorChart } from '../../lib/charts/sensor-chart';
import { policyProblems } from '../support/admission-policy';

const render = (props: Partial<OperatorAccessChartProps> = {}): any[] =>
  new OperatorAccessChart(new App(), 'access', { releaseRepository: 'public.ecr.aws/acme/sightline', workloads: ['gateway', 'sensor'], ...props }).toJson();

test('every object validates against the Kubernetes schema, and there is nothing cluster-wide but the admission policy', () => {
  const models: Record<string, new (data: any) => { validate(): void }> = { Role, RoleBinding, ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding };
  const manifests = render();
  expect(manifests.map((manifest) => manifest.kind).sort()).toEqual(Object.keys(models).sort());
  for (const manifest of manifests) expect(() => new models[manifest.kind](manifest).validate()).not.toThrow();
  // RBAC only in the namespace: no ClusterRole, no ClusterRoleBinding.
  for (const manifest of manifests.filter((object) => object.kind.startsWith('Role'))) expect(manifest.metadata.namespace).toBe('sightline');
});

test('the Role grants get/list/watch/patch on the named Sightline workloads, their scale and the HPA, and nothing else', () => {
  const role = render().find((manifest) => manifest.kind === 'Role');
  expect(role.rules).toEqual([
    { apiGroups: ['apps'], resources: ['statefulsets'], resourceNames: ['sightline-gateway'], verbs: ['get', 'list', 'watch', 'patch'] },
    { apiGroups: ['apps'], resources: ['statefulsets/scale'], resourceNames: ['sightline-gateway'], verbs: ['get', 'patch'] },
    { apiGroups: ['autoscaling'], resources: ['horizontalpodautoscalers'], resourceNames: ['sightline-gateway'], verbs: ['get', 'list', 'watch', 'patch'] },
    { apiGroups: ['apps'], resources: ['daemonsets'], resourceNames: ['sightline-sensor'], verbs: ['get', 'list', 'watch', 'patch'] },
  ]);
  const granted = role.rules.flatMap((rule: any) => [...rule.apiGroups, ...rule.resources, ...rule.verbs, ...rule.resourceNames]);
  for (const forbidden of ['*', 'secrets', 'configmaps', 'pods', 'pods/log', 'pods/exec', 'pods/portforward', 'create', 'delete', 'update', 'escalate', 'bind', 'impersonate', 'deployments', 'services', 'networkpolicies']) {
    expect(granted).not.toContain(forbidden);
  }
});

test('a cluster that runs only one workload opens only that one', () => {
  const gatewayOnly = render({ workloads: ['gateway'] }).find((manifest) => manifest.kind === 'Role');
  expect(gatewayOnly.rules.flatMap((rule: any) => rule.resources)).toEqual(['statefulsets', 'statefulsets/scale', 'horizontalpodautoscalers']);
  const sensorOnly = render({ workloads: ['sensor'] }).find((manifest) => manifest.kind === 'Role');
  expect(sensorOnly.rules.flatMap((rule: any) => rule.resources)).toEqual(['daemonsets']);
});

test('the binding names the operator group only; the admission policy fails closed and denies with an audit record', () => {
  const manifests = render();
  expect(manifests.find((manifest) => manifest.kind === 'RoleBinding').subjects).toEqual([{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'sightline-operators' }]);
  const policy = manifests.find((manifest) => manifest.kind === 'ValidatingAdmissionPolicy');
  expect(policy.spec.failurePolicy).toBe('Fail');
  expect(policy.spec.matchConditions).toEqual([{ name: 'sightline-operator', expression: "has(request.userInfo.groups) && 'sightline-operators' in request.userInfo.groups" }]);
  // Every write (and CONNECT) to every resource and subresource, in a form the API server accepts.
  expect(policy.spec.matchConstraints.resourceRules).toEqual([{ apiGroups: ['*'], apiVersions: ['*'], resources: ['*/*'], operations: ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] }]);
  expect(policyProblems(policy)).toEqual([]);
  expect(policyProblems({ ...policy, spec: { ...policy.spec, matchConstraints: { resourceRules: [{ ...policy.spec.matchConstraints.resourceRules[0], resources: ['*', '*/*'] }] } } }))
    .toEqual(["spec.matchConstraints.resourceRules[0].resources: if '*/*' is present, must not specify other resources"]);
  const binding = manifests.find((manifest) => manifest.kind === 'ValidatingAdmissionPolicyBinding');
  expect(binding.spec).toEqual({ policyName: policy.metadata.name, validationActions: ['Deny', 'Audit'] });
});

test('the workload names of the contract are the charts\' names', () => {
  expect(SIGHTLINE_WORKLOADS.gateway.name).toBe(GATEWAY_WORKLOAD);
  const sensor = new SensorChart(new App(), 'sensor', {
    image: 'public.ecr.aws/acme/sightline:1',
    gatewayEndpoint: 'https://gw:4318',
    gatewayCredentials: { kubernetes: { secretName: 'creds' } },
  });
  expect(SIGHTLINE_WORKLOADS.sensor.name).toBe(sensor.daemonSetName);
  const daemonSet = sensor.toJson().find((manifest: any) => manifest.kind === 'DaemonSet');
  expect(daemonSet.spec.template.spec.containers.map((container: any) => container.name)).toEqual([SIGHTLINE_WORKLOADS.sensor.container]);
});

test('bad settings are refused with what to do', () => {
  expect(() => render({ releaseRepository: 'public.ecr.aws/acme/sightline:1.0' })).toThrow(/is not an image repository/);
  expect(() => render({ workloads: [] })).toThrow(/name at least one workload/);
  expect(() => render({ maxReplicas: 0 })).toThrow(/maxReplicas must be a whole number of at least 1/);
});
