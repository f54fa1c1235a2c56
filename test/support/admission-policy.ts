/**
 * Evaluates a ValidatingAdmissionPolicy, as rendered into a manifest, against an admission request the way the
 * Kubernetes API server does: resource rules, match conditions, variables, then every validation, with
 * `failurePolicy: Fail` turning an evaluation error into a refusal. CEL is evaluated by @bufbuild/cel (a conformant
 * implementation of the CEL spec), with JSON integers as CEL ints, as Kubernetes presents them.
 */
import { isCelError, run, type CelInput } from '@bufbuild/cel';

/** The AdmissionRequest of admission.k8s.io/v1 (the fields CEL sees as `request`), with the objects. */
export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource: { group: string; version: string; resource: string };
  subResource?: string;
  requestKind?: { group: string; version: string; kind: string };
  requestResource?: { group: string; version: string; resource: string };
  name: string;
  namespace?: string;
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  userInfo: { username: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  object: unknown;
  oldObject: unknown;
  dryRun?: boolean;
  options?: unknown;
}

export interface AdmissionDecision {
  allowed: boolean;
  /** Messages of the failed validations (or the evaluation error), when refused. */
  messages: string[];
}

/** JSON as CEL input: objects become maps and whole numbers CEL ints. */
export function toCel(value: unknown): CelInput {
  if (Array.isArray(value)) return value.map(toCel);
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (typeof value === 'object') return new Map(Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, toCel(item)]));
  return value as CelInput;
}

function matches(patterns: string[] | undefined, value: string): boolean {
  return (patterns ?? []).some((pattern) => pattern === '*' || pattern === value);
}

/**
 * Resource rules as the API server matches them: `*` every resource but no subresource, `*\/*` every resource and
 * every subresource, `x/*` every subresource of x, `*\/y` subresource y of every resource, `x/y` exactly.
 */
function ruleMatches(rule: any, request: AdmissionRequest): boolean {
  const subResource = request.subResource ?? '';
  const resourceMatches = (rule.resources as string[]).some((pattern) => {
    if (pattern === '*/*') return true;
    const [resource, sub] = pattern.split('/');
    if (sub === undefined) return subResource === '' && (resource === '*' || resource === request.resource.resource);
    return (resource === '*' || resource === request.resource.resource) && (sub === '*' ? subResource !== '' : sub === subResource);
  });
  return matches(rule.apiGroups, request.resource.group) && matches(rule.apiVersions, request.resource.version)
    && matches(rule.operations, request.operation) && resourceMatches;
}

const CEL_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const OPERATIONS = new Set(['*', 'CREATE', 'UPDATE', 'DELETE', 'CONNECT']);

/**
 * What the API server refuses when the policy is created (k8s.io/kubernetes pkg/apis/admissionregistration/validation):
 * wildcards mixed with other values, unknown operations, `*\/*` next to other resources, `*` next to other resources
 * without subresources, no failure policy, messages with line breaks, variable names that are not CEL identifiers.
 */
export function policyProblems(policy: any): string[] {
  const problems: string[] = [];
  const spec = policy.spec ?? {};
  if (spec.failurePolicy !== 'Fail' && spec.failurePolicy !== 'Ignore') problems.push('spec.failurePolicy must be Fail or Ignore');
  for (const [index, rule] of (spec.matchConstraints?.resourceRules ?? []).entries()) {
    const at = `spec.matchConstraints.resourceRules[${index}]`;
    for (const field of ['apiGroups', 'apiVersions', 'operations']) {
      if ((rule[field] ?? []).length === 0) problems.push(`${at}.${field} is required`);
      if (rule[field]?.length > 1 && rule[field].includes('*')) problems.push(`${at}.${field}: if '*' is present, must not specify others`);
    }
    for (const operation of rule.operations ?? []) if (!OPERATIONS.has(operation)) problems.push(`${at}.operations: ${operation} is not supported`);
    const resources: string[] = rule.resources ?? [];
    if (resources.length === 0) problems.push(`${at}.resources is required`);
    if (resources.length > 1 && resources.includes('*/*')) problems.push(`${at}.resources: if '*/*' is present, must not specify other resources`);
    if (resources.includes('*') && resources.some((resource) => resource !== '*' && !resource.includes('/'))) problems.push(`${at}.resources: if '*' is present, must not specify other resources without subresources`);
  }
  if ((spec.matchConditions ?? []).length > 64) problems.push('spec.matchConditions: at most 64');
  for (const variable of spec.variables ?? []) if (!CEL_IDENTIFIER.test(variable.name)) problems.push(`spec.variables: ${variable.name} is not a CEL identifier`);
  for (const validation of spec.validations ?? []) if (/[\n\r]/.test(validation.message ?? '')) problems.push('spec.validations: a message must not contain line breaks');
  return problems;
}

function evaluate(expression: string, bindings: Record<string, CelInput>): { value?: unknown; error?: string } {
  try {
    const value = run(expression, bindings);
    if (isCelError(value)) return { error: String((value as Error).message ?? value) };
    return { value };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

export function evaluateAdmission(policy: any, request: AdmissionRequest): AdmissionDecision {
  const problems = policyProblems(policy);
  if (problems.length > 0) throw new Error(`the API server would refuse this ValidatingAdmissionPolicy: ${problems.join('; ')}`);
  const spec = policy.spec;
  const failClosed = (spec.failurePolicy ?? 'Fail') === 'Fail';
  const onError = (what: string, error: string): AdmissionDecision =>
    (failClosed ? { allowed: false, messages: [`${what}: ${error}`] } : { allowed: true, messages: [] });
  if (!(spec.matchConstraints?.resourceRules ?? []).some((rule: any) => ruleMatches(rule, request))) return { allowed: true, messages: [] };

  const { object, oldObject, ...attributes } = request;
  const bindings: Record<string, CelInput> = {
    request: toCel(attributes),
    object: toCel(object ?? null),
    oldObject: toCel(oldObject ?? null),
  };
  for (const condition of spec.matchConditions ?? []) {
    const result = evaluate(condition.expression, bindings);
    if (result.error !== undefined) return onError(`matchCondition ${condition.name}`, result.error);
    if (result.value !== true) return { allowed: true, messages: [] };
  }
  const variables = new Map<string, CelInput>();
  for (const variable of spec.variables ?? []) {
    const result = evaluate(variable.expression, { ...bindings, variables: variables as unknown as CelInput });
    if (result.error !== undefined) return onError(`variable ${variable.name}`, result.error);
    variables.set(variable.name, result.value as CelInput);
  }
  const messages: string[] = [];
  for (const validation of spec.validations ?? []) {
    const result = evaluate(validation.expression, { ...bindings, variables: variables as unknown as CelInput });
    if (result.error !== undefined) {
      if (failClosed) messages.push(`${validation.message} (evaluation error: ${result.error})`);
    } else if (result.value !== true) {
      messages.push(validation.message);
    }
  }
  return { allowed: messages.length === 0, messages };
}
