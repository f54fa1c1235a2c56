import { z } from 'zod';
import type { Node } from 'constructs';
import { IMAGE_BY_DIGEST, imageRepository as imageRepositoryOf } from '../control-plane/contract';
import { DEPLOYMENT_NAME } from './deployment-names';

/** Which stacks `cdk synth` produces. */
export const TOPOLOGIES = ['all-in-one', 'data-plane', 'sensor', 'sub-account', 'control-plane'] as const;
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

const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z]{2}(-[a-z]+)+-\d:\d{12}:secret:.+$/;

const ipv4Cidr = z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/(\d|[12]\d|3[0-2])$/, 'must be an IPv4 CIDR range such as 10.20.0.0/16');

/** Every context flag of the CDK app, under its `sightline:` name. */
export const deploymentContextSchema = z.object({
  'sightline:topology': z.enum(TOPOLOGIES).default('all-in-one')
    .describe('Stacks to synthesize: all-in-one (data plane and sensor in one account and cluster), data-plane, sensor, sub-account (creates the data-plane account through AWS Organizations), or control-plane (the vendor\'s SightlineControlPlane).'),
  'sightline:dataPlaneAccount': accountId.optional()
    .describe('Account id of the data-plane sub-account; the data-plane stack is pinned to it. Unset: environment-agnostic.'),
  'sightline:region': z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1').optional()
    .describe('Region of the stacks. Unset: environment-agnostic (the region of the deploying credentials).'),
  'sightline:timestream': booleanFlag.default(true)
    .describe('Create the Timestream for LiveAnalytics database and tables. false: CloudWatch-only metrics (accounts that cannot create Timestream).'),
  'sightline:gatewayEndpoint': z.string().url('must be a URL such as https://vpce-0abc.vpce-svc-0123.eu-west-1.vpce.amazonaws.com:4318')
    .refine((url) => url.startsWith('https://'), 'must be an https:// URL: sensors ship spans to the gateway over TLS only').optional()
    .describe('OTLP/HTTPS endpoint of the gateway that sensors ship to; required for the sensor topology.'),
  'sightline:gatewayTokenSecretArn': z.string().regex(SECRET_ARN, 'must be a Secrets Manager secret ARN (the data-plane output SensorTokenSecretArn<cluster>)').optional()
    .describe('ARN of this cluster\'s token secret in the data-plane account (output SensorTokenSecretArn<cluster>); required for the sensor topology.'),
  'sightline:gatewayCaSecretArn': z.string().regex(SECRET_ARN, 'must be a Secrets Manager secret ARN (the data-plane output GatewayCaSecretArn)').optional()
    .describe('ARN of the secret holding the gateway\'s CA certificate (output GatewayCaSecretArn); required for the sensor topology.'),
  'sightline:gatewayServerName': z.string().regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/, 'must be a DNS name').optional()
    .describe('Name sensors verify in the gateway\'s certificate, whatever host the endpoint names. Unset: sightline-gateway.sightline.svc, the name the data-plane stack issues.'),
  'sightline:sensorClusters': commaList.pipe(z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,99}@\d{12}$/, 'each entry must be <cluster name>@<12-digit account id>'))).default([])
    .describe('Comma-separated workload clusters whose sensors ship to this gateway, as <cluster>@<account>: each gets a token secret that its account may read (data-plane topology).'),
  'sightline:gatewayCertificateGeneration': z.coerce.number().int().positive('must be a positive whole number').default(1)
    .describe('Raise it (2, 3, ...) to issue the gateway a new TLS certificate and key from the same CA; sensors need nothing new.'),
  'sightline:clusterName': z.string().min(1).optional()
    .describe('Existing EKS cluster the sensor stack deploys to; required for the sensor topology.'),
  'sightline:image': z.string().min(1).optional()
    .describe('Container image URI of Sightline (sensor and gateway), best pinned by digest (repo@sha256:...). Unset: built from the repository Dockerfile as a CDK image asset.'),
  'sightline:deployment': z.string().regex(DEPLOYMENT_NAME, 'must be 1 to 20 lower-case letters, digits or "-", starting with a letter').optional()
    .describe('Name of this data plane when several share an account and region: it goes into the stack name, the Glue database, the Athena workgroup and the alarm names. Unset: the default names.'),
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
  'sightline:gatewayClientCidrs': commaList.pipe(z.array(ipv4Cidr)).default([])
    .describe('Comma-separated CIDR ranges of networks joined by VPC peering or Transit Gateway whose sensors reach the gateway NLB directly (port 4318). The data-plane VPC is always allowed; PrivateLink consumers need no entry.'),
  'sightline:maxAzs': z.coerce.number().int().min(2, 'must be at least 2').max(6, 'must be at most 6').default(2)
    .describe('Availability Zones of the data-plane VPC. PrivateLink consumers can only place endpoints in these zones (matched by AZ id).'),
  'sightline:natGatewayPerAz': booleanFlag.default(false)
    .describe('One NAT gateway per Availability Zone (production: egress survives a zone failure). false: one shared NAT gateway.'),
  'sightline:interfaceEndpoints': booleanFlag.default(false)
    .describe('Interface VPC endpoints for CloudWatch metrics, EKS Pod Identity and (with Timestream) its ingest cell, so the gateway\'s AWS calls skip the NAT gateway. S3 always goes through a free gateway endpoint.'),
  'sightline:timestreamIngestCell': z.string().regex(/^cell\d+$/, 'must be a Timestream cell such as cell1').optional()
    .describe('Timestream ingest cell of the account (from `aws timestream-write describe-endpoints`); required with sightline:interfaceEndpoints when Timestream is on.'),
  'sightline:objectLockDays': z.coerce.number().int().positive('must be a positive number of days').optional()
    .describe('S3 Object Lock (governance mode) on the span bucket: objects cannot be deleted or overwritten for this many days. Only when the bucket is first created.'),
  'sightline:athenaScanLimitGiB': z.coerce.number().positive('must be a positive number of GiB').default(10)
    .describe('Largest scan of one Athena query in the Sightline workgroup, in GiB (a guard against runaway cost; $5 per TB scanned). At 1,000 calls/s a day of spans is about 200 GB: raise it, or filter on hour.'),
  'sightline:clusterVersion': z.string().regex(/^1\.\d+$/, 'must be a Kubernetes version such as 1.33').optional()
    .describe('Kubernetes version of the existing cluster (sensor topology); synth checks it against the kubectl the stack applies the manifest with.'),
  'sightline:sensorPrivileged': booleanFlag.default(false)
    .describe('Run the sensor container privileged (sensor topology): needed on Bottlerocket and EKS Auto Mode nodes, whose SELinux policy refuses BPF and host paths to unprivileged containers.'),
  'sightline:controlPlaneAccount': accountId.optional()
    .describe('Vendor account whose control plane may upgrade and scale Sightline here (with sightline:externalId): adds the sightline-operator role, its EKS access entry, Role and admission policy. Unset: no vendor access at all.'),
  'sightline:externalId': z.string().regex(/^[\w+=,.@:/-]{2,1224}$/, 'must be 2 to 1224 letters, digits or any of +=,.@:/- (the external id the vendor gave you)').optional()
    .describe('External id the control plane must present to assume the operator role; required with sightline:controlPlaneAccount.'),
  'sightline:releaseRepository': z.string().refine((value) => IMAGE_BY_DIGEST.test(`${value}@sha256:${'0'.repeat(64)}`), 'must be an image repository such as public.ecr.aws/acme/sightline (no tag, no digest)').optional()
    .describe('Image repository the vendor\'s operator may roll images out from, by digest only. Unset: the repository of sightline:image.'),
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
    requireFlag(context, 'sightline:gatewayTokenSecretArn', 'give this cluster\'s token secret, output SensorTokenSecretArn<cluster> of the data-plane stack (list the cluster in its sightline:sensorClusters)');
    requireFlag(context, 'sightline:gatewayCaSecretArn', 'give the gateway CA secret, output GatewayCaSecretArn of the data-plane stack');
  }
  if (context['sightline:interfaceEndpoints'] && context['sightline:timestream'] && context['sightline:timestreamIngestCell'] === undefined
    && (context['sightline:topology'] === 'data-plane' || context['sightline:topology'] === 'all-in-one')) {
    throw new Error('context sightline:timestreamIngestCell is required when sightline:interfaceEndpoints is true and Timestream is on: '
      + 'run `aws timestream-write describe-endpoints` and pass the cell of the address (ingest-cell1... gives cell1), or set sightline:timestream=false');
  }
  checkOperatorAccess(context);
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

