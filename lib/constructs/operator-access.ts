import { ArnFormat, CfnOutput, Stack } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { App as Cdk8sApp } from 'cdk8s';
import { Construct, type IDependable } from 'constructs';
import {
  CONTROL_PLANE_ROLE_NAME, OPERATOR_KUBERNETES_GROUP, OPERATOR_ROLE_NAME, isHealthAlarm, type OperatorAccessDescriptor, type WorkloadComponent,
} from '../../control-plane/contract';
import { OperatorAccessChart } from '../charts/operator-access-chart';
import { version as SIGHTLINE_VERSION } from '../../package.json';

/**
 * Every way to read Sightline data, denied to the operator in its own policy and its boundary. Whole services where
 * the operator needs nothing (S3, KMS, Timestream, Athena, Glue, Lake Formation, CloudWatch Logs); in CloudWatch,
 * where it reads alarm states, everything that returns metric data, dashboards or alarm history. Also the ways
 * around a deny: assuming another role, passing one.
 */
export const OPERATOR_DENIED_ACTIONS = [
  's3:*', 'kms:*', 'timestream:*', 'athena:*', 'glue:*', 'lakeformation:*', 'logs:*',
  'cloudwatch:GetMetric*', 'cloudwatch:ListMetric*', 'cloudwatch:GetInsightRuleReport', 'cloudwatch:*MetricStream*',
  'cloudwatch:GetDashboard', 'cloudwatch:ListDashboards', 'cloudwatch:DescribeAlarmHistory', 'cloudwatch:DescribeAlarmsForMetric',
  'cloudwatch:GenerateQuery*', 'cloudwatch:DescribeAnomalyDetectors', 'cloudwatch:BatchGet*', 'cloudwatch:GetService*',
  'sts:AssumeRole', 'sts:AssumeRoleWithSAML', 'sts:AssumeRoleWithWebIdentity', 'sts:AssumeRoot', 'iam:PassRole',
] as const;

/** Denied to the operator in the span bucket's policy: every S3 action on the bucket and its objects. */
export const BUCKET_DENIED_ACTIONS = ['s3:*'] as const;

/** Denied to the operator in the data key's policy: every use of the key (decrypt, data keys, re-encrypt, grants). */
export const KEY_DENIED_ACTIONS = ['kms:*'] as const;

/** The customer's data stores, whose resource policies deny the operator too (data-plane stacks). */
export interface OperatorDataResources {
  readonly spanBucket: s3.IBucket;
  readonly dataKey: kms.IKey;
}

export interface OperatorAccessProps {
  /** The vendor account whose control-plane role may assume the operator role. */
  readonly controlPlaneAccount: string;
  /** External id the control plane must present (per customer, agreed with the vendor). */
  readonly externalId: string;
  /** Image repository the admission policy accepts images from, by digest only. */
  readonly releaseRepository: string;
  /** The cluster the operator may reach. */
  readonly cluster: eks.ICluster;
  /** The cluster's name as a plain string, for its ARN and the output (a token is fine too). */
  readonly clusterName: string;
  /** The Sightline workloads in that cluster. */
  readonly workloads: WorkloadComponent[];
  /** What creates the `sightline` namespace (the gateway or sensor manifest); the Role goes in after it. */
  readonly namespaceCreatedBy: IDependable;
  /**
   * Health alarms the operator may read the state of; only those `isHealthAlarm` accepts are granted.
   * @default - none
   */
  readonly alarmNames?: string[];
  /**
   * Data stores whose resource policies get the same denials.
   * @default - none (a stack without data stores)
   */
  readonly dataResources?: OperatorDataResources;
  /**
   * Name of the operator role; one per account, so a second stack in the account needs its own.
   * @default 'sightline-operator'
   */
  readonly roleName?: string;
  /**
   * Highest replica count or HPA maximum the admission policy lets the operator set.
   * @default 50
   */
  readonly maxReplicas?: number;
}

/** What a stack is told about the vendor; the stack supplies the cluster, names and data stores. */
export type OperatorAccessOptions = Pick<OperatorAccessProps, 'controlPlaneAccount' | 'externalId' | 'releaseRepository' | 'maxReplicas'>
  & Partial<Pick<OperatorAccessProps, 'workloads'>>;

/**
 * The control plane's role, by name in the vendor account: assumable only with the external id and a source identity,
 * so CloudTrail names the person or rollout behind every call.
 */
class ControlPlanePrincipal extends iam.ArnPrincipal {
  constructor(arn: string, private readonly externalId: string) {
    super(arn);
  }

  addToAssumeRolePolicy(document: iam.PolicyDocument): void {
    // Two statements, as STS authorizes them: the external id is a key of AssumeRole only; the source identity must be
    // set (SetSourceIdentity) and present on the AssumeRole call itself.
    const sourceIdentityRequired = { Null: { 'sts:SourceIdentity': 'false' } };
    document.addStatements(
      new iam.PolicyStatement({
        sid: 'ControlPlaneWithExternalIdAndSourceIdentity',
        actions: ['sts:AssumeRole'],
        principals: [new iam.ArnPrincipal(this.arn)],
        conditions: { StringEquals: { 'sts:ExternalId': this.externalId }, ...sourceIdentityRequired },
      }),
      new iam.PolicyStatement({
        sid: 'ControlPlaneSetsItsSourceIdentity',
        actions: ['sts:SetSourceIdentity'],
        principals: [new iam.ArnPrincipal(this.arn)],
        conditions: sourceIdentityRequired,
      }),
    );
  }
}

