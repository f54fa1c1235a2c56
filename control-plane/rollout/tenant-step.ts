/**
 * One tenant's way through a rollout, advanced one step per tick: wait for its maintenance window, change the gateway
 * workloads and wait for them to roll out, then the sensors, bake, and on an unhealthy tenant or a stalled rollout put
 * back what was changed. Every action goes to the audit trail. A tenant that cannot be reached is retried a few
 * ticks and then skipped (or, if it was already changed, rolled back), so it never holds up the fleet.
 */
import { SIGHTLINE_WORKLOADS, type WorkloadComponent } from '../contract';
import type { AuditAction, AuditResult, AuditTrail } from '../audit/audit-trail';
import {
  RefusedError, UnreachableError, describeProgress, rolloutComplete, sameValue,
  type AlarmReading, type ClusterHandle, type Fleet, type OperatorSession, type WorkloadSettings, type WorkloadState,
} from '../fleet/fleet';
import { decideScaling, type ScalingDecision } from '../scaling/scaling-policy';
import { isWindowOpen, nextWindowOpening, parseMaintenanceWindow } from '../tenants/maintenance-window';
import type { Tenant, TenantCluster } from '../tenants/tenant';
import { baselineOf, judgeHealth } from './health-gate';
import type { AppliedChange, RolloutRecord, TenantPhase, TenantProgress } from './rollout-record';

export interface StepContext {
  rollout: RolloutRecord;
  tenant: Tenant;
  fleet: Fleet;
  audit: AuditTrail;
  now: Date;
}

interface Target {
  cluster: TenantCluster;
  component: WorkloadComponent;
}

export const clusterKey = (cluster: TenantCluster) => `${cluster.accountId}/${cluster.region}/${cluster.clusterName}`;

/** Gateways first (new gateways must take old sensors' spans), then sensors. */
export function stagesOf(tenant: Tenant): Target[][] {
  const targets = (component: WorkloadComponent) => tenant.clusters.filter((cluster) => cluster.workloads.includes(component)).map((cluster) => ({ cluster, component }));
  return [targets('gateway'), targets('sensor')].filter((stage) => stage.length > 0);
}

/** STS takes 2 to 64 characters of letters, digits and `+=,.@-` for both. */
function stsName(value: string): string {
  const cleaned = value.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
  return cleaned.length >= 2 ? cleaned : `${cleaned}--`.slice(0, 2);
}

export function operatorSession(rollout: RolloutRecord, tenant: Tenant): OperatorSession {
  return { sourceIdentity: stsName(rollout.startedBy), sessionName: stsName(`sightline-${rollout.rolloutId}`), externalId: tenant.externalId };
}

function matches(current: WorkloadState, settings: WorkloadSettings): boolean {
  return (settings.image === undefined || settings.image === current.image)
    && (settings.resources === undefined || sameValue(settings.resources, current.resources))
    && (settings.autoscaler === undefined || (current.autoscaler !== undefined
      && settings.autoscaler.minReplicas === current.autoscaler.minReplicas && settings.autoscaler.maxReplicas === current.autoscaler.maxReplicas));
}

/** The current values of exactly what `settings` changes: what a rollback puts back. */
function snapshot(current: WorkloadState, settings: WorkloadSettings): WorkloadSettings {
  return {
    ...(settings.image === undefined ? {} : { image: current.image }),
    ...(settings.resources === undefined ? {} : { resources: current.resources ?? {} }),
    ...(settings.autoscaler === undefined || current.autoscaler === undefined ? {} : {
      autoscaler: { minReplicas: current.autoscaler.minReplicas, maxReplicas: current.autoscaler.maxReplicas },
    }),
  };
}

const TICK_SECONDS = { applying: 5, 'rolling-out': 15, baking: 60, 'rolling-back': 15, 'waiting-window': 300, unreachable: 30 } as const;

