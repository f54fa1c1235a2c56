/**
 * A simulated fleet of tenants for the rollout: one fake Kubernetes API server per tenant cluster, and STS, EKS and
 * CloudWatch through aws-sdk-client-mock. STS plays the customers' trust policies (the external id and a source
 * identity are required; a revoked tenant refuses), EKS answers with the fake servers' endpoints, CloudWatch reports
 * each tenant's health alarms from the state of its fake clusters. The real AwsFleet runs against all of it.
 */
import { AssumeRoleCommand, STSClient, type AssumeRoleCommandInput } from '@aws-sdk/client-sts';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import type { WorkloadComponent } from '../../control-plane/contract';
import type { Tenant, TenantCluster } from '../../control-plane/tenants/tenant';
import { FakeCluster, type IssuedSession } from './fake-kubernetes';
import { RELEASE_REPOSITORY } from './kubernetes-objects';

export const HEALTH_ALARMS = [
  'Sightline-Health-GatewayHeartbeat-Critical', 'Sightline-Health-SensorHeartbeat-Critical', 'Sightline-Health-ExportDropped-Critical',
  'Sightline-Health-Drops-Warning', 'Sightline-Gateway-GatewayPodsAvailable-Warning',
];

export interface SimulatedTenantOptions {
  tenantId: string;
  channel?: 'canary' | 'stable';
  /** Image everything runs at first. */
  image: string;
  /** Workload clusters with sensors besides the data-plane cluster; 0: all-in-one (the sensor beside the gateway). */
  workloadClusters?: number;
  /** Images that crash-loop in this tenant's clusters. */
  badImages?: string[];
  /** Images with which this tenant's exports fail (pods ready, the ExportDropped alarm fires). */
  exportBreakingImages?: string[];
  maintenanceWindow?: string;
  pinnedVersion?: string;
  chartVersion?: string;
  nodes?: number;
  /** Alarms in ALARM from the start, whatever runs. */
  alarmsFiring?: string[];
}

interface SimulatedTenant {
  options: SimulatedTenantOptions;
  tenant: Tenant;
  clusters: FakeCluster[];
  accountIds: string[];
  revoked: boolean;
}

let accountCounter = 100000000000;

export class SimulatedFleet {
  readonly tenants = new Map<string, SimulatedTenant>();
  readonly assumeRoleCalls: AssumeRoleCommandInput[] = [];
  private readonly sessions = new Map<string, IssuedSession>();
  private readonly sts: AwsClientStub<STSClient>;
  private readonly eks: AwsClientStub<EKSClient>;
  private readonly cloudwatch: AwsClientStub<CloudWatchClient>;

