/**
 * `sightline-vendor`: the vendor's command line for the control plane. It finds the tables and the state machine from
 * the SightlineControlPlane stack's outputs, and acts as whoever the AWS credentials belong to.
 */
import * as fs from 'node:fs';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { Command, InvalidArgumentError } from 'commander';
import { documentClient, dynamoStores } from '../store/dynamo-stores';
import { CONTROL_PLANE_STACK, STATE_MACHINE_OUTPUT, TABLES, type TableName } from '../store/tables';
import { VendorConsole } from './vendor-console';

export interface ConsoleOptions {
  stack: string;
  region?: string;
}

export type ConsoleFactory = (options: ConsoleOptions) => Promise<VendorConsole>;

/** The person behind an ARN: the session name of an assumed role (SSO users appear as their e-mail), or the user name. */
export function actorName(arn: string): string {
  const resource = arn.split(':').slice(5).join(':');
  if (resource.startsWith('assumed-role/')) return resource.split('/').slice(2).join('/') || resource;
  if (resource.startsWith('user/')) return resource.split('/').pop()!;
  return resource === 'root' ? `root-${arn.split(':')[4]}` : resource;
}

export const awsConsole: ConsoleFactory = async ({ stack, region }) => {
  const cloudformation = new CloudFormationClient({ region });
  let outputs: Record<string, string>;
  try {
    const { Stacks = [] } = await cloudformation.send(new DescribeStacksCommand({ StackName: stack }));
    outputs = Object.fromEntries((Stacks[0]?.Outputs ?? []).map((output) => [output.OutputKey ?? '', output.OutputValue ?? '']));
  } catch (error) {
    throw new Error(`cannot read the stack ${stack}${region ? ` in ${region}` : ''}: ${(error as Error).message}. `
      + 'Deploy it (npx cdk deploy -c sightline:topology=control-plane) or pass --stack and --region');
  }
  const names = {} as Record<TableName, string>;
  for (const [name, { output }] of Object.entries(TABLES) as Array<[TableName, { output: string }]>) {
    if (!outputs[output]) throw new Error(`stack ${stack} has no output ${output}: is it the Sightline control plane, deployed by this version?`);
    names[name] = outputs[output];
  }
  const stateMachineArn = outputs[STATE_MACHINE_OUTPUT];
  if (!stateMachineArn) throw new Error(`stack ${stack} has no output ${STATE_MACHINE_OUTPUT}`);
  const stores = dynamoStores(names, documentClient(new DynamoDBClient({ region })));
  const sfn = new SFNClient({ region });
  let actor: Promise<string> | undefined;
  return new VendorConsole({
    ...stores,
    starter: {
      async start(rolloutId, start) {
        await sfn.send(new StartExecutionCommand({ stateMachineArn, name: rolloutId, input: JSON.stringify(start) }));
      },
    },
    actor: () => {
      actor ??= new STSClient({ region }).send(new GetCallerIdentityCommand({})).then(({ Arn }) => actorName(Arn ?? 'unknown'));
      return actor;
    },
    now: () => new Date(),
    out: (line) => process.stdout.write(`${line}\n`),
    sleep: (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000)),
  });
};

function positiveNumber(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return parsed;
}