/** Runs one step of one tenant. Never throws for a tenant's trouble: that ends up in its progress. */
export class TenantStep {
  private readonly handles = new Map<string, Promise<ClusterHandle>>();
  private readonly next: TenantProgress;
  private readonly session: OperatorSession;

  constructor(progress: TenantProgress, private readonly context: StepContext) {
    this.next = structuredClone(progress);
    this.session = operatorSession(context.rollout, context.tenant);
  }

  /** Seconds until this tenant needs the next tick. */
  static waitSeconds(progress: TenantProgress, context: { rollout: RolloutRecord; now: Date }): number {
    if (progress.attempts > 0) return TICK_SECONDS.unreachable;
    if (progress.phase === 'baking') {
      const left = context.rollout.settings.bakeSeconds - (context.now.getTime() - Date.parse(progress.since)) / 1000;
      return Math.max(1, Math.min(TICK_SECONDS.baking, Math.ceil(left)));
    }
    return (TICK_SECONDS as Record<string, number>)[progress.phase] ?? TICK_SECONDS.applying;
  }

  async advance(): Promise<TenantProgress> {
    try {
      switch (this.next.phase) {
        case 'pending': await this.start(); break;
        case 'waiting-window': await this.waitForWindow(); break;
        case 'applying': await this.applyStage(); break;
        case 'rolling-out': await this.watchRollout(); break;
        case 'baking': await this.bake(); break;
        case 'rolling-back': await this.rollBack(); break;
        default: break;
      }
    } catch (error) {
      await this.trouble(error);
    }
    return this.next;
  }

  private get settings() {
    return this.context.rollout.settings;
  }

  private secondsIn(): number {
    return (this.context.now.getTime() - Date.parse(this.next.since)) / 1000;
  }

  private moveTo(phase: TenantPhase, fields: Partial<TenantProgress> = {}): void {
    Object.assign(this.next, { phase, since: this.context.now.toISOString(), attempts: 0, detail: undefined }, fields);
  }

  private async audit(action: AuditAction, result: AuditResult, fields: { target?: string; before?: unknown; after?: unknown; detail?: string } = {}): Promise<void> {
    await this.context.audit.record({
      at: this.context.now.toISOString(), actor: this.context.rollout.startedBy, action, result,
      rolloutId: this.context.rollout.rolloutId, tenantId: this.context.tenant.tenantId, ...fields,
    });
  }

  private target(cluster: TenantCluster, component: WorkloadComponent): string {
    const { kind, name } = SIGHTLINE_WORKLOADS[component];
    return `${clusterKey(cluster)} ${kind} ${name}`;
  }

  private open(cluster: TenantCluster): Promise<ClusterHandle> {
    const key = clusterKey(cluster);
    let handle = this.handles.get(key);
    if (handle === undefined) {
      handle = this.context.fleet.open(cluster, this.session);
      this.handles.set(key, handle);
    }
    return handle;
  }

  private clusterOf(key: string): TenantCluster {
    const cluster = this.context.tenant.clusters.find((candidate) => clusterKey(candidate) === key);
    if (cluster === undefined) throw new RefusedError(`cluster ${key} is no longer registered for tenant ${this.context.tenant.tenantId}`);
    return cluster;
  }

  private async readAlarms(): Promise<AlarmReading[]> {
    const readings: AlarmReading[] = [];
    for (const cluster of this.context.tenant.clusters.filter((candidate) => candidate.healthAlarmNames.length > 0)) {
      readings.push(...await (await this.open(cluster)).readAlarms());
    }
    return readings;
  }

  private async start(): Promise<void> {
    const text = this.context.tenant.maintenanceWindow;
    if (text !== undefined && !isWindowOpen(parseMaintenanceWindow(text), this.context.now)) {
      const deadline = new Date(this.context.now.getTime() + this.settings.windowWaitSeconds * 1000);
      const opening = nextWindowOpening(parseMaintenanceWindow(text), this.context.now, deadline);
      if (opening === undefined) {
        await this.skip(`its maintenance window (${text}) does not open within ${this.settings.windowWaitSeconds / 3600} h`);
        return;
      }
      this.moveTo('waiting-window', { windowDeadline: deadline.toISOString(), detail: `waits for its maintenance window (${text}), next open ${opening.toISOString()}` });
      await this.audit('tenant.deferred', 'ok', { detail: this.next.detail });
      return;
    }
    this.moveTo('applying', { stage: 0 });
    await this.applyStage();
  }

