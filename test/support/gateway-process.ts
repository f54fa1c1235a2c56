/**
 * The compiled `sightline gateway` and `sightline sensor` commands as child processes, as users run them, plus
 * applications that call the local mock provider through the official SDKs. For end-to-end tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify as toYaml } from 'yaml';

export const REPO_ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(REPO_ROOT, 'bin/sightline.js');

/** Batching and retry small enough that a test sees deliveries and recoveries within a second or two. */
export const FAST_DELIVERY = {
  batching: { maxDelayMs: 200 },
  retry: { initialDelayMs: 100, maxDelayMs: 1000 },
};

/** Gateway configuration writing to an S3-protocol server, with its spool in `spoolDir`. */
export function s3GatewayConfig(s3: { endpoint: string; bucket: string }, spoolDir: string): object {
  return {
    exporters: {
      // Objects after a second, not the minute that makes them large in production.
      s3: { enabled: true, bucket: s3.bucket, endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', maxWaitSeconds: 1 },
      spool: { dir: spoolDir },
      ...FAST_DELIVERY,
    },
  };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
}

export interface ServiceProcess {
  readonly child: ChildProcess;
  readonly healthPort: number;
  /** The OTLP/HTTP receiver port (the gateway's, or the sensor's local receiver). */
  readonly otlpPort: number;
  /** Everything the process wrote to stderr so far (pino JSON lines). */
  logs(): string;
  metrics(): Promise<string>;
  /** Sends `signal` and resolves with the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

interface ReadyLine {
  msg?: string;
  otlpPort?: number;
  healthPort?: number;
}

/** Where the CLI runs from: the repository build by default, or another entry point such as the image's bundle. */
export interface CliLocation {
  /** The script node runs. */
  cli: string;
  /** Working directory of the process. */
  cwd?: string;
  /** The whole environment, instead of this process's plus `env`. */
  replaceEnv?: boolean;
}

async function startService(
  command: 'gateway' | 'sensor',
  args: string[],
  env: NodeJS.ProcessEnv,
  startTimeoutMs: number,
  location: CliLocation = { cli: CLI },
): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [location.cli, command, ...args], {
    cwd: location.cwd,
    env: location.replaceEnv ? env : { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  let pending = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const ready = new Promise<ReadyLine>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk;
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        let entry: ReadyLine;
        try {
          entry = JSON.parse(line) as ReadyLine;
        } catch {
          continue;
        }
        if (entry.msg === 'gateway ready' || entry.msg?.startsWith('sensor ready')) resolve(entry);
      }
    });
    void exited.then((code) => reject(new Error(`sightline ${command} exited (${code}) before it was ready:\n${stderr}`)));
  });
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`sightline ${command} not ready after ${startTimeoutMs} ms:\n${stderr}`)), startTimeoutMs).unref(),
  );
  let line: ReadyLine;
  try {
    line = await Promise.race([ready, timeout]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const healthPort = line.healthPort!;
  await waitFor(`${command} /readyz`, async () => ((await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status === 200 ? true : undefined), 10_000, 100);
  return {
    child,
    healthPort,
    otlpPort: line.otlpPort!,
    logs: () => stderr,
    metrics: async () => (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text(),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** `override` laid over `base`, section by section (so a test's `exporters.otlp` keeps the default `exporters.batching`). */
export function deepMerge(base: Record<string, unknown>, override: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = out[key];
    const isTree = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
    out[key] = isTree(current) && isTree(value) ? deepMerge(current, value) : value;
  }
  return out;
}

function writeConfig(file: string, config: object): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, toYaml(config));
  return file;
}

export interface GatewayOptions {
  /** Where the config file goes. */
  workDir: string;
  /** The YAML configuration, as an object. */
  config: object;
  /** Fixed ports (to restart on the same ones); 0 or absent picks free ones. */
  otlpPort?: number;
  httpPort?: number;
  otlpFile?: string;
  env?: NodeJS.ProcessEnv;
  /** Runs another build of the CLI (default: the repository's). */
  location?: CliLocation;
}

export async function startGatewayProcess(options: GatewayOptions): Promise<ServiceProcess> {
  const config = deepMerge({ receiver: { host: '127.0.0.1' }, server: { host: '127.0.0.1' } }, options.config as Record<string, unknown>);
  const configFile = writeConfig(path.join(options.workDir, 'gateway.yaml'), config);
  // Its own data directory: the default one is shared by every gateway on the machine.
  const args = ['--config', configFile, '--otlp-port', String(options.otlpPort ?? 0), '--http-port', String(options.httpPort ?? 0), '--data-dir', path.join(options.workDir, 'data')];
  if (options.otlpFile) args.push('--otlp-file', options.otlpFile);
  return startService('gateway', args, options.env ?? {}, 20_000, options.location);
}

export interface SensorOptions {
  workDir: string;
  /** The spool lives under it; a new sensor on the same directory resends what the last one left. */
  dataDir: string;
  otlpEndpoint: string;
  /** Merged over a config with free ports and fast delivery. */
  config?: object;
  /** Runs another build of the CLI (default: the repository's). */
  location?: CliLocation;
  env?: NodeJS.ProcessEnv;
}

export async function startSensorProcess(options: SensorOptions): Promise<ServiceProcess> {
  const config = deepMerge({
    receiver: { host: '127.0.0.1', port: 0 },
    server: { host: '127.0.0.1', httpPort: 0 },
    enrichment: { kubernetes: { enabled: false } },
    exporters: { ...FAST_DELIVERY },
  }, (options.config ?? {}) as Record<string, unknown>);
  const configFile = writeConfig(path.join(options.workDir, 'sensor.yaml'), config);
  // Attaching the probes to every TLS library on the host takes a few seconds on a busy machine.
  return startService('sensor', ['--config', configFile, '--otlp-endpoint', options.otlpEndpoint, '--data-dir', options.dataDir], options.env ?? {}, 45_000, options.location);
}

/** One call an application makes; `prompt` should carry a token unique to the test so its span can be found. */
export interface SdkCall {
  api: 'openai' | 'openai-stream' | 'anthropic' | 'bedrock-converse';
  model: string;
  prompt: string;
}

export interface SdkRun {
  pid: number;
  /** The reply text of each call, in order. */
  replies: string[];
}

// Runs in a child process so the sensor sees a separate, real application; trust of the mock's CA comes from
// NODE_EXTRA_CA_CERTS, as it would for an application behind a corporate CA.
const SDK_APP = `
const OpenAI = require('openai').default;
const Anthropic = require('@anthropic-ai/sdk').default;
const { BedrockRuntimeClient, ConverseCommand } = require('@aws-sdk/client-bedrock-runtime');
const { url, calls } = JSON.parse(process.env.SDK_APP_PLAN);
const openai = new OpenAI({ apiKey: 'sk-test-not-a-key', baseURL: url + '/v1', maxRetries: 0 });
const anthropic = new Anthropic({ apiKey: 'sk-ant-test-not-a-key', baseURL: url, maxRetries: 0 });
const bedrock = new BedrockRuntimeClient({ region: 'us-east-1', endpoint: url, maxAttempts: 1,
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' } });
const messages = (prompt) => [{ role: 'user', content: prompt }];
const apis = {
  openai: async ({ model, prompt }) => (await openai.chat.completions.create({ model, messages: messages(prompt) })).choices[0].message.content,
  'openai-stream': async ({ model, prompt }) => {
    let text = '';
    const stream = await openai.chat.completions.create({ model, messages: messages(prompt), stream: true, stream_options: { include_usage: true } });
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    return text;
  },
  anthropic: async ({ model, prompt }) => (await anthropic.messages.create({ model, max_tokens: 64, messages: messages(prompt) })).content[0].text,
  'bedrock-converse': async ({ model, prompt }) =>
    (await bedrock.send(new ConverseCommand({ modelId: model, messages: [{ role: 'user', content: [{ text: prompt }] }] }))).output.message.content[0].text,
};
(async () => {
  const replies = [];
  for (const call of calls) replies.push(await apis[call.api](call));
  bedrock.destroy();
  process.stdout.write(JSON.stringify(replies));
})().catch((error) => { process.stderr.write(String(error && error.stack || error)); process.exit(1); });
`;

export interface SdkAppOptions {
  /** Where the app's script is written. */
  workDir: string;
  mockUrl: string;
  /** The mock provider's CA, trusted through NODE_EXTRA_CA_CERTS. */
  caCertPath: string;
}

/** Makes the calls from a fresh node process (`node sdk-app.js`) with the official SDKs, one after another. */
export function runSdkApp(options: SdkAppOptions, calls: SdkCall[], timeoutMs = 30_000): Promise<SdkRun> {
  const script = path.join(options.workDir, 'sdk-app.js');
  if (!fs.existsSync(script)) {
    fs.mkdirSync(options.workDir, { recursive: true });
    fs.writeFileSync(script, SDK_APP);
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        SDK_APP_PLAN: JSON.stringify({ url: options.mockUrl, calls }),
        NODE_EXTRA_CA_CERTS: options.caCertPath,
        NODE_PATH: path.join(REPO_ROOT, 'node_modules'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout!.on('data', (chunk) => (stdout += chunk));
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`SDK app exited with ${code}: ${stderr}`));
      else resolve({ pid: child.pid!, replies: JSON.parse(stdout) as string[] });
    });
  });
}

/** The value of one Prometheus sample, matched by metric name and a subset of its labels; undefined when absent. */
export function sampleValue(exposition: string, metric: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue;
    const labelText = line.slice(metric.length).match(/^\{(.*)\}/)?.[1] ?? '';
    const present = Object.fromEntries([...labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (!Object.entries(labels).every(([name, value]) => present[name] === value)) continue;
    // Several series may match a label subset; their values add up.
    total = (total ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
