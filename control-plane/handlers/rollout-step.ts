/**
 * The rollout-step Lambda function: one tick of a rollout per invocation. Step Functions calls it with the rollout id
 * (its execution name) and the start request (the execution input), waits as long as it answers, and calls again
 * until it answers `done`. What changed that the vendor's alarms watch goes to CloudWatch in the vendor account.
 */
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { AwsFleet } from '../fleet/aws-fleet';
import type { Fleet } from '../fleet/fleet';
import { rolloutTick, type RolloutStart, type TickDependencies } from '../rollout/rollout-tick';
import { CONTROL_PLANE_NAMESPACE, rolloutMetrics, type RolloutMetricName } from '../rollout/rollout-metrics';
import { summarize } from '../rollout/rollout';
import { dynamoStores } from '../store/dynamo-stores';
import { tableNamesFromEnvironment } from '../store/tables';

export interface RolloutStepEvent {
  rolloutId: string;
  /** The execution input: present on every call, used on the first only. */
  start?: RolloutStart | null;
}

export interface RolloutStepResult {
  rolloutId: string;
  done: boolean;
  status: string;
  waitSeconds: number;
  summary: string;
}

export type MetricsPublisher = (metrics: Partial<Record<RolloutMetricName, number>>) => Promise<void>;

export function cloudWatchPublisher(client = new CloudWatchClient({})): MetricsPublisher {
  return async (metrics) => {
    const data = Object.entries(metrics).map(([MetricName, Value]) => ({ MetricName, Value, Unit: 'Count' as const }));
    if (data.length > 0) await client.send(new PutMetricDataCommand({ Namespace: CONTROL_PLANE_NAMESPACE, MetricData: data }));
  };
}

export function rolloutStepHandler(dependencies: Omit<TickDependencies, 'now'> & { now?: () => Date; publish: MetricsPublisher }) {
  return async (event: RolloutStepEvent): Promise<RolloutStepResult> => {
    if (typeof event?.rolloutId !== 'string' || event.rolloutId === '') throw new Error('rollout-step: the event needs a rolloutId (the execution name)');
    const before = await dependencies.rollouts.get(event.rolloutId);
    const result = await rolloutTick(event.rolloutId, event.start ?? undefined, { now: () => new Date(), ...dependencies });
    await dependencies.publish(rolloutMetrics(before, result.rollout));
    return {
      rolloutId: event.rolloutId, done: result.done, status: result.rollout.status, waitSeconds: result.waitSeconds,
      summary: `${result.rollout.status}: ${summarize(result.rollout)}${result.rollout.reason === undefined ? '' : ` (${result.rollout.reason})`}`,
    };
  };
}

let configured: ((event: RolloutStepEvent) => Promise<RolloutStepResult>) | undefined;

export async function handler(event: RolloutStepEvent): Promise<RolloutStepResult> {
  if (configured === undefined) {
    const fleet: Fleet = new AwsFleet();
    configured = rolloutStepHandler({ ...dynamoStores(tableNamesFromEnvironment(process.env)), fleet, publish: cloudWatchPublisher() });
  }
  return configured(event);
}