  private async waitForWindow(): Promise<void> {
    const text = this.context.tenant.maintenanceWindow!;
    if (isWindowOpen(parseMaintenanceWindow(text), this.context.now)) {
      this.moveTo('applying', { stage: 0 });
      await this.applyStage();
    } else if (this.context.now.getTime() >= Date.parse(this.next.windowDeadline!)) {
      await this.skip(`its maintenance window (${text}) did not open within ${this.settings.windowWaitSeconds / 3600} h`);
    }
  }

  private async skip(reason: string): Promise<void> {
    this.moveTo('skipped', { reason });
    await this.audit('tenant.skipped', 'skipped', { detail: reason });
  }

  /** What a scaling run sets, decided once per tenant from all its workloads and alarms. */
  private async scalingDecision(baseline: AlarmReading[]): Promise<ScalingDecision> {
    let sensorNodes = 0;
    let gateway: WorkloadState['autoscaler'];
    let sensorResources: WorkloadState['resources'];
    for (const { cluster, component } of stagesOf(this.context.tenant).flat()) {
      const state = await (await this.open(cluster)).read(component);
      if (component === 'sensor') {
        sensorNodes += state.progress.desired;
        sensorResources ??= state.resources;
      } else {
        gateway ??= state.autoscaler;
      }
    }
    return decideScaling({ sensorNodes, gateway, sensorResources, alarms: baseline }, this.context.rollout.scalingLimits);
  }

  private desired(component: WorkloadComponent, decision: ScalingDecision | undefined): WorkloadSettings {
    const { release } = this.context.rollout;
    if (release !== undefined) return { image: release.images[component] };
    if (component === 'gateway') return decision?.gateway === undefined ? {} : { autoscaler: decision.gateway };
    return decision?.sensorResources === undefined ? {} : { resources: decision.sensorResources };
  }

  private async applyStage(): Promise<void> {
    const stages = stagesOf(this.context.tenant);
    if (this.next.baseline === undefined) {
      const readings = await this.readAlarms();
      this.next.baseline = baselineOf(readings);
      const alreadyFiring = readings.filter((reading) => reading.state === 'ALARM').map((reading) => reading.name);
      await this.audit('tenant.health-baseline', 'ok', {
        after: this.next.baseline, detail: alreadyFiring.length === 0 ? undefined : `already in ALARM before the change (not held against it): ${alreadyFiring.join(', ')}`,
      });
    }
    let decision: ScalingDecision | undefined;
    if (this.context.rollout.kind === 'scale') {
      decision = await this.scalingDecision(Object.entries(this.next.baseline).map(([name, state]) => ({ name, state })));
      this.next.detail = decision.reasons.join('; ') || 'sized right';
    }
    for (; this.next.stage < stages.length; this.next.stage += 1) {
      let changed = 0;
      for (const { cluster, component } of stages[this.next.stage]) {
        const handle = await this.open(cluster);
        const current = await handle.read(component);
        const settings = this.desired(component, decision);
        if (Object.keys(settings).length === 0 || matches(current, settings)) continue;
        const change: AppliedChange = { cluster: clusterKey(cluster), component, before: snapshot(current, settings), after: settings };
        try {
          await handle.apply(component, settings, current);
        } catch (error) {
          if (error instanceof RefusedError) await this.audit('workload.change-refused', 'refused', { target: this.target(cluster, component), before: change.before, after: settings, detail: error.message });
          throw error;
        }
        this.next.changes.push(change);
        changed += 1;
        await this.audit('workload.changed', 'ok', { target: this.target(cluster, component), before: change.before, after: settings, detail: decision?.reasons.join('; ') });
      }
      if (changed > 0) {
        const what = stages[this.next.stage].map(({ cluster, component }) => this.target(cluster, component)).join(', ');
        this.moveTo('rolling-out', { stage: this.next.stage, detail: `changed ${what}; waiting for the rollout` });
        return;
      }
    }
    if (this.next.changes.length === 0) {
      this.moveTo('unchanged', { detail: decision?.reasons.join('; ') || undefined });
      await this.audit('tenant.unchanged', 'ok', { detail: this.context.rollout.release === undefined ? 'sized right' : `already runs ${this.context.rollout.release.version}` });
    } else {
      this.moveTo('baking', { detail: `baking ${this.settings.bakeSeconds} s` });
    }
  }

