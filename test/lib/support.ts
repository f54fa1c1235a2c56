import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/** Unacknowledged AwsSolutions errors under a scope, as "rule at construct path" lines (empty when clean). */
export function nagErrors(scope: IConstruct): string[] {
  const report = new AwsSolutionsChecks().validateScope(scope);
  return report.violations
    .filter((violation) => (violation as { severity?: string }).severity === 'error')
    .flatMap((violation) => violation.violatingResources.map((resource) => {
      const path = (resource as { constructPath?: string }).constructPath ?? resource.resourceLogicalId;
      return `${violation.ruleName} at ${path}`;
    }));
}

/** Every IAM action a policy document grants, lower-cased, across its Allow statements. */
export function allowedActions(policyDocument: { Statement: Array<{ Effect: string; Action: string | string[] }> }): string[] {
  return policyDocument.Statement
    .filter((statement) => statement.Effect === 'Allow')
    .flatMap((statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]))
    .map((action) => action.toLowerCase());
}

/**
 * A template value with its intrinsics evaluated, for feeding policies to a policy simulator: `Ref` and `Fn::GetAtt`
 * from `refs` (pseudo parameters have defaults), `Fn::Join` joined. Throws on anything else, so nothing is guessed.
 */
export function resolveIntrinsics(value: unknown, refs: Record<string, string> = {}): any {
  const known: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::URLSuffix': 'amazonaws.com', ...refs };
  if (Array.isArray(value)) return value.map((item) => resolveIntrinsics(item, known));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 1) {
    const [[key, argument]] = entries;
    if (key === 'Ref' || key === 'Fn::GetAtt') {
      const name = key === 'Ref' ? String(argument) : (argument as string[]).join('.');
      if (known[name] === undefined) throw new Error(`resolveIntrinsics: no value for ${key} ${name}`);
      return known[name];
    }
    if (key === 'Fn::Join') {
      const [separator, parts] = argument as [string, unknown[]];
      return parts.map((part) => resolveIntrinsics(part, known)).join(separator);
    }
    if (key.startsWith('Fn::')) throw new Error(`resolveIntrinsics: ${key} is not supported`);
  }
  return Object.fromEntries(entries.map(([key, item]) => [key, resolveIntrinsics(item, known)]));
}