/** `--access` takes the JSON itself or `@file`. */
function accessText(value: string, previous: string[] = []): string[] {
  return [...previous, value.startsWith('@') ? fs.readFileSync(value.slice(1), 'utf8') : value];
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `throwOnError`: commander throws instead of exiting (for embedding and tests); every subcommand inherits it. */
export function buildVendorCli(createConsole: ConsoleFactory = awsConsole, options: { throwOnError?: boolean } = {}): Command {
  const program = new Command('sightline-vendor')
    .description('Operate the Sightline fleet through the control plane: tenants, releases, channels, rollouts')
    .option('--stack <name>', 'the control plane stack', CONTROL_PLANE_STACK)
    .option('--region <region>', 'its region (default: of your AWS profile)')
    .showHelpAfterError();
  if (options.throwOnError) program.exitOverride().configureOutput({ writeErr: () => undefined });
  const open = () => createConsole(program.opts<ConsoleOptions>());

  const tenant = program.command('tenant').description('the tenant registry');
  tenant.command('register <tenantId>')
    .description('add a tenant, or add clusters to it and change its settings')
    .option('--external-id <id>', 'the external id you issued this customer (required for a new tenant)')
    .option('--access <json|@file>', 'a SightlineOperatorAccess output of one of the customer\'s stacks (repeat for each)', accessText, [])
    .option('--channel <channel>', 'canary or stable')
    .option('--pin <version>', 'keep the tenant on this release')
    .option('--unpin', 'follow the channel again')
    .option('--window <window>', 'maintenance window, e.g. "Sat,Sun 02:00-06:00 Europe/Berlin"')
    .option('--any-time', 'drop the maintenance window')
    .option('--name <name>', 'display name')
    .action(async (tenantId: string, options) => {
      await (await open()).registerTenant({
        tenantId, externalId: options.externalId, access: options.access, channel: options.channel,
        pinnedVersion: options.unpin ? null : options.pin, maintenanceWindow: options.anyTime ? null : options.window, displayName: options.name,
      });
    });
  tenant.command('list').description('every tenant, its channel and window').action(async () => (await open()).listTenants());

  const release = program.command('release').description('releases: a version and its image digests');
  release.command('publish <version>')
    .description('publish a release (images by digest); a version is published once')
    .requiredOption('--gateway <image>', 'gateway image, repository@sha256:...')
    .requiredOption('--sensor <image>', 'sensor image, repository@sha256:...')
    .requiredOption('--chart <version>', 'the Sightline charts version the release needs')
    .option('--notes <text>', 'release notes')
    .action(async (version: string, options) => {
      await (await open()).publishRelease({ version, images: { gateway: options.gateway, sensor: options.sensor }, chartVersion: options.chart, notes: options.notes });
    });
  release.command('list').description('published releases and the channels on them').action(async () => (await open()).listReleases());

  program.command('channel').description('release channels')
    .command('set <channel> <version>').description('point canary or stable at a release')
    .action(async (channel: string, version: string) => (await open()).setChannel(channel, version));

  const rollout = program.command('rollout').description('rollouts: canary first, in waves, health-gated, rolled back when unhealthy');
  rollout.command('start')
    .description('start a rollout of a release to the tenants whose channel points at it, or a scaling run')
    .option('--version <version>', 'the release')
    .option('--scale', 'size every tenant instead (gateway HPA bounds, sensor resources)')
    .option('--tenant <id>', 'only this tenant (repeatable); ignores channels, keeps pins', collect)
    .option('--bake-seconds <n>', 'how long each tenant stays healthy before it counts as done (default 600)', positiveNumber)
    .option('--max-in-flight <n>', 'tenants changed at once (default 10)', positiveNumber)
    .option('--window-wait-hours <n>', 'how long to wait for a tenant\'s maintenance window (default 12)', positiveNumber)
    .option('--watch', 'follow it until it ends')
    .action(async (options) => {
      const vendor = await open();
      const settings = {
        ...(options.bakeSeconds === undefined ? {} : { bakeSeconds: options.bakeSeconds }),
        ...(options.maxInFlight === undefined ? {} : { maxInFlight: options.maxInFlight }),
        ...(options.windowWaitHours === undefined ? {} : { windowWaitSeconds: options.windowWaitHours * 3600 }),
      };
      const rolloutId = await vendor.startRollout({ version: options.version, scale: options.scale, tenantIds: options.tenant, settings });
      if (options.watch && !await vendor.watch(rolloutId)) process.exitCode = 1;
    });
  rollout.command('watch <rolloutId>')
    .description('follow a rollout until it ends (exit status 1 unless it succeeded)')
    .option('--interval <seconds>', 'seconds between looks', positiveNumber, 15)
    .action(async (rolloutId: string, options) => {
      if (!await (await open()).watch(rolloutId, options.interval)) process.exitCode = 1;
    });
  rollout.command('abort <rolloutId>').description('roll back what is in flight and start nothing new').action(async (rolloutId: string) => (await open()).abort(rolloutId));
  rollout.command('list').description('recent rollouts').action(async () => (await open()).listRollouts());
  rollout.command('audit <rolloutId>').description('every action of a rollout: who, tenant, what, before and after, result')
    .action(async (rolloutId: string) => (await open()).auditTrail(rolloutId));

  program.command('fleet').description('the fleet').command('status').description('what every tenant runs and should run')
    .action(async () => (await open()).fleetStatus());
  return program;
}