/**
 * The vendor's way into this stack's cluster, and nothing more: the `sightline-operator` role (trusting only the
 * control plane's role, with the external id and a source identity; capped by a permissions boundary; denied every data
 * read), an EKS access entry (type STANDARD) mapping it to a Kubernetes group, and that group's namespaced Role and
 * admission policy. The data stores' resource policies deny the role as well.
 */
export class OperatorAccess extends Construct {
  readonly role: iam.Role;
  readonly boundary: iam.ManagedPolicy;
  readonly accessEntry: eks.CfnAccessEntry;
  readonly chart: OperatorAccessChart;
  readonly manifest: eks.KubernetesManifest;
  /** What the customer hands the vendor to register this cluster. */
  readonly descriptor: OperatorAccessDescriptor;

  constructor(scope: Construct, id: string, props: OperatorAccessProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const roleName = props.roleName ?? OPERATOR_ROLE_NAME;
    const controlPlaneRoleArn = `arn:${stack.partition}:iam::${props.controlPlaneAccount}:role/${CONTROL_PLANE_ROLE_NAME}`;
    // By name, not by reference: resource policies keyed on aws:PrincipalArn keep denying a role that is re-created.
    const roleArn = stack.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: roleName });
    const clusterArn = stack.formatArn({ service: 'eks', resource: 'cluster', resourceName: props.clusterName });
    const healthAlarmNames = (props.alarmNames ?? []).filter(isHealthAlarm);

    const allowed = [
      new iam.PolicyStatement({ sid: 'DescribeTheSightlineCluster', actions: ['eks:DescribeCluster'], resources: [clusterArn] }),
      ...(healthAlarmNames.length === 0 ? [] : [new iam.PolicyStatement({
        sid: 'ReadSightlineHealthAlarms',
        actions: ['cloudwatch:DescribeAlarms'],
        resources: healthAlarmNames.map((name) => stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME })),
      })]),
    ];
    const denied = new iam.PolicyStatement({ sid: 'NeverReadSightlineData', effect: iam.Effect.DENY, actions: [...OPERATOR_DENIED_ACTIONS], resources: ['*'] });

    this.boundary = new iam.ManagedPolicy(this, 'Boundary', {
      description: 'Sightline operator permissions boundary: describe the cluster, read health alarms, never read data',
      statements: [...allowed, denied],
    });
    this.role = new iam.Role(this, 'Role', {
      roleName,
      description: 'Sightline vendor control plane: upgrades and scales Sightline through its EKS access entry; denied every data read',
      assumedBy: new ControlPlanePrincipal(controlPlaneRoleArn, props.externalId),
      permissionsBoundary: this.boundary,
      inlinePolicies: { SightlineOperator: new iam.PolicyDocument({ statements: [...allowed, denied] }) },
    });

    if (props.dataResources !== undefined) {
      const notTheOperator = { ArnLike: { 'aws:PrincipalArn': roleArn } };
      const { spanBucket, dataKey } = props.dataResources;
      spanBucket.addToResourcePolicy(new iam.PolicyStatement({
        sid: 'NeverTheSightlineOperator',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: [...BUCKET_DENIED_ACTIONS],
        resources: [spanBucket.bucketArn, spanBucket.arnForObjects('*')],
        conditions: notTheOperator,
      }));
      dataKey.addToResourcePolicy(new iam.PolicyStatement({
        sid: 'NeverTheSightlineOperator',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: [...KEY_DENIED_ACTIONS],
        resources: ['*'],
        conditions: notTheOperator,
      }));
    }

    this.accessEntry = new eks.CfnAccessEntry(this, 'AccessEntry', {
      clusterName: props.clusterName,
      principalArn: this.role.roleArn,
      type: 'STANDARD',
      // No username: EKS then uses the assumed-role ARN with the session name, which the control plane sets per rollout.
      kubernetesGroups: [OPERATOR_KUBERNETES_GROUP],
    });

    this.chart = new OperatorAccessChart(new Cdk8sApp(), 'sightline-operator-access', {
      releaseRepository: props.releaseRepository,
      workloads: props.workloads,
      maxReplicas: props.maxReplicas,
    });
    this.manifest = new eks.KubernetesManifest(this, 'Manifest', { cluster: props.cluster, manifest: this.chart.toJson(), overwrite: true });
    this.manifest.node.addDependency(props.namespaceCreatedBy);
    // The access entry is useless before the Role exists, and goes first on removal.
    this.accessEntry.node.addDependency(this.manifest);

    this.descriptor = {
      accountId: stack.account,
      region: stack.region,
      clusterName: props.clusterName,
      operatorRoleArn: this.role.roleArn,
      workloads: [...props.workloads],
      healthAlarmNames,
      releaseRepository: props.releaseRepository,
      chartVersion: SIGHTLINE_VERSION,
    };
    new CfnOutput(this, 'Descriptor', {
      key: 'SightlineOperatorAccess',
      description: 'Hand this to the vendor to register the cluster (sightline-vendor tenant register ... --access <this>)',
      value: stack.toJsonString(this.descriptor),
    });
  }
}
