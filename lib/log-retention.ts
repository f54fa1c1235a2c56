import { CfnResource, RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IConstruct } from 'constructs';

/**
 * Gives every Lambda function under `scope` (the kubectl handler and the custom-resource framework the EKS library
 * adds) a log group with retention: otherwise Lambda creates `/aws/lambda/<name>` on first run, kept forever.
 * Call it once a stack is complete; functions that already name a log group keep it.
 */
export function retainFunctionLogs(scope: IConstruct, retention: logs.RetentionDays): void {
  // Custom-resource providers of the CDK core define their functions as plain CfnResources, not lambda.CfnFunction.
  const functions = scope.node.findAll()
    .filter((child): child is CfnResource => child instanceof CfnResource && child.cfnResourceType === 'AWS::Lambda::Function');
  for (const fn of functions) {
    const loggingConfig = fn instanceof lambda.CfnFunction ? fn.loggingConfig as lambda.CfnFunction.LoggingConfigProperty | undefined : undefined;
    if (loggingConfig?.logGroup !== undefined) continue;
    const owner = fn.node.scope ?? scope;
    const logGroup = new logs.LogGroup(owner, `${fn.node.id}Logs`, { retention, removalPolicy: RemovalPolicy.DESTROY });
    if (fn instanceof lambda.CfnFunction) fn.loggingConfig = { ...loggingConfig, logGroup: logGroup.logGroupName };
    else fn.addPropertyOverride('LoggingConfig.LogGroup', logGroup.logGroupName);
  }
}
