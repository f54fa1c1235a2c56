/**
 * The sensor yields the CPU to the workloads it watches: every one of its threads, those started after the capture
 * (the ring-buffer reader) included, runs at the configured nice value, read back from the kernel's view of the
 * running process; a nicer value the sensor was started with is kept.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lowerThreadPriorities } from '../../sensor/runtime/cpu-priority';
import { startSensorProcess, type SensorProcess } from '../support/sensor-process';
import { threadStatField } from '../support/thread-stat';

/** Nice value of each thread of `pid`; not the idle-first watcher's, at nice 0 on purpose (idle-first-scheduling.e2e.test.ts). */
function threadNiceness(pid: number): number[] {
  const tids = fs.readdirSync(`/proc/${pid}/task`).filter((tid) => fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() !== 'sightline-sched');
  return tids.map((tid) => threadStatField(pid, tid, 19));
}

const COMPILED = path.resolve(__dirname, '../../dist/sensor/runtime/cpu-priority.js');

/** Runs lowerThreadPriorities(target) in a fresh node process started at `startNice`; its outcome and threads' nice values. */
function inChild(startNice: number, target: number): { outcome: ReturnType<typeof lowerThreadPriorities>; niceness: number[] } {
  const script = `
    const { lowerThreadPriorities } = require(${JSON.stringify(COMPILED)});
    const fs = require('fs');
    const outcome = lowerThreadPriorities(${target});
    const niceness = fs.readdirSync('/proc/self/task').map((tid) => {
      const stat = fs.readFileSync('/proc/self/task/' + tid + '/stat', 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    });
    process.stdout.write(JSON.stringify({ outcome, niceness }));`;
  return JSON.parse(execFileSync('nice', ['-n', String(startNice), process.execPath, '-e', script], { encoding: 'utf8' }));
}

describe('the sensor yields the CPU to workloads', () => {
  let sensor: SensorProcess | undefined;
  afterEach(async () => {
    await sensor?.remove();
    sensor = undefined;
  });

  it('runs every thread at nice 19 by default, the threads started with the capture included', async () => {
    sensor = await startSensorProcess();
    const niceness = threadNiceness(sensor.pid);
    // V8's platform workers, the libuv pool and the ring-buffer reader: a node process alone has more than five.
    expect(niceness.length).toBeGreaterThan(5);
    expect(niceness.every((value) => value === 19)).toBe(true);
  });

  it('keeps an equal share with capture.niceness 0', async () => {
    sensor = await startSensorProcess({ config: { capture: { niceness: 0 } } });
    const own = os.getPriority();
    expect(threadNiceness(sensor.pid).every((value) => value === Math.max(own, 0))).toBe(true);
  });

  it('raises every thread to the target and never lowers a nicer start', () => {
    const raised = inChild(0, 7);
    expect(raised.niceness.every((value) => value === 7)).toBe(true);
    expect(raised.outcome).toMatchObject({ lowered: raised.outcome.threads, kept: 0, failed: 0 });

    const kept = inChild(15, 10);
    expect(kept.niceness.every((value) => value === 15)).toBe(true);
    expect(kept.outcome).toMatchObject({ lowered: 0, kept: kept.outcome.threads, failed: 0 });
  });

  it('refuses a value outside 0-19', () => {
    expect(() => lowerThreadPriorities(20)).toThrow('niceness must be an integer from 0 to 19, got 20');
    expect(() => lowerThreadPriorities(-1)).toThrow('got -1');
  });
});
