/**
 * Idle-first scheduling of the sensor's JS thread (capture.idleFirst), read back from the kernel: the running
 * sensor's JS thread is in the idle class while it has nothing to do, its other threads are not; and on a CPU that a
 * busy process never leaves idle, the thread is moved to the normal class and gets its work done (the idle class
 * alone would give it a few thousandths of the CPU), then back to the idle class once it sleeps.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startSensorProcess, type SensorProcess } from '../support/sensor-process';
import { threadStatField } from '../support/thread-stat';

const SCHED_OTHER = 0;
const SCHED_IDLE = 5;

/** Scheduling policy of a thread (stat field 41). */
const policyOf = (pid: number, tid: number): number => threadStatField(pid, tid, 41);

const COMPILED = path.resolve(__dirname, '../../dist/sensor/runtime/cpu-priority.js');

/**
 * In a node process pinned to CPU 0 beside a busy loop pinned there too: starts idle-first scheduling, does `workMs`
 * of CPU work on its JS thread, stops the busy loop, sleeps, stops the scheduling; the policy at each step.
 */
const CHILD = `
const fs = require('fs');
const { startIdleFirstScheduling } = require(${JSON.stringify(COMPILED)});
const [burnerPid, workMs] = process.argv.slice(1).map(Number);
const policy = () => { const stat = fs.readFileSync('/proc/self/task/' + process.pid + '/stat', 'utf8'); return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]); };
const ranMs = () => Number(fs.readFileSync('/proc/self/task/' + process.pid + '/schedstat', 'utf8').split(' ')[0]) / 1e6;
const scheduling = startIdleFirstScheduling();
if ('unavailable' in scheduling) { console.log(JSON.stringify({ unavailable: scheduling.unavailable })); process.exit(0); }
const startPolicy = policy();
const started = Date.now(), ranBefore = ranMs();
while (ranMs() - ranBefore < workMs) {}
const busy = { wallMs: Date.now() - started, stats: scheduling.stats() };
process.kill(burnerPid, 'SIGKILL');
setTimeout(() => {
  const rested = { policy: policy(), stats: scheduling.stats() };
  scheduling.stop();
  console.log(JSON.stringify({ startPolicy, busy, rested, stoppedPolicy: policy() }));
}, 300);
`;

describe('idle-first scheduling of the JS thread', () => {
  let sensor: SensorProcess | undefined;
  afterEach(async () => {
    await sensor?.remove();
    sensor = undefined;
  });

  it('runs the idle sensor JS thread in the idle class, its other threads in the normal class, and counts it', async () => {
    sensor = await startSensorProcess();
    const pid = sensor.pid;
    const others = fs.readdirSync(`/proc/${pid}/task`).map(Number).filter((tid) => tid !== pid);
    expect(policyOf(pid, pid)).toBe(SCHED_IDLE);
    expect(others.length).toBeGreaterThan(4);
    expect(others.map((tid) => policyOf(pid, tid)).every((policy) => policy === SCHED_OTHER)).toBe(true);
    // The watcher, at nice 0 so that a busy CPU does not delay its looks.
    const watcher = others.filter((tid) => fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() === 'sightline-sched');
    expect(watcher).toHaveLength(1);
    expect(os.getPriority(watcher[0])).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const metrics = await sensor.metrics();
    expect(Number(/^sightline_sensor_idle_class_seconds_total (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/^sightline_sensor_class_promotions_total \d+$/m);
  });

  it('leaves the JS thread in the normal class with capture.idleFirst false', async () => {
    sensor = await startSensorProcess({ config: { capture: { idleFirst: false } } });
    expect(policyOf(sensor.pid, sensor.pid)).toBe(SCHED_OTHER);
    expect(await sensor.metrics()).toMatch(/^sightline_sensor_idle_class_seconds_total 0$/m);
  });

  it('stays in the normal class, and says why, where the process may not leave the idle class again', () => {
    // No CAP_SYS_NICE, no CAP_SYS_RESOURCE to raise RLIMIT_NICE, which is 0: a thread put in the idle class would be
    // stuck there, so it is never put there.
    const script = `
      const { startIdleFirstScheduling } = require(${JSON.stringify(COMPILED)});
      require('os').setPriority(19);
      const started = startIdleFirstScheduling();
      const stat = require('fs').readFileSync('/proc/self/task/' + process.pid + '/stat', 'utf8');
      console.log(JSON.stringify({ started, policy: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]) }));`;
    const out = execFileSync('prlimit', ['--nice=0:0', 'setpriv', '--bounding-set=-sys_nice,-sys_resource', '--', process.execPath, '-e', script], { encoding: 'utf8' });
    const result = JSON.parse(out);
    expect(result.started).toEqual({ unavailable: 'cannot leave the idle class: Operation not permitted' });
    expect(result.policy).toBe(SCHED_OTHER);
  });

  it('moves a thread kept off a busy CPU to the normal class, so it gets its work done, and back once it sleeps', () => {
    const burner = spawn('taskset', ['-c', '0', 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' });
    try {
      const out = execFileSync('taskset', ['-c', '0', process.execPath, '-e', CHILD, String(burner.pid), '200'], { encoding: 'utf8', timeout: 60_000 });
      const result = JSON.parse(out);
      expect(result.unavailable).toBeUndefined();
      expect(result.startPolicy).toBe(SCHED_IDLE);
      // 200 ms of work beside the busy loop: about 0.4 s at an equal share; in the idle class alone (a weight of 3
      // against 1024) more than a minute.
      expect(result.busy.wallMs).toBeLessThan(10_000);
      expect(result.busy.stats.promotions).toBeGreaterThanOrEqual(1);
      expect(result.busy.stats.normalMillis).toBeGreaterThan(0);
      expect(result.rested.policy).toBe(SCHED_IDLE);
      expect(result.rested.stats.idle).toBe(true);
      expect(result.stoppedPolicy).toBe(SCHED_OTHER);
    } finally {
      burner.kill('SIGKILL');
    }
  });
});
