/** What the benchmarks share: child processes, their CPU and memory, the sensor, and the empty-probe floor. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';

/** The repository: this file runs compiled from dist/bench/support, and from bench/support in the tests. */
export const ROOT = fs.existsSync(path.resolve(__dirname, '..', '..', 'cdk.json')) ? path.resolve(__dirname, '..', '..') : path.resolve(__dirname, '..', '..', '..');

/** `--name value` pairs over defaults; unknown names and values that are not positive numbers are refused. */
export function parseNumericOptions<T extends Record<string, number>>(argv: string[], defaults: T): T {
  const options = { ...defaults };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const value = Number(argv[i + 1]);
    if (!(key in options) || !Number.isFinite(value) || value < 0) throw new Error(`unknown option or bad value: ${argv[i]} ${argv[i + 1] ?? ''}`);
    (options as Record<string, number>)[key] = value;
  }
  return options;
}

/** Resolves with the first match of `pattern` in what the child writes to `stream`. */
export function lineFrom(child: ChildProcess, stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no output matching ${pattern} within ${timeoutMs} ms: ${seen.slice(-500)}`)), timeoutMs);
    child[stream]!.on('data', (chunk) => {
      seen += chunk;
      const match = pattern.exec(seen);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`process exited (${code}) before printing ${pattern}: ${seen.slice(-500)}`));
    });
  });
}

/** Runs a command to completion and returns what it printed on stdout. */
export function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${command} exited with ${code}`))));
  });
}

/**
 * Stops a child and waits for it to exit; one that outlives `graceMs` after the signal is killed. bpftrace has been
 * seen to sleep through the SIGINT that ends it (once in a full bench run), which hung the bench.
 */
export async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGINT', graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('close', resolve));
  child.kill(signal);
  const timer = setTimeout(() => {
    console.error(`bench: ${child.spawnfile} (pid ${child.pid}) did not exit ${graceMs / 1000} s after ${signal}; killing it`);
    child.kill('SIGKILL');
  }, graceMs);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