  /** Since when each alarm's condition has held (tenant and alarm name), to fire after the alarm's evaluation time. */
  private readonly onsets = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now, private readonly controlPlaneRoleArn = 'arn:aws:iam::999988887777:role/sightline-control-plane') {
    this.sts = mockClient(STSClient);
    this.eks = mockClient(EKSClient);
    this.cloudwatch = mockClient(CloudWatchClient);
    this.sts.on(AssumeRoleCommand).callsFake((input: AssumeRoleCommandInput) => this.assumeRole(input));
    this.eks.on(DescribeClusterCommand).callsFake(async (input, getClient) => this.describeCluster(input.name!, await this.callerOf(getClient() as never)));
    this.cloudwatch.on(DescribeAlarmsCommand).callsFake(async (input, getClient) => this.describeAlarms(input.AlarmNames ?? [], await this.callerOf(getClient() as never)));
  }

  /** The session whose credentials a mocked client was built with. */
  private async callerOf(client: { config: { credentials: () => Promise<{ accessKeyId: string }> } }): Promise<IssuedSession> {
    const { accessKeyId } = await client.config.credentials();
    const session = this.sessions.get(accessKeyId);
    if (session === undefined) throw Object.assign(new Error('The security token included in the request is invalid.'), { name: 'UnrecognizedClientException' });
    return session;
  }

  private tenantOfRole(roleArn: string): { simulated: SimulatedTenant; cluster: TenantCluster } | undefined {
    for (const simulated of this.tenants.values()) {
      const cluster = simulated.tenant.clusters.find((candidate) => candidate.operatorRoleArn === roleArn);
      if (cluster !== undefined) return { simulated, cluster };
    }
    return undefined;
  }

  private assumeRole(input: AssumeRoleCommandInput) {
    this.assumeRoleCalls.push(input);
    const found = this.tenantOfRole(input.RoleArn!);
    const denied = () => Object.assign(new Error(`User: ${this.controlPlaneRoleArn} is not authorized to perform: sts:AssumeRole on resource: ${input.RoleArn}`), { name: 'AccessDenied' });
    // The customer's trust policy: this external id, a source identity, and not revoked.
    if (found === undefined || found.simulated.revoked || input.ExternalId !== found.simulated.tenant.externalId || !input.SourceIdentity) throw denied();
    const accessKeyId = `ASIA${String(this.sessions.size + 1).padStart(12, '0')}`;
    const session: IssuedSession = {
      roleArn: input.RoleArn!, sessionName: input.RoleSessionName!, sourceIdentity: input.SourceIdentity,
      accessKeyId, secretAccessKey: `secret-${accessKeyId}`, sessionToken: `token-${accessKeyId}`,
    };
    this.sessions.set(accessKeyId, session);
    return {
      Credentials: { AccessKeyId: accessKeyId, SecretAccessKey: session.secretAccessKey, SessionToken: session.sessionToken, Expiration: new Date(Date.now() + 900_000) },
      SourceIdentity: input.SourceIdentity,
    };
  }

  private describeCluster(name: string, caller: IssuedSession) {
    const found = this.tenantOfRole(caller.roleArn);
    const cluster = found?.simulated.clusters.find((candidate) => candidate.options.clusterName === name && candidate.options.operatorRoleArn === caller.roleArn);
    if (cluster === undefined) throw Object.assign(new Error(`No cluster found for name: ${name}.`), { name: 'ResourceNotFoundException' });
    return { cluster: { name, endpoint: cluster.url, status: 'ACTIVE', certificateAuthority: { data: Buffer.from('fake-ca').toString('base64') } } };
  }

  /**
   * A tenant's health alarms, from what its clusters run now: each fires once its condition has held as long as the
   * deployed alarm evaluates (docs/deploy.md): 5 minutes for the gateway pods and heartbeat, 15 for the sensors', one
   * period for export drops.
   */
  alarmStates(tenantId: string): Record<string, 'OK' | 'ALARM'> {
    const simulated = this.tenants.get(tenantId)!;
    const gateway = simulated.clusters.find((cluster) => cluster.options.workloads.includes('gateway'))!;
    const sensors = simulated.clusters.filter((cluster) => cluster.options.workloads.includes('sensor'));
    const images = simulated.clusters.flatMap((cluster) => cluster.options.workloads.flatMap((component) => cluster.imageOf(component).pods));
    const breaking = simulated.options.exportBreakingImages ?? [];
    const firing = new Set(simulated.options.alarmsFiring ?? []);
    const conditions: Record<string, [boolean, number]> = {
      'Sightline-Health-GatewayHeartbeat-Critical': [gateway.imageOf('gateway').ready === 0, 300],
      'Sightline-Health-SensorHeartbeat-Critical': [sensors.every((cluster) => cluster.imageOf('sensor').ready === 0), 900],
      'Sightline-Health-ExportDropped-Critical': [images.some((image) => breaking.includes(image)), 60],
      'Sightline-Health-Drops-Warning': [false, 300],
      'Sightline-Gateway-GatewayPodsAvailable-Warning': [gateway.imageOf('gateway').ready < 2, 300],
    };
    const states: Record<string, 'OK' | 'ALARM'> = {};
    for (const [name, [condition, seconds]] of Object.entries(conditions)) {
      const key = `${tenantId}/${name}`;
      if (!condition) this.onsets.delete(key);
      else if (!this.onsets.has(key)) this.onsets.set(key, this.now());
      const held = condition && this.now() - this.onsets.get(key)! >= seconds * 1000;
      states[name] = held || firing.has(name) ? 'ALARM' : 'OK';
    }
    return states;
  }

  private describeAlarms(names: string[], caller: IssuedSession) {
    const found = this.tenantOfRole(caller.roleArn);
    if (found === undefined || found.cluster.healthAlarmNames.length === 0) throw Object.assign(new Error('not authorized to perform: cloudwatch:DescribeAlarms'), { name: 'AccessDenied' });
    const states = this.alarmStates(found.simulated.tenant.tenantId);
    return { MetricAlarms: names.filter((name) => name in states).map((name) => ({ AlarmName: name, StateValue: states[name] })) };
  }

  async addTenant(options: SimulatedTenantOptions): Promise<Tenant> {
    const accountIds: string[] = [];
    const clusters: FakeCluster[] = [];
    const descriptors: TenantCluster[] = [];
    const workloadClusters = options.workloadClusters ?? 1;
    const layout: WorkloadComponent[][] = workloadClusters === 0 ? [['gateway', 'sensor']] : [['gateway'], ...Array.from({ length: workloadClusters }, () => ['sensor'] as WorkloadComponent[])];
    for (const [index, workloads] of layout.entries()) {
      const accountId = String(accountCounter += 1);
      accountIds.push(accountId);
      const isDataPlane = workloads.includes('gateway');
      const clusterName = isDataPlane ? 'SightlineDataPlane-gateway' : `workloads-${index}`;
      const operatorRoleArn = `arn:aws:iam::${accountId}:role/${isDataPlane ? 'sightline-operator' : `sightline-operator-sensor-${clusterName}`}`;
      const cluster = await new FakeCluster({
        clusterName, accountId, region: 'eu-west-1', workloads, image: options.image, releaseRepository: RELEASE_REPOSITORY, operatorRoleArn,
        sessions: (key) => this.sessions.get(key), badImages: new Set(options.badImages ?? []), nodes: options.nodes,
      }).start();
      clusters.push(cluster);
      descriptors.push({
        accountId, region: 'eu-west-1', clusterName, operatorRoleArn, workloads, healthAlarmNames: isDataPlane ? HEALTH_ALARMS : [],
        releaseRepository: RELEASE_REPOSITORY, chartVersion: options.chartVersion ?? '0.1.0',
      });
    }
    const tenant: Tenant = {
      tenantId: options.tenantId, externalId: `ext-${options.tenantId}-7f3a`, channel: options.channel ?? 'stable', clusters: descriptors,
      maintenanceWindow: options.maintenanceWindow, pinnedVersion: options.pinnedVersion,
      registeredAt: '2025-06-01T00:00:00.000Z', registeredBy: 'jane@vendor.example',
    };
    this.tenants.set(options.tenantId, { options, tenant, clusters, accountIds, revoked: false });
    return tenant;
  }

  cluster(tenantId: string, component: WorkloadComponent): FakeCluster {
    return this.tenants.get(tenantId)!.clusters.find((cluster) => cluster.options.workloads.includes(component))!;
  }

  clustersOf(tenantId: string): FakeCluster[] {
    return this.tenants.get(tenantId)!.clusters;
  }

  /** The customer dropped the flags (or deleted the role): AssumeRole is refused from now on. */
  revoke(tenantId: string): void {
    this.tenants.get(tenantId)!.revoked = true;
  }

  async stop(): Promise<void> {
    for (const simulated of this.tenants.values()) await Promise.all(simulated.clusters.map((cluster) => cluster.stop()));
    this.sts.restore();
    this.eks.restore();
    this.cloudwatch.restore();
  }
}
