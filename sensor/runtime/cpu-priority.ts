/**
 * The sensor's threads yield the CPU to the workloads they watch. Decoding a call can wait a few milliseconds (the
 * kernel's ring holds the bytes meanwhile); the workload's own request cannot. With a higher nice value the
 * scheduler gives the sensor a smaller share only while the CPU is contended, and lets a woken workload thread run
 * before it; on an idle CPU the sensor runs as fast as before.
 *
 * On Kubernetes the pod's CPU request already sets the sensor's weight against other pods (cgroup cpu.weight); nice
 * acts among threads of one cgroup. On one box without cgroups per workload, nice is what does it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { loadNativeAddon } from '../common/native-addon';

export interface ThreadPriorityOutcome {
  /** Threads of this process found. */
  threads: number;
  /** Threads whose priority was lowered: their nice value raised to the target. */
  lowered: number;
  /** Threads already at the target or nicer (a user's own `nice -n 15` is kept). */
  kept: number;
  /** Threads that could not be changed (gone meanwhile, or not permitted), with the first reason. */
  failed: number;
  firstError?: string;
}

/**
 * Raises the nice value of every thread of this process to `niceness` (0-19); never lowers one. Linux keeps nice
 * per thread, and a new thread inherits its creator's, so threads started later (the libuv pool, the ring-buffer
 * reader) follow once the threads that create them are set.
 */
export function lowerThreadPriorities(niceness: number): ThreadPriorityOutcome {
  if (!Number.isInteger(niceness) || niceness < 0 || niceness > 19) throw new Error(`niceness must be an integer from 0 to 19, got ${niceness}`);
  const outcome: ThreadPriorityOutcome = { threads: 0, lowered: 0, kept: 0, failed: 0 };
  for (const entry of fs.readdirSync('/proc/self/task')) {
    const tid = Number(entry);
    if (!Number.isInteger(tid)) continue;
    outcome.threads++;
    try {
      if (os.getPriority(tid) >= niceness) {
        outcome.kept++;
        continue;
      }
      os.setPriority(tid, niceness);
      outcome.lowered++;
    } catch (error) {
      outcome.failed++;
      outcome.firstError ??= (error as Error).message;
    }
  }
  return outcome;
}

/** How often the JS thread's waits are looked at, and the wait within one look that moves it to the normal class. */
const IDLE_FIRST_INTERVAL_MS = 20;
const IDLE_FIRST_MAX_WAIT_MS = 10;

export interface IdleFirstStats {
  /** Times the thread was moved to the normal class because it waited for a CPU. */
  promotions: number;
  idleMillis: number;
  normalMillis: number;
  /** In the idle class now. */
  idle: boolean;
}

export interface IdleFirstScheduling {
  stats(): IdleFirstStats;
  /** The thread back in the normal class for good. */
  stop(): void;
}

interface NativeIdleFirstScheduler extends IdleFirstScheduling {
  /** '' once the thread is watched and in the idle class, else why not (it keeps the normal class). */
  start(): string;
}

/**
 * Idle-first scheduling of this process's JS thread (see `capture.idleFirst`). Measured on the bench's LLM loop: with
 * the sensor in the normal class, even at nice 19, the client waited for a CPU four to five times as long per call
 * as with empty probes, and almost all of it behind its own server, on one CPU, while the sensor held the other. A
 * watcher thread of the addon does the switching: a thread in the idle class cannot be relied on to notice that it
 * is starved. Returns why it is not running when the kernel or the process's rights do not allow it.
 */
export function startIdleFirstScheduling(): IdleFirstScheduling | { unavailable: string } {
  let scheduler: NativeIdleFirstScheduler;
  try {
    const addon = loadNativeAddon<{ IdleFirstScheduler: new (options: { tid: number; intervalMs: number; maxWaitMs: number }) => NativeIdleFirstScheduler }>();
    // The JS thread's id is the process id.
    scheduler = new addon.IdleFirstScheduler({ tid: process.pid, intervalMs: IDLE_FIRST_INTERVAL_MS, maxWaitMs: IDLE_FIRST_MAX_WAIT_MS });
  } catch (error) {
    return { unavailable: (error as Error).message };
  }
  const failure = scheduler.start();
  return failure === '' ? scheduler : { unavailable: failure };
}
