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
