import { isWindowOpen, nextWindowOpening, parseMaintenanceWindow } from '../../control-plane/tenants/maintenance-window';

const at = (iso: string) => new Date(iso);

test('days, ranges and wall-clock hours of the zone', () => {
  const weekend = parseMaintenanceWindow('Sat,Sun 02:00-06:00 Europe/Berlin');
  expect(isWindowOpen(weekend, at('2025-06-07T00:30:00Z'))).toBe(true); // Sat 02:30 CEST
  expect(isWindowOpen(weekend, at('2025-06-07T04:00:00Z'))).toBe(false); // Sat 06:00 CEST: closed
  expect(isWindowOpen(weekend, at('2025-06-09T00:30:00Z'))).toBe(false); // Mon
  // Winter time: the same local window is an hour later in UTC.
  expect(isWindowOpen(weekend, at('2025-01-11T01:30:00Z'))).toBe(true); // Sat 02:30 CET
  expect(isWindowOpen(weekend, at('2025-01-11T00:30:00Z'))).toBe(false); // Sat 01:30 CET
  const weekdays = parseMaintenanceWindow('Mon-Fri 01:00-03:00');
  expect([...weekdays.days].sort()).toEqual([1, 2, 3, 4, 5]);
  expect(weekdays.timeZone).toBe('UTC');
  expect([...parseMaintenanceWindow('Fri-Mon 01:00-02:00').days].sort()).toEqual([0, 1, 5, 6]);
});

test('a window past midnight belongs to the day it opens', () => {
  const friday = parseMaintenanceWindow('Fri 22:00-02:00 UTC');
  expect(isWindowOpen(friday, at('2025-06-06T23:00:00Z'))).toBe(true); // Fri 23:00
  expect(isWindowOpen(friday, at('2025-06-07T01:59:00Z'))).toBe(true); // Sat 01:59, still Friday's window
  expect(isWindowOpen(friday, at('2025-06-07T22:30:00Z'))).toBe(false); // Sat 22:30
  expect(isWindowOpen(friday, at('2025-06-06T01:00:00Z'))).toBe(false); // Fri 01:00: Thursday had no window
});

test('the next opening, within a limit', () => {
  const window = parseMaintenanceWindow('daily 13:00-15:00 UTC');
  expect(nextWindowOpening(window, at('2025-06-02T10:00:20Z'), at('2025-06-02T16:00:00Z'))).toEqual(at('2025-06-02T13:00:00Z'));
  expect(nextWindowOpening(window, at('2025-06-02T15:00:00Z'), at('2025-06-02T20:00:00Z'))).toBeUndefined();
});

test('bad windows say what is wrong', () => {
  expect(() => parseMaintenanceWindow('weekends')).toThrow(/expected "<days> <HH:MM>-<HH:MM> \[time zone\]"/);
  expect(() => parseMaintenanceWindow('Sat 2:00-06:00')).toThrow(/"2:00" is not a time of day/);
  expect(() => parseMaintenanceWindow('Caturday 02:00-06:00')).toThrow(/"Caturday" is not a day/);
  expect(() => parseMaintenanceWindow('Sat 02:00-06:00 Mars/Olympus')).toThrow(/"Mars\/Olympus" is not a time zone/);
  expect(() => parseMaintenanceWindow('Sat 02:00-02:00')).toThrow(/opens and closes at the same time/);
});
