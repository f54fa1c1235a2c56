import { createLogRateLimit } from '../../sensor/common/log-rate-limit';

describe('createLogRateLimit', () => {
  it('allows the first lines of each window, then reports how many it held back once the next window starts', () => {
    let now = 1_000;
    const limit = createLogRateLimit(2, 60_000, () => now);
    expect([limit.allow(), limit.allow(), limit.allow(), limit.allow()]).toEqual([true, true, false, false]);
    expect(limit.skippedInClosedWindow()).toBe(0); // the window is still open

    now += 59_999;
    expect(limit.allow()).toBe(false);
    now += 1;
    expect(limit.allow()).toBe(true);
    expect(limit.skippedInClosedWindow()).toBe(3);
    expect(limit.skippedInClosedWindow()).toBe(0); // reported once
  });

  it('never reports a count for a window in which nothing was held back', () => {
    let now = 0;
    const limit = createLogRateLimit(5, 1000, () => now);
    for (let i = 0; i < 5; i++) expect(limit.allow()).toBe(true);
    now = 1000;
    expect(limit.allow()).toBe(true);
    expect(limit.skippedInClosedWindow()).toBe(0);
  });
});
