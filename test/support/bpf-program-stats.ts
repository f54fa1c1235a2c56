/** The kernel's own count of BPF program runs (kernel.bpf_stats_enabled), read with bpftool. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

const STATS_SWITCH = '/proc/sys/kernel/bpf_stats_enabled';

/** Turns the kernel's BPF run statistics on; returns how to put the switch back. */
export function enableBpfRunStats(): () => void {
  const before = fs.readFileSync(STATS_SWITCH, 'utf8').trim();
  fs.writeFileSync(STATS_SWITCH, '1');
  return () => fs.writeFileSync(STATS_SWITCH, before);
}

/**
 * Runs of the most recently loaded program of each name (the test's own capture object, tests running in band),
 * by name; a name with no loaded program is missing from the result.
 */
export function programRuns(names: string[]): Record<string, number> {
  const programs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })) as Array<{ id: number; name?: string; run_cnt?: number }>;
  const newest = new Map<string, { id: number; runs: number }>();
  for (const program of programs) {
    if (!program.name || !names.includes(program.name)) continue;
    const known = newest.get(program.name);
    if (!known || program.id > known.id) newest.set(program.name, { id: program.id, runs: program.run_cnt ?? 0 });
  }
  return Object.fromEntries([...newest].map(([name, { runs }]) => [name, runs]));
}
