import * as path from 'node:path';
import { CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { CONTROL_PLANE_ROLE_NAME, OPERATOR_ROLE_NAME } from '../../control-plane/contract';
import { CONTROL_PLANE_NAMESPACE, RolloutMetric } from '../../control-plane/rollout/rollout-metrics';
import { REPOSITORY_ROOT } from './sightline-image';
import type { ControlPlaneTables } from './control-plane-tables';
import { acknowledgeNagRule } from '../nag-acknowledgements';

export interface RolloutOrchestratorProps {
  readonly tables: ControlPlaneTables;
  /** Key of the alarm topic. */
  readonly encryptionKey: kms.IKey;
  /**
   * NAT gateways of the control plane's VPC. Their Elastic IPs are the only addresses the control plane reaches
   * customer clusters from; customers allow them on their cluster API endpoints.
   * @default 1
   */
  readonly natGateways?: number;
  /**
   * Longest a rollout may run (waves, bakes, maintenance windows); past it the execution times out and the stuck-rollout
   * alarm fires.
   * @default Duration.days(3)
   */
  readonly rolloutTimeLimit?: Duration;
  /**
   * How often a scaling run sizes every tenant (gateway HPA bounds, sensor resources); undefined turns it off.
   * @default events.Schedule.rate(Duration.days(1))
   */
  readonly scalingSchedule?: events.Schedule | null;
  /**
   * Address subscribed to the rollout alarms.
   * @default - none (subscribe to the topic in RolloutAlarmTopicArn)
   */
  readonly alarmEmail?: string;
  /**
   * Retention of the function and state machine logs.
   * @default logs.RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: logs.RetentionDays;
}

/** Why Step Functions and not CodePipeline: see docs/control-plane.md ("Orchestration"). */
export class RolloutOrchestrator extends Construct {
  readonly vpc: ec2.Vpc;
  readonly role: iam.Role;
  readonly tick: nodejs.NodejsFunction;
  readonly stateMachine: sfn.StateMachine;
  readonly alarmTopic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[];
  /** Public IPs the control plane reaches customer clusters from. */
  readonly egressIps: string[];

  constructor(scope: Construct, id: string, props: RolloutOrchestratorProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const logRetention = props.logRetention ?? logs.RetentionDays.THREE_MONTHS;

    // Fixed egress addresses: customers allow exactly these on their cluster API endpoints.
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: props.natGateways ?? 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 24 },
      ],
      flowLogs: {
        rejected: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(new logs.LogGroup(this, 'FlowLogs', { retention: logRetention, removalPolicy: RemovalPolicy.DESTROY })),
          trafficType: ec2.FlowLogTrafficType.REJECT,
        },
      },
    });
    this.egressIps = this.vpc.publicSubnets
      .map((subnet) => subnet.node.tryFindChild('EIP') as ec2.CfnEIP | undefined)
      .filter((eip): eip is ec2.CfnEIP => eip !== undefined)
      .map((eip) => eip.attrPublicIp);

    // The one principal every customer trust policy names, by name (see control-plane/contract.ts).
    this.role = new iam.Role(this, 'Role', {
      roleName: CONTROL_PLANE_ROLE_NAME,
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Sightline control plane: assumes the sightline-operator role of each tenant, with its external id and a source identity',
    });
    this.role.addToPolicy(new iam.PolicyStatement({
      sid: 'AssumeTenantOperatorRoles',
      actions: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
      resources: [`arn:${stack.partition}:iam::*:role/${OPERATOR_ROLE_NAME}*`],
    }));
    this.role.addToPolicy(new iam.PolicyStatement({
      sid: 'PublishRolloutMetrics',
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': CONTROL_PLANE_NAMESPACE } },
    }));
    this.role.addToPolicy(new iam.PolicyStatement({
      sid: 'NetworkInterfacesInTheVpc',
      actions: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
      resources: ['*'],
    }));
    props.tables.grantRolloutAccess(this.role);

    const functionLogs = new logs.LogGroup(this, 'TickLogs', { retention: logRetention, removalPolicy: RemovalPolicy.DESTROY });
    functionLogs.grantWrite(this.role);
    const securityGroup = new ec2.SecurityGroup(this, 'TickSecurityGroup', {
      vpc: this.vpc,
      description: 'Sightline rollout ticks: HTTPS out to AWS APIs and customer cluster endpoints; nothing in',
      allowAllOutbound: false,
    });
    securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'AWS APIs and customer EKS endpoints');
    this.tick = new nodejs.NodejsFunction(this, 'Tick', {
      description: 'One tick of a Sightline rollout: advance every tenant in flight, judge the wave',
      entry: path.join(REPOSITORY_ROOT, 'control-plane', 'handlers', 'rollout-step.ts'),
      handler: 'handler',
      projectRoot: REPOSITORY_ROOT,
      depsLockFilePath: path.join(REPOSITORY_ROOT, 'package-lock.json'),
      runtime: lambda.determineLatestNodeRuntime(this),
      architecture: lambda.Architecture.ARM_64,
      memorySize: 1024,
      timeout: Duration.minutes(5),
      role: this.role,
      vpc: this.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [securityGroup],
      environment: { ...props.tables.environment, NODE_OPTIONS: '--enable-source-maps' },
      logGroup: functionLogs,
      tracing: lambda.Tracing.ACTIVE,
      // Bundled here by the esbuild of this repository: no Docker needed to synthesize or deploy.
      // The AWS SDK goes in too: the function runs the clients it was tested with, not the runtime's.
      bundling: { forceDockerBundling: false, minify: true, sourceMap: true, target: 'node20', bundleAwsSDK: true },
    });

    this.stateMachine = this.createStateMachine(props, logRetention);
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', { displayName: 'Sightline control plane: failed or stuck rollouts', masterKey: props.encryptionKey, enforceSSL: true });
    if (props.alarmEmail !== undefined) this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    props.encryptionKey.grantEncryptDecrypt(new iam.ServicePrincipal('cloudwatch.amazonaws.com'));
    this.alarms = this.createAlarms();

    const scalingSchedule = props.scalingSchedule === undefined ? events.Schedule.rate(Duration.days(1)) : props.scalingSchedule;
    if (scalingSchedule !== null) {
      new events.Rule(this, 'ScalingSchedule', {
        description: 'Sightline: size every tenant from its fleet and health (gateway HPA bounds, sensor resources)',
        schedule: scalingSchedule,
        targets: [new targets.SfnStateMachine(this.stateMachine, { input: events.RuleTargetInput.fromObject({ request: { kind: 'scale' }, startedBy: 'schedule' }) })],
      });
    }

    this.acknowledgeFindings(props.tables);
    new CfnOutput(this, 'EgressIps', {
      key: 'ControlPlaneEgressIps',
      description: 'Customers allow these on their cluster API endpoints (-c sightline:apiAccessCidrs=<ip>/32,...)',
      value: this.egressIps.length === 0 ? 'none' : this.egressIps.join(','),
    });
    new CfnOutput(this, 'RoleArn', {
      key: 'ControlPlaneRoleArn',
      description: 'The only principal the customers\' sightline-operator roles trust',
      value: this.role.roleArn,
    });
    new CfnOutput(this, 'StateMachineArn', { key: 'RolloutStateMachineArn', value: this.stateMachine.stateMachineArn });
    new CfnOutput(this, 'AlarmTopicArn', { key: 'RolloutAlarmTopicArn', description: 'Failed and stuck rollouts: subscribe people here', value: this.alarmTopic.topicArn });
  }

  /**
   * A loop around one Lambda call: tick, and unless done, wait what the tick asked and tick again. All decisions live in
   * the tick (control-plane/rollout), so the same code runs here and in the tests' driver.
   */
  private createStateMachine(props: RolloutOrchestratorProps, logRetention: logs.RetentionDays): sfn.StateMachine {
    const tick = new tasks.LambdaInvoke(this, 'AdvanceRollout', {
      lambdaFunction: this.tick,
      payload: sfn.TaskInput.fromObject({ rolloutId: sfn.JsonPath.executionName, start: sfn.JsonPath.objectAt('$$.Execution.Input') }),
      payloadResponseOnly: true,
      // Retried only when Lambda itself failed to run it: a tick that ran may have changed a tenant already.
      retryOnServiceExceptions: true,
      taskTimeout: sfn.Timeout.duration(Duration.minutes(6)),
    });
    const tickFailed = new sfn.Fail(this, 'TickFailed', {
      error: 'RolloutTickFailed',
      cause: 'A rollout tick failed; tenants in flight keep their state in the rollouts table (sightline-vendor rollout watch <id>)',
    });
    tick.addCatch(tickFailed, { errors: ['States.ALL'] });
    const finished = new sfn.Choice(this, 'Finished?')
      .when(sfn.Condition.stringEquals('$.status', 'halted'), new sfn.Fail(this, 'RolloutHalted', { error: 'RolloutHalted', causePath: '$.summary' }))
      .otherwise(new sfn.Succeed(this, 'RolloutEnded', { comment: 'succeeded, or aborted on request' }));
    const wait = new sfn.Wait(this, 'WaitForNextTick', { time: sfn.WaitTime.secondsPath('$.waitSeconds') });
    const definition = tick.next(new sfn.Choice(this, 'Done?')
      .when(sfn.Condition.booleanEquals('$.done', true), finished)
      .otherwise(wait.next(tick)));
    return new sfn.StateMachine(this, 'Rollouts', {
      comment: 'Sightline rollouts: canary, a small share, the rest; each tenant baked and health-gated, rolled back when unhealthy',
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      timeout: props.rolloutTimeLimit ?? Duration.days(3),
      tracingEnabled: true,
      logs: {
        destination: new logs.LogGroup(this, 'RolloutLogs', { retention: logRetention, removalPolicy: RemovalPolicy.DESTROY }),
        level: sfn.LogLevel.ALL,
        includeExecutionData: false,
      },
    });
  }

  private createAlarms(): cloudwatch.Alarm[] {
    const fiveMinutes = Duration.minutes(5);
    const rolloutMetric = (metricName: string) => new cloudwatch.Metric({ namespace: CONTROL_PLANE_NAMESPACE, metricName, statistic: 'Sum', period: fiveMinutes });
    const definitions: Array<[string, cloudwatch.IMetric, string]> = [
      ['RolloutFailed', this.stateMachine.metricFailed({ period: fiveMinutes }), 'A rollout halted (a wave crossed its failure threshold, or no canary came through) or a tick failed.'],
      ['RolloutStuck', this.stateMachine.metricTimedOut({ period: fiveMinutes }), 'A rollout ran past its time limit: look at its tenants with sightline-vendor rollout watch.'],
      ['RollbackFailed', rolloutMetric(RolloutMetric.rollbackFailures), 'A tenant could not be rolled back: it may run a mix of versions. A person must look now.'],
      ['TickErrors', this.tick.metricErrors({ period: fiveMinutes }), 'The rollout tick function failed.'],
    ];
    return definitions.map(([name, metric, description]) => {
      const alarm = new cloudwatch.Alarm(this, `${name}Alarm`, {
        alarmDescription: description,
        metric,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(new actions.SnsAction(this.alarmTopic));
      return alarm;
    });
  }

  private acknowledgeFindings(tables: ControlPlaneTables): void {
    const stack = Stack.of(this);
    acknowledgeNagRule(this.role, 'AwsSolutions-IAM5',
      'The control plane assumes the sightline-operator role of every tenant account (accounts join over time); ENI actions for the VPC function and X-Ray take no resource; metric data is limited to its namespace by condition; the indexes are the rollout listing and the audit trail by tenant.',
      [
        `Resource::arn:<AWS::Partition>:iam::*:role/${OPERATOR_ROLE_NAME}*`,
        'Resource::*',
        ...[tables.tables.rollouts, tables.tables.audit].map((table) => `Resource::<${stack.getLogicalId(table.node.defaultChild as dynamodb.CfnTable)}.Arn>/index/*`),
      ]);
    acknowledgeNagRule(this.stateMachine, 'AwsSolutions-IAM5',
      'Step Functions invokes the versions of its own tick function, and writes X-Ray traces and its log delivery, which take no resource.',
      ['Resource::*', `Resource::<${stack.getLogicalId(this.tick.node.defaultChild as lambda.CfnFunction)}.Arn>:*`]);
  }
}
