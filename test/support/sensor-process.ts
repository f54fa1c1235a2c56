/**
 * Runs the compiled `sightline sensor` command in its own process, as users run it, and reads back what it
 * wrote: spans from its --otlp-file (OTLP/JSON, one ExportTraceServiceRequest per line), its Prometheus
 * /metrics, and its stderr log. Several sensors may run on one machine at once, so callers pick spans by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';

const CLI = path.resolve(__dirname, '../../bin/sightline.js');

/** One span from the OTLP file, with attribute lists turned into plain objects. */
export interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** OTLP SpanKind number: 3 is CLIENT. */
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  status: { code: number; message?: string };
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
}

export interface SensorProcessOptions {
  /** Extra configuration merged over the test defaults (ports 0, loopback, short batching). */
  config?: Record<string, unknown>;
  /** Extra environment variables, e.g. SIGHTLINE_LOG_LEVEL. */
  env?: Record<string, string>;
  /** @default 30_000 */
  readyTimeoutMs?: number;
}

export interface SensorProcess {
  readonly pid: number;
  readonly healthPort: number;
  readonly otlpFile: string;
  /** Everything the sensor wrote to stderr so far (its JSON log). */
  stderr(): string;
  /** Every span in the OTLP file so far. */
  readSpans(): ExportedSpan[];
  /** Waits until the spans of process `pid` number at least `count`, then returns them in file order. */
  waitForSpans(pid: number, count: number, timeoutMs?: number): Promise<ExportedSpan[]>;
  /** The Prometheus text of GET /metrics. */
  metrics(): Promise<string>;
  /** One unlabelled sample of /metrics, or undefined when the metric is absent. */
  metricValue(name: string): Promise<number | undefined>;
  /** SIGINT, then waits for exit (exporters flush); resolves to the exit code. The files stay for reading. */
  stop(): Promise<number | null>;
  /** Sends `signal` (e.g. SIGKILL: no cleanup at all) and waits for the process to end. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Stops the sensor if it still runs and deletes its config and OTLP file. */
  remove(): Promise<void>;
}

