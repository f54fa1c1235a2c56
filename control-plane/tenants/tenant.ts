/**
 * A tenant: one customer's Sightline, made of the clusters its stacks opened to the control plane (the data-plane
 * cluster with the gateway, workload clusters with sensors), the release channel it follows and when it may be changed.
 */
import { z } from 'zod';
import { IMAGE_BY_DIGEST, type OperatorAccessDescriptor } from '../contract';
import { parseMaintenanceWindow } from './maintenance-window';

export const CHANNELS = ['canary', 'stable'] as const;
export type Channel = (typeof CHANNELS)[number];

const accountId = z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id');
const version = z.string().regex(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, 'must be a version such as 1.4.0');

/** A cluster as the customer's `SightlineOperatorAccess` output describes it. */
export const tenantClusterSchema = z.object({
  accountId,
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1'),
  clusterName: z.string().regex(/^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/, 'must be an EKS cluster name'),
  operatorRoleArn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/sightline-operator[\w+=,.@-]*$/, 'must be the ARN of a sightline-operator role'),
  workloads: z.array(z.enum(['gateway', 'sensor'])).min(1, 'must name at least one workload'),
  healthAlarmNames: z.array(z.string().min(1)).default([]),
  releaseRepository: z.string().refine((value) => IMAGE_BY_DIGEST.test(`${value}@sha256:${'0'.repeat(64)}`), 'must be an image repository'),
  chartVersion: version.optional(),
}).refine((cluster) => cluster.operatorRoleArn.split(':')[4] === cluster.accountId, { message: 'the operator role must be in the cluster\'s account', path: ['operatorRoleArn'] });

export type TenantCluster = z.infer<typeof tenantClusterSchema> & OperatorAccessDescriptor;

export const tenantSchema = z.object({
  tenantId: z.string().regex(/^[a-z][a-z0-9-]{1,39}$/, 'must be 2 to 40 lower-case letters, digits or "-", starting with a letter'),
  displayName: z.string().optional(),
  externalId: z.string().regex(/^[\w+=,.@:/-]{2,1224}$/, 'must be 2 to 1224 letters, digits or any of +=,.@:/-'),
  channel: z.enum(CHANNELS),
  pinnedVersion: version.optional(),
  maintenanceWindow: z.string().superRefine((text, context) => {
    try {
      parseMaintenanceWindow(text);
    } catch (error) {
      context.addIssue({ code: 'custom', message: (error as Error).message });
    }
  }).optional(),
  clusters: z.array(tenantClusterSchema).min(1, 'must list at least one cluster (the SightlineOperatorAccess output of a stack)'),
  registeredAt: z.string(),
  registeredBy: z.string(),
  /** What the last rollout left running, for the fleet view. */
  currentVersion: z.string().optional(),
  lastRollout: z.object({ rolloutId: z.string(), outcome: z.string(), at: z.string() }).optional(),
});

export type Tenant = z.infer<typeof tenantSchema>;

/** A tenant from untrusted input (the CLI, a table item): every problem named, with where it is. */
export function parseTenant(input: unknown): Tenant {
  const parsed = tenantSchema.safeParse(input);
  if (!parsed.success) {
    throw new Error(parsed.error.issues.map((issue) => `tenant ${issue.path.join('.') || '(root)'}: ${issue.message}`).join('\n'));
  }
  return parsed.data as Tenant;
}

/** Clusters running the gateway (changed first: new gateways must accept old sensors), then those running sensors. */
export function clustersByStage(tenant: Tenant): TenantCluster[][] {
  const gateway = tenant.clusters.filter((cluster) => cluster.workloads.includes('gateway'));
  const sensorOnly = tenant.clusters.filter((cluster) => !cluster.workloads.includes('gateway'));
  return [gateway, sensorOnly].filter((stage) => stage.length > 0) as TenantCluster[][];
}

/** `a` before `b` (-1), equal (0) or after (1), by numeric major.minor.patch; a pre-release sorts before its release. */
export function compareVersions(a: string, b: string): number {
  const split = (value: string) => {
    const [core, pre] = value.split('-', 2);
    return { numbers: core.split('.').map(Number), pre };
  };
  const left = split(a);
  const right = split(b);
  for (let index = 0; index < 3; index += 1) {
    const difference = (left.numbers[index] ?? 0) - (right.numbers[index] ?? 0);
    if (difference !== 0) return Math.sign(difference);
  }
  if (left.pre === right.pre) return 0;
  if (left.pre === undefined) return 1;
  if (right.pre === undefined) return -1;
  return left.pre < right.pre ? -1 : 1;
}
