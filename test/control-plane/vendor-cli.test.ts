/**
 * The vendor CLI as a vendor uses it: register tenants from the customers' SightlineOperatorAccess outputs, publish a
 * release, move the channels, start a rollout and watch it to the end (each watch interval runs one tick of the
 * rollout against a simulated fleet), then look at the fleet and the audit trail. And its AWS wiring: the stack
 * outputs, the Step Functions execution, the caller's name.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { AwsFleet } from '../../control-plane/fleet/aws-fleet';
import { actorName, awsConsole, buildVendorCli } from '../../control-plane/cli/vendor-cli';
import { VendorConsole } from '../../control-plane/cli/vendor-console';
import { rolloutTick, type RolloutStart } from '../../control-plane/rollout/rollout-tick';
import { TABLES } from '../../control-plane/store/tables';
import { MemoryAuditTrail, MemoryReleaseCatalog, MemoryRolloutStore, MemoryTenantRegistry } from '../support/control-plane-memory';
import { FakeDynamoDb } from '../support/fake-dynamodb';
import { releaseImage } from '../support/kubernetes-objects';
import { SimulatedFleet } from '../support/simulated-fleet';

const OLD = releaseImage('1.0.0');
const NEW = releaseImage('1.1.0');

describe('a vendor session', () => {
  let fleet: SimulatedFleet;
  let clock: number;
  let lines: string[];
  let audit: MemoryAuditTrail & { of(subject: string): Promise<any[]> };
  let registry: MemoryTenantRegistry;
  let started: Array<{ rolloutId: string; start: RolloutStart }>;
  let cli: (...args: string[]) => Promise<void>;
  let vendor: VendorConsole;

  beforeEach(() => {
    clock = Date.parse('2025-06-02T10:00:00Z');
    fleet = new SimulatedFleet(() => clock);
    lines = [];
    started = [];
    registry = new MemoryTenantRegistry();
    const catalog = new MemoryReleaseCatalog();
    const rollouts = new MemoryRolloutStore();
    audit = Object.assign(new MemoryAuditTrail(), { of: async (subject: string) => audit.records.filter((record) => (record.rolloutId ?? 'registry') === subject) });
    const tickDependencies = { fleet: new AwsFleet(), audit, registry, rollouts, catalog, now: () => new Date(clock) };
    vendor = new VendorConsole({
      registry, catalog, rollouts, audit,
      starter: { start: async (rolloutId, start) => void started.push({ rolloutId, start }) },
      actor: async () => 'jane@vendor.example',
      now: () => new Date(clock),
      out: (line) => lines.push(line),
      // Between two looks at the rollout, Step Functions would run a tick and wait: so does this.
      sleep: async () => {
        const last = started.at(-1)!;
        const tick = await rolloutTick(last.rolloutId, last.start, tickDependencies);
        clock += tick.waitSeconds * 1000;
      },
    });
    cli = async (...args) => {
      await buildVendorCli(async () => vendor, { throwOnError: true }).parseAsync(['node', 'sightline-vendor', ...args]);
    };
  });

  afterEach(async () => {
    await fleet.stop();
  });

  test('register, publish, move the channels, roll out with --watch, then look at the fleet and the trail', async () => {
    const accessOutputs: Record<string, string[]> = {};
    for (const tenantId of ['canary-co', 'acme']) {
      const tenant = await fleet.addTenant({ tenantId, channel: tenantId === 'canary-co' ? 'canary' : 'stable', image: OLD });
      // What each customer stack printed as SightlineOperatorAccess.
      accessOutputs[tenantId] = tenant.clusters.map((cluster) => JSON.stringify(cluster));
    }
    await cli('tenant', 'register', 'canary-co', '--external-id', 'ext-canary-co-7f3a', '--channel', 'canary', ...accessOutputs['canary-co'].flatMap((json) => ['--access', json]));
    await cli('tenant', 'register', 'acme', '--external-id', 'ext-acme-7f3a', '--access', accessOutputs.acme[0]);
    await cli('tenant', 'register', 'acme', '--access', accessOutputs.acme[1], '--window', 'daily 00:00-23:59 UTC');
    expect((await registry.get('acme'))!.clusters).toHaveLength(2);
    await cli('release', 'publish', '1.0.0', '--gateway', OLD, '--sensor', OLD, '--chart', '0.1.0');
    await cli('release', 'publish', '1.1.0', '--gateway', NEW, '--sensor', NEW, '--chart', '0.1.0', '--notes', 'faster spool');
    await cli('channel', 'set', 'canary', '1.1.0');
    await cli('channel', 'set', 'stable', '1.1.0');
    lines.length = 0;
    await cli('rollout', 'start', '--version', '1.1.0', '--bake-seconds', '120', '--watch');

    const rolloutId = started[0].rolloutId;
    expect(rolloutId).toMatch(/^r-20250602-100000-[0-9a-f]{4}$/);
    expect(started[0].start).toEqual({ request: { kind: 'release', version: '1.1.0', settings: { bakeSeconds: 120 } }, startedBy: 'jane@vendor.example' });
    expect(lines[0]).toBe(`started ${rolloutId} (release 1.1.0) as jane@vendor.example; follow it with: sightline-vendor rollout watch ${rolloutId}`);
    expect(lines).toEqual(expect.arrayContaining([
      `${rolloutId}: waiting for the first tick...`,
      `${rolloutId}: release 1.1.0, started by jane@vendor.example; waves canary (1), early (1), rest (0)`,
      expect.stringMatching(/^10:00:0\d wave canary: canary-co$/),
      expect.stringMatching(/^\d\d:\d\d:\d\d   canary-co +rolling-out \(rolling out: .*StatefulSet sightline-gateway: \d\/2 updated/),
      expect.stringMatching(/^\d\d:\d\d:\d\d   canary-co +baking \(healthy, baking \(\d+ s left\)\)$/),
      expect.stringMatching(/^\d\d:\d\d:\d\d wave early: acme$/),
      expect.stringMatching(/^\d\d:\d\d:\d\d   acme +succeeded$/),
      expect.stringMatching(/^\d\d:\d\d:\d\d succeeded: 2 succeeded$/),
    ]));
    expect(process.exitCode ?? 0).toBe(0);

    lines.length = 0;
    await cli('fleet', 'status');
    expect(lines[0]).toBe('channels: canary -> 1.1.0, stable -> 1.1.0');
    expect(lines.slice(1, 4).map((line) => line.split(/\s{2,}/).slice(0, 4))).toEqual([
      ['tenant', 'channel', 'runs', 'should run'], ['canary-co', 'canary', '1.1.0', '1.1.0'], ['acme', 'stable', '1.1.0', '1.1.0'],
    ]);
    expect(lines.at(-1)).toBe('2 tenant(s), 0 not on their channel\'s release');

    lines.length = 0;
    await cli('rollout', 'audit', rolloutId);
    expect(lines.some((line) => line.includes('jane@vendor.example workload.changed ok acme') && line.includes(`{"image":"${OLD}"} -> {"image":"${NEW}"}`))).toBe(true);
    expect(audit.records.filter((record) => record.rolloutId === undefined).map((record) => record.action)).toEqual([
      'tenant.registered', 'tenant.registered', 'tenant.registered', 'release.published', 'release.published', 'channel.moved', 'channel.moved',
    ]);
    // The external id is the tenant's shared secret: it stays out of the trail.
    expect(JSON.stringify(audit.records)).not.toContain('ext-acme-7f3a');

    lines.length = 0;
    await cli('tenant', 'list');
    await cli('release', 'list');
    await cli('rollout', 'list');
    expect(lines.join('\n')).toMatch(/acme +stable +- +daily 00:00-23:59 UTC/);
    expect(lines.join('\n')).toMatch(/1\.1\.0 +canary, stable +0\.1\.0/);
    expect(lines.join('\n')).toContain(`${rolloutId}  release 1.1.0  succeeded`);
  });

  test('abort, and bad input, are answered with what to do', async () => {
    await expect(cli('rollout', 'start')).rejects.toThrow('rollout start: give either --version <version> or --scale');
    await expect(cli('rollout', 'start', '--version', '9.0.0')).rejects.toThrow('rollout start: release 9.0.0 is not published (sightline-vendor release list)');
    await expect(cli('channel', 'set', 'beta', '1.0.0')).rejects.toThrow('channel "beta": the channels are canary and stable');
    await expect(cli('tenant', 'register', 'newco', '--access', '{}')).rejects.toThrow('tenant newco is new: give --external-id');
    await expect(cli('tenant', 'register', 'newco', '--external-id', 'x-123', '--access', 'not json')).rejects.toThrow(/--access: not JSON/);
    await expect(cli('tenant', 'register', 'newco', '--external-id', 'x-123', '--access', '{"accountId":"1"}')).rejects.toThrow(/--access accountId: must be a 12-digit AWS account id/);
    await expect(cli('release', 'publish', '2.0.0', '--gateway', 'repo:latest', '--sensor', NEW, '--chart', '0.1.0')).rejects.toThrow(/release images.gateway: must be an image pinned by digest/);
    await expect(cli('rollout', 'abort', 'r-missing')).rejects.toThrow('no rollout r-missing (sightline-vendor rollout list)');
    await expect(cli('rollout', 'watch', 'r-1', '--interval', '-1')).rejects.toThrow(/expected a positive number/);
  });
});

describe('AWS wiring', () => {
  const cloudformation = mockClient(CloudFormationClient);
  const sfn = mockClient(SFNClient);
  const sts = mockClient(STSClient);
  let dynamo: FakeDynamoDb;

  beforeEach(() => {
    cloudformation.reset();
    sfn.reset();
    sts.reset();
    dynamo = new FakeDynamoDb(Object.fromEntries(Object.values(TABLES).map((table) => [`cp-${table.output}`, { partitionKey: table.partitionKey, sortKey: (table as { sortKey?: string }).sortKey }])));
  });
  afterEach(() => dynamo.restore());
  afterAll(() => {
    cloudformation.restore();
    sfn.restore();
    sts.restore();
  });

  test('tables and the state machine come from the stack outputs; a rollout is an execution named after it, started as the caller', async () => {
    cloudformation.on(DescribeStacksCommand, { StackName: 'SightlineControlPlane' }).resolves({ Stacks: [{
      StackName: 'SightlineControlPlane', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE',
      Outputs: [...Object.values(TABLES).map((table) => ({ OutputKey: table.output, OutputValue: `cp-${table.output}` })), { OutputKey: 'RolloutStateMachineArn', OutputValue: 'arn:aws:states:eu-west-1:999988887777:stateMachine:Rollouts' }],
    }] });
    sts.on(GetCallerIdentityCommand).resolves({ Arn: 'arn:aws:sts::999988887777:assumed-role/AWSReservedSSO_Release_abc/jane@vendor.example', Account: '999988887777' });
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:aws:states:eu-west-1:999988887777:execution:Rollouts:x', startDate: new Date() });
    const vendor = await awsConsole({ stack: 'SightlineControlPlane', region: 'eu-west-1' });
    await vendor.publishRelease({ version: '1.1.0', images: { gateway: NEW, sensor: NEW }, chartVersion: '0.1.0' });
    const rolloutId = await vendor.startRollout({ version: '1.1.0' });
    const call = sfn.commandCalls(StartExecutionCommand)[0].args[0].input;
    expect(call).toEqual({ stateMachineArn: 'arn:aws:states:eu-west-1:999988887777:stateMachine:Rollouts', name: rolloutId, input: expect.any(String) });
    expect(JSON.parse(call.input!)).toEqual({ request: { kind: 'release', version: '1.1.0' }, startedBy: 'jane@vendor.example' });
    expect([...dynamo.tables.get('cp-ReleasesTable')!.values()][0]).toMatchObject({ version: '1.1.0', publishedBy: 'jane@vendor.example' });
  });

  test('a missing stack or output says how to fix it; callers are named from their ARN', async () => {
    cloudformation.on(DescribeStacksCommand).rejects(Object.assign(new Error('Stack with id SightlineControlPlane does not exist'), { name: 'ValidationError' }));
    await expect(awsConsole({ stack: 'SightlineControlPlane', region: 'eu-west-1' })).rejects.toThrow(
      'cannot read the stack SightlineControlPlane in eu-west-1: Stack with id SightlineControlPlane does not exist. Deploy it (npx cdk deploy -c sightline:topology=control-plane) or pass --stack and --region');
    cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'Other', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: [] }] });
    await expect(awsConsole({ stack: 'Other' })).rejects.toThrow('stack Other has no output TenantsTable: is it the Sightline control plane, deployed by this version?');
    expect(actorName('arn:aws:sts::1:assumed-role/Release/jane@vendor.example')).toBe('jane@vendor.example');
    expect(actorName('arn:aws:iam::1:user/ops/sam')).toBe('sam');
    expect(actorName('arn:aws:iam::123456789012:root')).toBe('root-123456789012');
  });
});
