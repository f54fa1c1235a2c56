/**
 * The health gate: a tenant is unhealthy when one of its Sightline health alarms went into ALARM after the change
 * started. Alarms already in ALARM before the change (a sink outage, a cluster without sensors yet) are reported but
 * are not the release's fault, so they do not fail it.
 */
import type { AlarmReading, AlarmValue } from '../fleet/fleet';

export interface HealthVerdict {
  healthy: boolean;
  /** Alarms that went into ALARM since the baseline. */
  firing: string[];
  /** Alarms in ALARM before the change too. */
  alreadyFiring: string[];
}

export function baselineOf(readings: AlarmReading[]): Record<string, AlarmValue> {
  return Object.fromEntries(readings.map((reading) => [reading.name, reading.state]));
}

export function judgeHealth(baseline: Record<string, AlarmValue>, now: AlarmReading[]): HealthVerdict {
  const inAlarm = now.filter((reading) => reading.state === 'ALARM').map((reading) => reading.name);
  const firing = inAlarm.filter((name) => baseline[name] !== 'ALARM');
  return { healthy: firing.length === 0, firing, alreadyFiring: inAlarm.filter((name) => baseline[name] === 'ALARM') };
}
