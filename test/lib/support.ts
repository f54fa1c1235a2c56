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
