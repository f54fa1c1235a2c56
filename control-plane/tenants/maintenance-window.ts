/**
 * A tenant's maintenance window: the days and local hours in which the control plane may change its Sightline, e.g.
 * `Sat,Sun 02:00-06:00 Europe/Berlin`, `Mon-Fri 22:00-01:00 UTC` (an end before the start runs past midnight),
 * `daily 03:00-04:00 America/New_York`. Times are wall-clock times of the zone, so windows follow daylight saving.
 */

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

export interface MaintenanceWindow {
  /** Days (0 = Sunday) on which the window opens. */
  readonly days: ReadonlySet<number>;
  /** Opening and closing time in minutes after local midnight; closing <= opening means the next day. */
  readonly startMinute: number;
  readonly endMinute: number;
  readonly timeZone: string;
  /** The text it was parsed from. */
  readonly text: string;
}

function dayIndex(name: string, text: string): number {
  const index = DAYS.indexOf(name.toLowerCase().slice(0, 3) as (typeof DAYS)[number]);
  if (index < 0 || name.length < 3) throw new Error(`maintenance window "${text}": "${name}" is not a day (Mon, Tue, ... Sun)`);
  return index;
}

function minuteOf(time: string, text: string): number {
  const match = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(time);
  if (match === null) throw new Error(`maintenance window "${text}": "${time}" is not a time of day (HH:MM, 24-hour)`);
  return Number(match[1]) * 60 + Number(match[2]);
}

export function parseMaintenanceWindow(text: string): MaintenanceWindow {
  const parts = text.trim().split(/\s+/);
  if (parts.length < 2 || parts.length > 3) {
    throw new Error(`maintenance window "${text}": expected "<days> <HH:MM>-<HH:MM> [time zone]", e.g. "Sat,Sun 02:00-06:00 Europe/Berlin"`);
  }
  const [dayText, rangeText, timeZone = 'UTC'] = parts;
  const days = new Set<number>();
  if (dayText.toLowerCase() === 'daily') {
    DAYS.forEach((_day, index) => days.add(index));
  } else {
    for (const item of dayText.split(',')) {
      const [from, to] = item.split('-');
      if (to === undefined) {
        days.add(dayIndex(from, text));
        continue;
      }
      // A range wraps over the week's end: Fri-Mon is Fri, Sat, Sun, Mon.
      for (let day = dayIndex(from, text); ; day = (day + 1) % 7) {
        days.add(day);
        if (day === dayIndex(to, text)) break;
      }
    }
  }
  const [start, end] = rangeText.split('-');
  if (end === undefined) throw new Error(`maintenance window "${text}": "${rangeText}" is not a time range such as 02:00-06:00`);
  const startMinute = minuteOf(start, text);
  const endMinute = minuteOf(end, text);
  if (startMinute === endMinute) throw new Error(`maintenance window "${text}": the window opens and closes at the same time`);
  try {
    new Intl.DateTimeFormat('en-US', { timeZone }).format(0);
  } catch {
    throw new Error(`maintenance window "${text}": "${timeZone}" is not a time zone (use an IANA name such as Europe/Berlin, or UTC)`);
  }
  return { days, startMinute, endMinute, timeZone, text };
}

const formats = new Map<string, Intl.DateTimeFormat>();

/** Local weekday and minute of the day of `at` in `timeZone`. */
function localTime(at: Date, timeZone: string): { day: number; minute: number } {
  let format = formats.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formats.set(timeZone, format);
  }
  const parts = format.formatToParts(at);
  const value = (type: string) => parts.find((part) => part.type === type)!.value;
  return { day: dayIndex(value('weekday'), 'Intl'), minute: Number(value('hour')) * 60 + Number(value('minute')) };
}

export function isWindowOpen(window: MaintenanceWindow, at: Date): boolean {
  const { day, minute } = localTime(at, window.timeZone);
  if (window.startMinute < window.endMinute) return window.days.has(day) && minute >= window.startMinute && minute < window.endMinute;
  // Past midnight: open from the start on a listed day, or until the end on the day after one.
  return (window.days.has(day) && minute >= window.startMinute) || (window.days.has((day + 6) % 7) && minute < window.endMinute);
}

/** The first minute at or after `from`, and before `until`, at which the window is open; undefined if none. */
export function nextWindowOpening(window: MaintenanceWindow, from: Date, until: Date): Date | undefined {
  const minute = 60_000;
  for (let at = Math.ceil(from.getTime() / minute) * minute; at < until.getTime(); at += minute) {
    if (isWindowOpen(window, new Date(at))) return new Date(at);
  }
  return undefined;
}