/** CPU seconds (user + system) a process has used so far, every thread's; with `tid`, that one thread's. */
export function cpuSeconds(pid: number, tid?: number): number {
  const stat = fs.readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

export function peakRssMb(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

export const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * The median over rounds of one side's rate divided by another's in the same round: the sides of a round run back to
 * back, so a machine whose speed drifts (a shared VM) shifts both; a ratio of medians would mix rounds.
 */
export function medianRoundRatio(numerator: Array<{ rate: number }>, denominator: Array<{ rate: number }>): number {
  return median(numerator.map((result, round) => result.rate / denominator[round].rate));
}

export function getText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
}

/** A sample of Prometheus text, summed over its label sets; 0 when absent. */
export function metric(text: string, name: string): number {
  let sum = 0;
  for (const match of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(match[1]);
  return sum;
}

export interface RunningSensor {
  child: ChildProcess;
  pid: number;
  healthPort: number;
  metrics(): Promise<string>;
}

/** The V8 flags of the launcher line (bin/sightline.js), for the benchmarks that start node themselves. */
export const LAUNCHER_NODE_FLAGS: string[] = fs
  .readFileSync(path.join(ROOT, 'bin', 'sightline.js'), 'utf8')
  .split('\n')[0]
  .split(/\s+/)
  .filter((word) => word.startsWith('--'));

/** `sightline sensor` as `npx sightline` starts it (the launcher's node flags apply), with its own data dir. */
export async function startSensor(work: string, args: string[], configYaml = ''): Promise<RunningSensor> {
  const config = path.join(work, 'sensor.yaml');
  fs.writeFileSync(config, `receiver:\n  enabled: false\nserver:\n  httpPort: 0\n${configYaml}`);
  const cli = [path.join(ROOT, 'bin', 'sightline.js'), 'sensor', '--config', config, '--data-dir', path.join(work, 'data'), ...args];
  // SENSOR_NODE_FLAGS (profiling, memory experiments): node runs the launcher with the launcher's own flag and these.
  const extraFlags = process.env.SENSOR_NODE_FLAGS?.split(/\s+/).filter(Boolean);
  const [command, commandArgs] = extraFlags ? [process.execPath, [...LAUNCHER_NODE_FLAGS, ...extraFlags, ...cli]] : [cli[0], cli.slice(1)];
  const child = spawn(command, commandArgs, {
    stdio: ['ignore', 'ignore', 'pipe'],
    // MALLOC_ARENA_MAX as the launcher line sets it, for the SENSOR_NODE_FLAGS path that runs node directly.
    env: { MALLOC_ARENA_MAX: '2', ...process.env, SIGHTLINE_LOG_FORMAT: 'json' },
  });
  const healthPort = Number((await lineFrom(child, 'stderr', /"healthPort":(\d+)/, 60_000))[1]);
  return { child, pid: child.pid!, healthPort, metrics: () => getText(`http://127.0.0.1:${healthPort}/metrics`) };
}

/**
 * Empty bpftrace programs, uprobe and uretprobe, on the functions the sensor probes: the floor any uprobe-based
 * sensor pays on this kernel, measured beside the sensor in the same run. `returns: false` attaches the entry
 * probes alone: one trap per call, the least any capture of these calls can pay.
 */
export async function startEmptyProbes(binary: string, functions: string[], { returns = true } = {}): Promise<ChildProcess> {
  const program = functions.map((fn) => `uprobe:${binary}:${fn} {}${returns ? ` uretprobe:${binary}:${fn} {}` : ''}`).join(' ');
  const child = spawn('bpftrace', ['-e', program], { stdio: ['ignore', 'pipe', 'pipe'] });
  await lineFrom(child, 'stdout', /Attaching \d+ probes?/, 60_000);
  await new Promise((resolve) => setTimeout(resolve, 500)); // attaching is announced just before it is done
  return child;
}

export const OPENSSL_FUNCTIONS = ['SSL_write', 'SSL_write_ex', 'SSL_read', 'SSL_read_ex'];

export function requireBpftrace(): void {
  try {
    fs.accessSync('/usr/bin/bpftrace', fs.constants.X_OK);
  } catch {
    throw new Error('bpftrace is missing (apt-get install bpftrace): the benchmark measures the empty-probe floor with it');
  }
}

/**
 * BPF program run time and runs, summed over the programs whose names `match`, from `bpftool prog show` (kernel
 * statistics, on while `kernel.bpf_stats_enabled` is 1): the kernel side of a probe's cost, apart from the trap.
 */
export function bpfProgramTotals(match: RegExp): { runTimeNs: number; runs: number } {
  const programs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })) as Array<{ name?: string; run_time_ns?: number; run_cnt?: number }>;
  let runTimeNs = 0;
  let runs = 0;
  for (const program of programs) {
    if (!program.name || !match.test(program.name)) continue;
    runTimeNs += program.run_time_ns ?? 0;
    runs += program.run_cnt ?? 0;
  }
  return { runTimeNs, runs };
}

/** Turns the kernel's BPF run-time statistics on for the length of a benchmark; returns how to put them back. */
export function enableBpfStats(): () => void {
  const file = '/proc/sys/kernel/bpf_stats_enabled';
  const before = fs.readFileSync(file, 'utf8').trim();
  fs.writeFileSync(file, '1');
  return () => fs.writeFileSync(file, before);
}

/**
 * Sensor arguments and config to ship to `sink` as a DaemonSet sensor does: TLS against the deployment's CA, with
 * its cluster's token from a file.
 */
export async function shipToSink(
  work: string,
  sink: { start(secure: { certPath: string; keyPath: string; token: string }): Promise<string> },
  certs: { certPath: string; keyPath: string; caCertPath: string },
): Promise<{ args: string[]; config: string }> {
  const token = 'bench-cluster-token-0123456789';
  const tokenFile = path.join(work, 'gateway-token');
  fs.writeFileSync(tokenFile, token, { mode: 0o600 });
  const endpoint = await sink.start({ certPath: certs.certPath, keyPath: certs.keyPath, token });
  return {
    args: ['--otlp-endpoint', endpoint],
    config: `exporters:\n  otlp:\n    tls:\n      caFile: ${JSON.stringify(certs.caCertPath)}\n    auth:\n      tokenFile: ${JSON.stringify(tokenFile)}\n`,
  };
}
