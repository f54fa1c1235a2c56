/**
 * How big a tenant's Sightline should be, from the size of its fleet and its health, within the vendor's limits:
 * the gateway HPA's floor follows the number of nodes running sensors (every node ships spans), its ceiling leaves
 * headroom above the floor and doubles when the HPA ran at its maximum; sensors move up one resource tier when they
 * drop captures. Nothing is lowered on a hunch: only the floor follows a shrinking fleet.
 */
import { sameValue, type AlarmReading, type AutoscalerBounds, type ResourceRequirements } from '../fleet/fleet';

export interface ScalingLimits {
  gateway: {
    /** Fewest gateway replicas any tenant runs. */
    minReplicasFloor: number;
    /** Most replicas the control plane may allow (the customer's admission policy has its own ceiling, 50 by default). */
    maxReplicasCeiling: number;
    /** Sensor nodes one gateway replica is sized for. */
    nodesPerReplica: number;
    /** Ceiling as a multiple of the floor. */
    headroom: number;
  };
  /** Sensor container resources, smallest first; the chart's default is the first. */
  sensorTiers: ResourceRequirements[];
}

export const DEFAULT_SCALING_LIMITS: ScalingLimits = {
  gateway: { minReplicasFloor: 2, maxReplicasCeiling: 20, nodesPerReplica: 50, headroom: 3 },
  sensorTiers: [
    { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '512Mi' } },
    { requests: { cpu: '250m', memory: '384Mi' }, limits: { memory: '768Mi' } },
    { requests: { cpu: '500m', memory: '512Mi' }, limits: { memory: '1Gi' } },
  ],
};

export interface ScalingInput {
  /** Nodes running the tenant's sensors (the DaemonSets' desired pods). */
  sensorNodes: number;
  gateway?: AutoscalerBounds & { currentReplicas: number };
  sensorResources?: ResourceRequirements;
  alarms: AlarmReading[];
}

export interface ScalingDecision {
  gateway?: AutoscalerBounds;
  sensorResources?: ResourceRequirements;
  reasons: string[];
}

const clamp = (value: number, low: number, high: number) => Math.min(Math.max(value, low), high);

export function checkScalingLimits(limits: ScalingLimits): void {
  const { minReplicasFloor, maxReplicasCeiling, nodesPerReplica, headroom } = limits.gateway;
  if (!(minReplicasFloor >= 1 && maxReplicasCeiling >= minReplicasFloor && nodesPerReplica > 0 && headroom >= 1)) {
    throw new Error(`scaling limits: need 1 <= minReplicasFloor (${minReplicasFloor}) <= maxReplicasCeiling (${maxReplicasCeiling}), nodesPerReplica > 0 and headroom >= 1`);
  }
  if (limits.sensorTiers.length === 0) throw new Error('scaling limits: name at least one sensor resource tier');
}

export function decideScaling(input: ScalingInput, limits: ScalingLimits = DEFAULT_SCALING_LIMITS): ScalingDecision {
  checkScalingLimits(limits);
  const reasons: string[] = [];
  const decision: ScalingDecision = { reasons };
  const { minReplicasFloor, maxReplicasCeiling, nodesPerReplica, headroom } = limits.gateway;

  if (input.gateway !== undefined) {
    const current = input.gateway;
    const minReplicas = clamp(Math.ceil(input.sensorNodes / nodesPerReplica), minReplicasFloor, maxReplicasCeiling);
    const saturated = current.currentReplicas >= current.maxReplicas;
    const wantedMax = Math.max(minReplicas * headroom, saturated ? current.maxReplicas * 2 : current.maxReplicas);
    const maxReplicas = clamp(wantedMax, minReplicas, maxReplicasCeiling);
    if (minReplicas !== current.minReplicas || maxReplicas !== current.maxReplicas) {
      decision.gateway = { minReplicas, maxReplicas };
      if (minReplicas !== current.minReplicas) reasons.push(`gateway floor ${current.minReplicas} -> ${minReplicas} for ${input.sensorNodes} sensor nodes (${nodesPerReplica} per replica)`);
      if (maxReplicas !== current.maxReplicas) {
        reasons.push(saturated && maxReplicas > current.maxReplicas
          ? `gateway ceiling ${current.maxReplicas} -> ${maxReplicas}: the HPA ran at its maximum (${current.currentReplicas} replicas)`
          : `gateway ceiling ${current.maxReplicas} -> ${maxReplicas} (${headroom}x the floor, at most ${maxReplicasCeiling})`);
      }
    }
  }

  if (input.sensorResources !== undefined) {
    const tier = limits.sensorTiers.findIndex((candidate) => sameValue(candidate, input.sensorResources));
    const dropping = input.alarms.some((alarm) => alarm.state === 'ALARM' && alarm.name.includes('-Health-Drops-'));
    if (tier < 0) {
      if (dropping) reasons.push('sensors drop captures, but their resources were set by hand: left as they are');
    } else if (dropping && tier + 1 < limits.sensorTiers.length) {
      decision.sensorResources = limits.sensorTiers[tier + 1];
      reasons.push(`sensor resources tier ${tier + 1} -> ${tier + 2}: sensors dropped captures`);
    } else if (dropping) {
      reasons.push('sensors drop captures at the largest resource tier: raise the tiers or look at the node');
    }
  }
  return decision;
}