export async function startSensorProcess(options: SensorProcessOptions = {}): Promise<SensorProcess> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-sensor-'));
  const configFile = path.join(workDir, 'sensor.yaml');
  const otlpFile = path.join(workDir, 'spans.jsonl');
  const config = deepMerge(
    {
      receiver: { host: '127.0.0.1', port: 0 },
      server: { host: '127.0.0.1', httpPort: 0 },
      enrichment: { kubernetes: { enabled: false } },
      exporters: { batching: { maxDelayMs: 100 } },
    },
    options.config ?? {},
  );
  // JSON is YAML, so the loader reads it as is.
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));

  // Its own data directory (spool and store): the default one is shared by every sensor on the machine.
  const child = spawn(process.execPath, [CLI, 'sensor', '--config', configFile, '--otlp-file', otlpFile, '--data-dir', path.join(workDir, 'data')], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const healthPort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sensor was not ready after ${options.readyTimeoutMs ?? 30_000} ms; its log:\n${stderr}`));
    }, options.readyTimeoutMs ?? 30_000);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
      const port = readyHealthPort(stderr);
      if (port !== undefined) {
        clearTimeout(timer);
        resolve(port);
      }
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`sensor exited (${code}) before it was ready; its log:\n${stderr}`));
    });
  });
  await waitForReadyz(healthPort, child, options.readyTimeoutMs ?? 30_000).catch((error: Error) => {
    child.kill('SIGKILL');
    throw error;
  });

  const readSpans = (): ExportedSpan[] => (fs.existsSync(otlpFile) ? parseOtlpJsonLines(fs.readFileSync(otlpFile, 'utf8')) : []);
  const metrics = async (): Promise<string> => {
    const response = await httpGet(healthPort, '/metrics');
    if (response.status !== 200) throw new Error(`sensor /metrics answered ${response.status}`);
    return response.body;
  };

  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    return exited;
  };

  return {
    pid: child.pid!,
    healthPort,
    otlpFile,
    stderr: () => stderr,
    readSpans,
    async waitForSpans(pid, count, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const spans = readSpans().filter((span) => span.resource['process.pid'] === pid);
        if (spans.length >= count) return spans;
        if (Date.now() > deadline) {
          // Every sensor sees every process on the machine: say whether capture lost data under load.
          const losses = (await metrics().catch(() => ''))
            .split('\n')
            .filter((line) => /^sightline_(capture_dropped|capture_truncated|streams_gap|http_malformed|llm_|pipeline_)\w* /.test(line));
          // Connection ids start with the pid, so the log lines about this process's connections can be found.
          const connectionLog = stderr.split('\n').filter((line) => line.includes(`"${pid}-`) || line.includes(`:${pid},`));
          throw new Error(
            `expected ${count} span(s) of pid ${pid} within ${timeoutMs} ms, found ${spans.length}: ${spans.map((span) => span.name).join(', ')}\n` +
              `sensor counters: ${losses.join(', ')}\nsensor log about pid ${pid}:\n${connectionLog.slice(0, 20).join('\n')}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    metrics,
    async metricValue(name) {
      const line = (await metrics()).split('\n').find((candidate) => candidate.startsWith(`${name} `));
      return line === undefined ? undefined : Number(line.slice(name.length + 1));
    },
    stop,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
    async remove() {
      await stop();
      fs.rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/** The `healthPort` of the sensor's `sensor ready` log line, once it has been written. */
function readyHealthPort(log: string): number | undefined {
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { msg?: unknown; healthPort?: unknown };
      if (typeof entry.msg === 'string' && entry.msg.startsWith('sensor ready') && typeof entry.healthPort === 'number') return entry.healthPort;
    } catch {
      // A line still being written.
    }
  }
  return undefined;
}

async function waitForReadyz(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sensor exited (${child.exitCode}) while waiting for /readyz`);
    const status = await httpGet(port, '/readyz').then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`sensor /readyz did not answer 200 within ${timeoutMs} ms (last: ${status})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One request per connection: a pooled keep-alive socket may be closed by the server just as it is reused. */
function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', reject);
    });
    request.on('error', reject);
  });
}

// ---------------------------------------------------------------------------------------------
// OTLP/JSON

interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}

interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  bytesValue?: string;
  arrayValue?: { values?: OtlpAnyValue[] };
  kvlistValue?: { values?: OtlpKeyValue[] };
}

interface OtlpJsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
  attributes?: OtlpKeyValue[];
  status?: { code?: number; message?: string };
}

interface OtlpJsonRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: Array<{ spans?: OtlpJsonSpan[] }>;
  }>;
}

/** Spans of an OTLP/JSON lines file; a last line still being written is skipped. */
export function parseOtlpJsonLines(text: string): ExportedSpan[] {
  const lines = text.split('\n');
  const complete = text.endsWith('\n') ? lines : lines.slice(0, -1);
  const spans: ExportedSpan[] = [];
  for (const line of complete) {
    if (line.trim() === '') continue;
    const request = JSON.parse(line) as OtlpJsonRequest;
    for (const resourceSpans of request.resourceSpans ?? []) {
      const resource = attributesObject(resourceSpans.resource?.attributes);
      for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
        for (const span of scopeSpans.spans ?? []) {
          spans.push({
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId || undefined,
            name: span.name,
            kind: span.kind ?? 0,
            startTimeUnixNano: BigInt(span.startTimeUnixNano),
            endTimeUnixNano: BigInt(span.endTimeUnixNano),
            status: { code: span.status?.code ?? 0, ...(span.status?.message ? { message: span.status.message } : {}) },
            attributes: attributesObject(span.attributes),
            resource,
          });
        }
      }
    }
  }
  return spans;
}

export function attributesObject(list: OtlpKeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of list ?? []) out[key] = anyValue(value);
  return out;
}

function anyValue(value: OtlpAnyValue | undefined): unknown {
  if (!value) return undefined;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  // Protobuf JSON writes int64 as a string; either form reads as a number here.
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return Number(value.doubleValue);
  if (value.bytesValue !== undefined) return Buffer.from(value.bytesValue, 'base64');
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(anyValue);
  if (value.kvlistValue) return attributesObject(value.kvlistValue.values);
  return undefined;
}

function deepMerge(base: Record<string, unknown>, override: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = out[key];
    out[key] =
      isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
