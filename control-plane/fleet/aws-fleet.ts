/**
 * The fleet through AWS: assume the tenant's operator role with the external id and a source identity (so CloudTrail
 * in the customer account names who acts), find the cluster's endpoint with eks:DescribeCluster, authenticate to its
 * API with an EKS token, and read the tenant's health alarms from CloudWatch, all as that role.
 */
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import type { KubeConfig } from '@kubernetes/client-node';
import type { TenantCluster } from '../tenants/tenant';
import { eksToken, type SessionCredentials } from './eks-token';
import { UnreachableError, type AlarmReading, type AlarmValue, type ClusterHandle, type Fleet, type OperatorSession } from './fleet';
import { KubernetesWorkloads } from './kubernetes-workloads';

/** Calls to AWS give up quickly: an unreachable tenant is retried on the next tick, not waited for. */
const AWS_CLIENT_OPTIONS = { maxAttempts: 2, requestHandler: { connectionTimeout: 5_000, requestTimeout: 10_000 } };
/** Each tick opens the cluster afresh; 15 minutes (the STS minimum) covers a tick many times over. */
const SESSION_SECONDS = 900;
/** DescribeAlarms takes at most 100 names a call. */
const ALARMS_PER_CALL = 100;

function describe(error: unknown): string {
  const named = error as { name?: string; message?: string };
  return named.name !== undefined && named.name !== 'Error' ? `${named.name}: ${named.message}` : String(named.message ?? error);
}

export class AwsFleet implements Fleet {
  async open(cluster: TenantCluster, session: OperatorSession): Promise<ClusterHandle> {
    const credentials = await this.assumeOperatorRole(cluster, session);
    const { endpoint, certificateAuthority } = await this.describeCluster(cluster, credentials);
    const token = await eksToken(cluster.clusterName, cluster.region, credentials);
    const k8s = require('@kubernetes/client-node') as typeof import('@kubernetes/client-node');
    const kubeConfig: KubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: cluster.clusterName, server: endpoint, caData: certificateAuthority, skipTLSVerify: false }],
      users: [{ name: session.sessionName, token }],
      contexts: [{ name: cluster.clusterName, cluster: cluster.clusterName, user: session.sessionName }],
      currentContext: cluster.clusterName,
    });
    const workloads = new KubernetesWorkloads(kubeConfig);
    return {
      cluster,
      read: (component) => workloads.read(component),
      apply: (component, settings, current) => workloads.apply(component, settings, current),
      readAlarms: () => this.readAlarms(cluster, credentials),
    };
  }

  private async assumeOperatorRole(cluster: TenantCluster, session: OperatorSession): Promise<SessionCredentials> {
    const sts = new STSClient({ region: cluster.region, ...AWS_CLIENT_OPTIONS });
    try {
      const { Credentials } = await sts.send(new AssumeRoleCommand({
        RoleArn: cluster.operatorRoleArn,
        RoleSessionName: session.sessionName,
        ExternalId: session.externalId,
        SourceIdentity: session.sourceIdentity,
        DurationSeconds: SESSION_SECONDS,
      }));
      if (Credentials?.AccessKeyId === undefined || Credentials.SecretAccessKey === undefined) throw new Error('STS returned no credentials');
      return { accessKeyId: Credentials.AccessKeyId, secretAccessKey: Credentials.SecretAccessKey, sessionToken: Credentials.SessionToken };
    } catch (error) {
      throw new UnreachableError(`cannot assume ${cluster.operatorRoleArn}: ${describe(error)} (access revoked, wrong external id, or the role is gone)`);
    } finally {
      sts.destroy();
    }
  }

  private async describeCluster(cluster: TenantCluster, credentials: SessionCredentials): Promise<{ endpoint: string; certificateAuthority: string }> {
    const eks = new EKSClient({ region: cluster.region, credentials, ...AWS_CLIENT_OPTIONS });
    try {
      const { cluster: found } = await eks.send(new DescribeClusterCommand({ name: cluster.clusterName }));
      if (found?.endpoint === undefined || found.certificateAuthority?.data === undefined) {
        throw new Error(`cluster ${cluster.clusterName} has no endpoint yet (status ${found?.status ?? 'unknown'})`);
      }
      return { endpoint: found.endpoint, certificateAuthority: found.certificateAuthority.data };
    } catch (error) {
      throw new UnreachableError(`cannot describe EKS cluster ${cluster.clusterName} in ${cluster.accountId}/${cluster.region}: ${describe(error)}`);
    } finally {
      eks.destroy();
    }
  }

  private async readAlarms(cluster: TenantCluster, credentials: SessionCredentials): Promise<AlarmReading[]> {
    if (cluster.healthAlarmNames.length === 0) return [];
    const cloudwatch = new CloudWatchClient({ region: cluster.region, credentials, ...AWS_CLIENT_OPTIONS });
    try {
      const readings: AlarmReading[] = [];
      for (let start = 0; start < cluster.healthAlarmNames.length; start += ALARMS_PER_CALL) {
        const { MetricAlarms = [], CompositeAlarms = [] } = await cloudwatch.send(new DescribeAlarmsCommand({
          AlarmNames: cluster.healthAlarmNames.slice(start, start + ALARMS_PER_CALL), AlarmTypes: ['MetricAlarm', 'CompositeAlarm'],
        }));
        for (const alarm of [...MetricAlarms, ...CompositeAlarms]) {
          if (alarm.AlarmName !== undefined) readings.push({ name: alarm.AlarmName, state: (alarm.StateValue ?? 'INSUFFICIENT_DATA') as AlarmValue });
        }
      }
      return readings;
    } catch (error) {
      throw new UnreachableError(`cannot read the health alarms of ${cluster.accountId}/${cluster.region}: ${describe(error)}`);
    } finally {
      cloudwatch.destroy();
    }
  }
}