/** The vendor's operator access takes both flags, and a repository to accept releases from. */
function checkOperatorAccess(context: DeploymentContext): void {
  const account = context['sightline:controlPlaneAccount'];
  const externalId = context['sightline:externalId'];
  if (account === undefined && externalId === undefined) return;
  if (account === undefined) {
    throw new Error('context sightline:controlPlaneAccount is required with sightline:externalId: give the vendor\'s 12-digit account id, or drop both to deploy without vendor access');
  }
  if (externalId === undefined) {
    throw new Error('context sightline:externalId is required with sightline:controlPlaneAccount: give the external id the vendor issued for you, or drop both to deploy without vendor access');
  }
  const image = context['sightline:image'];
  if (context['sightline:releaseRepository'] === undefined && (image === undefined || !IMAGE_BY_DIGEST.test(`${imageRepositoryOf(image)}@sha256:${'0'.repeat(64)}`))) {
    throw new Error('context sightline:releaseRepository is required with sightline:controlPlaneAccount when sightline:image does not name a repository: '
      + 'give the repository the vendor publishes releases to (e.g. public.ecr.aws/acme/sightline)');
  }
}

/** Where the operator may take images from: the flag, else the repository of the deployed image. */
export function releaseRepositoryOf(context: DeploymentContext): string | undefined {
  const image = context['sightline:image'];
  return context['sightline:releaseRepository'] ?? (image === undefined ? undefined : imageRepositoryOf(image));
}