  /** The changes of the current stage, with the workloads' state now. */
  private async stageStates(changes: AppliedChange[]): Promise<Array<{ change: AppliedChange; state: WorkloadState }>> {
    return Promise.all(changes.map(async (change) => ({
      change, state: await (await this.open(this.clusterOf(change.cluster))).read(change.component),
    })));
  }

  private async healthGate(): Promise<boolean> {
    const verdict = judgeHealth(this.next.baseline ?? {}, await this.readAlarms());
    if (verdict.healthy) return true;
    await this.unhealthy(`health alarms went into ALARM: ${verdict.firing.join(', ')}`);
    return false;
  }

  private async unhealthy(reason: string): Promise<void> {
    await this.audit('tenant.unhealthy', 'unhealthy', { detail: reason });
    this.moveTo('rolling-back', { reason, rollbackApplied: false });
    await this.rollBack();
  }

  private async watchRollout(): Promise<void> {
    const stage = stagesOf(this.context.tenant)[this.next.stage] ?? [];
    const changes = this.next.changes.filter((change) => stage.some((target) => clusterKey(target.cluster) === change.cluster && target.component === change.component));
    const states = await this.stageStates(changes);
    if (!await this.healthGate()) return;
    const waiting = states.filter(({ change, state }) => !rolloutComplete(state.progress) || !matches(state, change.after));
    if (waiting.length === 0) {
      for (const { change, state } of states) {
        await this.audit('workload.rolled-out', 'ok', { target: this.target(this.clusterOf(change.cluster), change.component), after: change.after, detail: describeProgress(state.progress) });
      }
      this.next.stage += 1;
      if (this.next.stage < stagesOf(this.context.tenant).length) {
        this.moveTo('applying', { stage: this.next.stage });
        await this.applyStage();
      } else {
        this.moveTo('baking', { detail: `rolled out; baking ${this.settings.bakeSeconds} s` });
      }
      return;
    }
    const progress = waiting.map(({ change, state }) => `${this.target(this.clusterOf(change.cluster), change.component)}: ${describeProgress(state.progress)}`).join('; ');
    if (this.secondsIn() > this.settings.rolloutTimeoutSeconds) {
      await this.unhealthy(`did not finish rolling out within ${this.settings.rolloutTimeoutSeconds} s: ${progress}`);
      return;
    }
    Object.assign(this.next, { attempts: 0, detail: `rolling out: ${progress}` });
  }

  private async bake(): Promise<void> {
    const states = await this.stageStates(this.next.changes);
    if (!await this.healthGate()) return;
    const degraded = states.filter(({ state }) => !rolloutComplete(state.progress));
    if (degraded.length > 0) {
      await this.unhealthy(`no longer fully available while baking: ${degraded.map(({ change, state }) => `${this.target(this.clusterOf(change.cluster), change.component)}: ${describeProgress(state.progress)}`).join('; ')}`);
      return;
    }
    if (this.secondsIn() >= this.settings.bakeSeconds) {
      this.moveTo('succeeded');
      await this.audit('tenant.succeeded', 'ok', { after: this.next.changes.map((change) => ({ cluster: change.cluster, component: change.component, ...change.after })) });
      return;
    }
    Object.assign(this.next, { attempts: 0, detail: `healthy, baking (${Math.ceil(this.settings.bakeSeconds - this.secondsIn())} s left)` });
  }

