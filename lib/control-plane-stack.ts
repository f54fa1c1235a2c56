import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { TABLES, type TableName } from '../control-plane/store/tables';
import { ControlPlaneTables } from './constructs/control-plane-tables';
import { RolloutOrchestrator } from './constructs/rollout-orchestrator';

export interface ControlPlaneStackProps extends StackProps {
  /**
   * Address subscribed to the failed- and stuck-rollout alarms.
   * @default - none (subscribe to RolloutAlarmTopicArn)
   */
  readonly alarmEmail?: string;
  /**
   * NAT gateways (one fixed egress IP each) of the control plane's VPC.
   * @default 1
   */
  readonly natGateways?: number;
  /**
   * How often every tenant is sized; null turns scheduled scaling off.
   * @default events.Schedule.rate(Duration.days(1))
   */
  readonly scalingSchedule?: events.Schedule | null;
  /**
   * Removal policy of the tenant registry, releases, rollouts and the audit trail.
   * @default RemovalPolicy.RETAIN
   */
  readonly dataRemovalPolicy?: RemovalPolicy;
}

/**
 * The vendor's control plane (deployed in the vendor account, never in a customer's): the tenant registry, releases
 * and channels, the rollout state machine and its alarms, and the audit trail. It holds no customer data and can reach
 * none: each tenant's sightline-operator role is denied every data read.
 */
export class ControlPlaneStack extends Stack {
  readonly tables: ControlPlaneTables;
  readonly rollouts: RolloutOrchestrator;

  constructor(scope: Construct, id: string, props: ControlPlaneStackProps = {}) {
    super(scope, id, props);
    const key = new kms.Key(this, 'AlarmKey', {
      description: 'Sightline control plane: the rollout alarm topic',
      enableKeyRotation: true,
      removalPolicy: props.dataRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.tables = new ControlPlaneTables(this, 'Tables', { removalPolicy: props.dataRemovalPolicy });
    this.rollouts = new RolloutOrchestrator(this, 'Rollouts', {
      tables: this.tables,
      encryptionKey: key,
      alarmEmail: props.alarmEmail,
      natGateways: props.natGateways,
      scalingSchedule: props.scalingSchedule,
    });
    for (const [name, table] of Object.entries(this.tables.tables) as Array<[TableName, { tableName: string }]>) {
      new CfnOutput(this, TABLES[name].output, { key: TABLES[name].output, value: table.tableName });
    }
  }
}
