/**
 * The traffic a freshly started sensor sees before its cost is measured.
 *
 * V8 compiles the sensor's per-call path while the first calls run through it, on worker threads that compete with
 * the workloads for the CPU. Measured with the LLM loop (`npm run bench:start-up`, docs/benchmarks.md "A sensor's
 * first seconds"): over its first ~3,000 calls the sensor took 155-515 µs of CPU per call, up to half of it on
 * those threads; from ~4,000 calls on, 60-97 µs, 2-12 µs of it on other threads. A DaemonSet pays that once per
 * start, so the calls its cost is measured on come after it, and the warm-up's own CPU per call is reported beside.
 *
 * The warm-up is counted in calls, not seconds: compiling follows how often each function ran, so a machine in a
 * slow state needs more seconds for the same point.
 *
 * It is also spread over several client processes, each started when the one before has ended, because the measured
 * calls come from a new process too. A process the sensor has not seen takes paths that steady traffic does not (its
 * context read from /proc, new connections, a new resource), and code compiled while one client ran had no feedback
 * from them: when the measured client arrived, V8 threw that code away and compiled it again. After a warm-up in one
 * process that recompiling took 237 ms of worker-thread CPU in the next 6 s of the LLM loop (about 14 µs per call);
 * after one in four processes, 19 ms (`--trace-opt --trace-deopt`, docs/benchmarks.md). A node's sensor sees
 * processes come and go all the time; a sensor that has seen only one has not reached its steady state.
 */
import { cpuSeconds } from './processes';
import { waitForCount } from './span-sinks';

export const WARM_UP_CALLS = 10_000;
/** However slow the machine, the warm-up ends after this long. */
export const WARM_UP_MAX_SECONDS = 20;
/** Client processes the warm-up's calls are spread over, one after another. */
export const WARM_UP_CLIENTS = 4;

export interface WarmUp {
  calls: number;
  seconds: number;
  /** Client processes run. */
  clients: number;
}

/**
 * Runs the workload's client (`runFor(seconds)` starts one client process and resolves to its rate in calls per
 * second) until WARM_UP_CALLS calls were made by at least WARM_UP_CLIENTS processes, or WARM_UP_MAX_SECONDS passed: a
 * second first, then the seconds that rate says are still needed, shared among the processes still to come.
 */
export async function warmUpSensor(runFor: (seconds: number) => Promise<number>): Promise<WarmUp> {
  let calls = 0;
  let seconds = 0;
  let clients = 0;
  while ((calls < WARM_UP_CALLS || clients < WARM_UP_CLIENTS) && seconds < WARM_UP_MAX_SECONDS) {
    const rate = calls > 0 ? calls / seconds : 0;
    const needed = rate > 0 ? Math.max(0, Math.ceil((WARM_UP_CALLS - calls) / rate)) : 1;
    const share = Math.ceil(needed / Math.max(1, WARM_UP_CLIENTS - clients));
    const slice = Math.max(1, Math.min(share, WARM_UP_MAX_SECONDS - seconds));
    const sliceRate = await runFor(slice);
    if (!(sliceRate > 0)) throw new Error(`bench: the warm-up client made no calls in ${slice} s`);
    calls += Math.round(sliceRate * slice);
    seconds += slice;
    clients++;
  }
  return { calls, seconds, clients };
}

/** How long a sensor's count of delivered spans stays still before its warm-up counts as delivered. */
const DELIVERED_QUIET_MS = 2500;

/** A measured side's own figures (at least the client's rate), and what the sensor spent on them and on its warm-up. */
export type WarmSensorResult<T> = T & {
  /** Spans the sensor delivered for the measured calls. */
  spans: number;
  /** The sensor's CPU (every thread) per delivered span over the measured calls. */
  cpuMicrosPerCall?: number;
  warmUpCalls: number;
  warmUpCpuMicrosPerCall: number;
};

/**
 * A started sensor's cost: warms it up (`runFor`), waits until it has delivered the warm-up, then runs `measure`
 * and counts its CPU per span delivered for those calls. `spanless`: traffic that never reaches the sensor's
 * per-call path (ordinary HTTPS), given a second of warm-up and no spans to wait for.
 */
export async function measureAfterWarmUp<T extends { rate: number }>(options: {
  pid: number;
  spans: () => number | Promise<number>;
  runFor: (seconds: number) => Promise<number>;
  measure: () => Promise<T>;
  seconds: number;
  spanless?: boolean;
}): Promise<WarmSensorResult<T>> {
  const { pid, spans, runFor, measure, seconds, spanless = false } = options;
  const cpuAtStart = cpuSeconds(pid);
  const warmUp = spanless ? { calls: Math.round(await runFor(1)), seconds: 1, clients: 1 } : await warmUpSensor(runFor);
  // Until the sensor has read and delivered the warm-up: a sensor still behind (local mode can be) would count its
  // backlog as the measured seconds' spans. Quiet for longer than the exporter's batches are apart (at most a second).
  if (!spanless) await waitForCount(spans, Number.MAX_SAFE_INTEGER, DELIVERED_QUIET_MS, 60_000);
  const spansBefore = await spans();
  const cpuBefore = cpuSeconds(pid);
  const result = await measure();
  const delivered = (spanless ? await spans() : await waitForCount(spans, spansBefore + Math.round(result.rate * seconds))) - spansBefore;
  const cpu = cpuSeconds(pid) - cpuBefore;
  return {
    ...result,
    spans: delivered,
    cpuMicrosPerCall: delivered > 0 ? (cpu * 1e6) / delivered : undefined,
    warmUpCalls: warmUp.calls,
    warmUpCpuMicrosPerCall: ((cpuBefore - cpuAtStart) * 1e6) / Math.max(1, warmUp.calls),
  };
}
