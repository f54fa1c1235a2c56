import { CfnCondition, Stack, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';

/**
 * Records why a cdk-nag rule does not apply here. Rules that report per finding (IAM4, IAM5) need
 * each finding named, e.g. `Resource::*`; cdk-nag matches them exactly.
 */
export function acknowledgeNagRule(scope: IConstruct, ruleId: string, reason: string, findings: string[] = []): void {
  if (findings.length === 0) {
    Validations.of(scope).acknowledge({ id: ruleId, reason });
    return;
  }
  Validations.of(scope).acknowledge(...findings.map((finding) => ({ id: `${ruleId}[${finding}]`, reason })));
}

const awsManagedPolicy = (name: string): string => `Policy::arn:<AWS::Partition>:iam::aws:policy/${name}`;

/**
 * Findings on the kubectl provider the EKS construct library builds (Lambda handler, custom-resource framework),
 * acknowledged on the scope that holds it. The library fixes these resources; they never touch Sightline data.
 */
export function acknowledgeKubectlProviderFindings(scope: IConstruct): void {
  const stack = Stack.of(scope);
  const ecrPublicConditions = scope.node.findAll()
    .filter((child): child is CfnCondition => child instanceof CfnCondition && child.node.id.includes('EcrPublic'));
  acknowledgeNagRule(scope, 'AwsSolutions-IAM4',
    'AWS-managed policies the EKS construct library attaches to its kubectl handler: logging, VPC access and image pulls.',
    [
      awsManagedPolicy('service-role/AWSLambdaBasicExecutionRole'),
      awsManagedPolicy('service-role/AWSLambdaVPCAccessExecutionRole'),
      awsManagedPolicy('AmazonEC2ContainerRegistryReadOnly'),
      ...ecrPublicConditions.map((condition) => `Policy::${JSON.stringify({
        'Fn::If': [stack.getLogicalId(condition), {
          'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/AmazonElasticContainerRegistryPublicReadOnly']],
        }, { Ref: 'AWS::NoValue' }],
      })}`),
    ]);
  const handlers = scope.node.findAll().filter((child): child is lambda.CfnFunction => child instanceof lambda.CfnFunction);
  acknowledgeNagRule(scope, 'AwsSolutions-IAM5',
    'The custom-resource framework of the kubectl provider invokes versions of its own handler.',
    handlers.map((handler) => `Resource::<${stack.getLogicalId(handler)}.Arn>:*`));
  acknowledgeNagRule(scope, 'AwsSolutions-L1',
    'The kubectl handler runtime is pinned by the EKS construct library to match its kubectl layer.');
}