  private async rollBack(): Promise<void> {
    if (!this.next.rollbackApplied) {
      // Sensors before gateways: the reverse of the way in.
      for (const change of [...this.next.changes].reverse().filter((candidate) => !candidate.reverted)) {
        const cluster = this.clusterOf(change.cluster);
        const handle = await this.open(cluster);
        const current = await handle.read(change.component);
        try {
          if (!matches(current, change.before)) await handle.apply(change.component, change.before, current);
        } catch (error) {
          if (error instanceof RefusedError) {
            await this.rollbackFailed(`${this.target(cluster, change.component)} could not be put back: ${error.message}`);
            return;
          }
          throw error;
        }
        change.reverted = true;
        await this.audit('workload.rolled-back', 'ok', { target: this.target(cluster, change.component), before: change.after, after: change.before, detail: this.next.reason });
      }
      Object.assign(this.next, { rollbackApplied: true, since: this.context.now.toISOString(), attempts: 0 });
    }
    const states = await this.stageStates(this.next.changes);
    const waiting = states.filter(({ change, state }) => !rolloutComplete(state.progress) || !matches(state, change.before));
    if (waiting.length === 0) {
      this.moveTo('rolled-back', { reason: this.next.reason });
      await this.audit('tenant.rolled-back', 'ok', { detail: this.next.reason });
      return;
    }
    const progress = waiting.map(({ change, state }) => `${this.target(this.clusterOf(change.cluster), change.component)}: ${describeProgress(state.progress)}`).join('; ');
    if (this.secondsIn() > this.settings.rolloutTimeoutSeconds) {
      await this.rollbackFailed(`rolled back, but not back to full availability within ${this.settings.rolloutTimeoutSeconds} s: ${progress}`);
      return;
    }
    Object.assign(this.next, { attempts: 0, detail: `rolling back: ${progress}` });
  }

  private async rollbackFailed(detail: string): Promise<void> {
    const reason = `${this.next.reason ?? 'rollback'}; ROLLBACK FAILED: ${detail}`;
    this.moveTo('rollback-failed', { reason });
    await this.audit('tenant.rollback-failed', 'failed', { detail: reason });
  }

  /** A tenant that cannot be reached or refuses: retried, then skipped, rolled back, or given up on. */
  private async trouble(error: unknown): Promise<void> {
    const message = (error as Error).message ?? String(error);
    const changed = this.next.changes.some((change) => !change.reverted);
    if (error instanceof RefusedError && !changed && this.next.phase === 'applying') {
      await this.skip(`the cluster refused the change: ${message}`);
      return;
    }
    if (error instanceof RefusedError && this.next.phase !== 'rolling-back') {
      await this.audit('tenant.unhealthy', 'refused', { detail: message });
      this.moveTo('rolling-back', { reason: `the cluster refused the change: ${message}`, rollbackApplied: false });
      return;
    }
    if (!(error instanceof UnreachableError) && !(error instanceof RefusedError)) throw error;
    this.next.attempts += 1;
    this.next.detail = `unreachable (attempt ${this.next.attempts} of ${this.settings.unreachableAttempts}): ${message}`;
    await this.audit('tenant.unreachable', 'failed', { detail: this.next.detail });
    if (this.next.attempts < this.settings.unreachableAttempts) return;
    if (this.next.phase === 'rolling-back') {
      await this.rollbackFailed(`lost the cluster: ${message}`);
    } else if (changed) {
      await this.audit('tenant.unhealthy', 'failed', { detail: `lost the cluster mid-change: ${message}` });
      this.moveTo('rolling-back', { reason: `lost the cluster mid-change: ${message}`, rollbackApplied: false });
    } else {
      await this.skip(`unreachable: ${message}`);
    }
  }
}
