import { z } from 'zod';
import type { Node } from 'constructs';

/** Which stacks `cdk synth` produces. */
export const TOPOLOGIES = ['all-in-one', 'data-plane', 'sensor', 'sub-account'] as const;
export type Topology = (typeof TOPOLOGIES)[number];

/** `-c key=value` arrives as a string, cdk.json may hold a real boolean: accept both, reject anything else. */
const booleanFlag = z.preprocess((value) => {
  if (value === 'true') return true;
  if (value === 'false') return false;
  return value;
}, z.boolean());

const commaList = z.preprocess(
  (value) => (typeof value === 'string' ? value.split(',').map((item) => item.trim()).filter((item) => item !== '') : value),
  z.array(z.string()),
);

const accountId = z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id');

/** Every context flag of the CDK app, under its `sightline:` name. */
export const deploymentContextSchema = z.object({
  'sightline:topology': z.enum(TOPOLOGIES).default('all-in-one')
    .describe('Stacks to synthesize: all-in-one (data plane and sensor in one account and cluster), data-plane, sensor, or sub-account (creates the data-plane account through AWS Organizations).'),
  'sightline:dataPlaneAccount': accountId.optional()
    .describe('Account id of the data-plane sub-account; the data-plane stack is pinned to it. Unset: environment-agnostic.'),
  'sightline:region': z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1').optional()
    .describe('Region of the stacks. Unset: environment-agnostic (the region of the deploying credentials).'),
  'sightline:timestream': booleanFlag.default(true)
    .describe('Create the Timestream for LiveAnalytics database and tables. false: CloudWatch-only metrics (accounts that cannot create Timestream).'),
  'sightline:gatewayEndpoint': z.string().url('must be a URL such as http://gateway.sightline.internal:4318').optional()
    .describe('OTLP/HTTP endpoint of the gateway that sensors ship to; required for the sensor topology.'),
  'sightline:clusterName': z.string().min(1).optional()
    .describe('Existing EKS cluster the sensor stack deploys to; required for the sensor topology.'),
  'sightline:image': z.string().min(1).optional()
    .describe('Container image URI of Sightline (sensor and gateway). Unset: built from the repository Dockerfile as a CDK image asset.'),
  'sightline:alarmEmail': z.string().email('must be an e-mail address').optional()
    .describe('E-mail address subscribed to the alarm topic. Unset: no subscription (subscribe later).'),
  'sightline:slaMs': z.coerce.number().positive('must be a positive number of milliseconds').default(1000)
    .describe('Latency SLA of one LLM call in milliseconds; slower calls count as SLA breaches and raise the SLA alarm.'),
  'sightline:tokenBudgetPerHour': z.coerce.number().positive('must be a positive number of tokens').default(5_000_000)
    .describe('Total tokens per hour across all workloads above which the token-budget alarm fires.'),
  'sightline:workloadAccounts': commaList.default([])
    .describe('Comma-separated account ids whose workload VPCs may connect to the gateway endpoint service.'),
  'sightline:apiAccessCidrs': commaList.default([])
    .describe('CIDR ranges allowed to reach the data-plane cluster API publicly. Empty: private API endpoint only.'),
  'sightline:organizationParentId': z.string().regex(/^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$/, 'must be an organization root id (r-...) or OU id (ou-...)').optional()
    .describe('Root or OU the created data-plane account is placed in (sub-account topology).'),
  'sightline:accountEmail': z.string().email('must be an e-mail address').optional()
    .describe('Root e-mail of the data-plane account to create; required for the sub-account topology.'),
});

export type DeploymentContext = z.infer<typeof deploymentContextSchema>;

/** Reads and validates every `sightline:` flag; a bad flag stops synth with a message naming it. */
export function readDeploymentContext(node: Node): DeploymentContext {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(deploymentContextSchema.shape)) {
    const value = node.tryGetContext(key);
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const parsed = deploymentContextSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `context ${issue.path.join('.')}: ${issue.message}`);
    throw new Error(problems.join('\n'));
  }
  const context = parsed.data;
  if (context['sightline:topology'] === 'sensor') {
    requireFlag(context, 'sightline:clusterName', 'name the existing EKS cluster the sensor goes to');
    requireFlag(context, 'sightline:gatewayEndpoint', 'give the gateway endpoint printed by the data-plane stack');
  }
  if (context['sightline:topology'] === 'sub-account') {
    requireFlag(context, 'sightline:accountEmail', 'give the root e-mail address of the new data-plane account');
  }
  return context;
}

function requireFlag(context: DeploymentContext, key: keyof DeploymentContext, hint: string): void {
  if (context[key] === undefined) {
    throw new Error(`context ${key} is required when sightline:topology is ${context['sightline:topology']}: ${hint}`);
  }
}
