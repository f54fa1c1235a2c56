/**
 * `sightline demo`: the local mode (sensor, store, web UI) plus a local TLS mock of OpenAI, Anthropic and Bedrock,
 * and rounds of traffic from the official SDKs through it, so a machine with no LLM traffic has something to show.
 * The sensor captures the traffic for real (uprobes on the SDK process's TLS); nothing is simulated past the wire.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createLogger, type Logger } from '../common/logger';
import type { LogFormat } from '../common/logging-config';
import { ConfigError, resolveConfig } from '../config/load-config';
import type { SightlineConfig } from '../config/schema';
import { applyCommonFlags } from '../cli/service-commands';
import { defaultDataDir } from '../runtime/data-dir';
import { startSensor, type RunningSensor } from '../runtime/sensor-runtime';
import { DEMO_MODELS } from './demo-scenario';
import { startMockProvider, type MockProvider } from './mock-provider';
import { generateTestCertificates } from './test-ca';

export interface DemoOptions {
  config?: string;
  httpPort?: number;
  dataDir?: string;
  logFormat?: LogFormat;
  /** Rounds of traffic; the demo keeps running (UI up) after the last one. @default unlimited */
  rounds?: number;
  /** Pause between rounds. @default 20 */
  intervalSeconds?: number;
}

const DEFAULT_DEMO_PORT = 9464;

export function demoConfig(options: DemoOptions): SightlineConfig {
  return resolveConfig(options.config, (config) => {
    // The demo's calls go to a store of their own, apart from a real sensor's.
    applyCommonFlags(config, { ...options, dataDir: options.dataDir ?? path.join(defaultDataDir(), 'demo') });
    // Instrumented apps are not part of the demo; a sensor already on 4318 must not stop it.
    config.receiver = { ...config.receiver, enabled: false };
    // Lines for most calls of a round: the terminal shows the traffic as it happens.
    config.logging = { callLinesPerSecond: 20, ...config.logging };
  });
}

export async function runDemoCommand(options: DemoOptions): Promise<void> {
  let config: SightlineConfig;
  try {
    config = demoConfig(options);
  } catch (error) {
    process.stderr.write(`sightline demo: ${(error as Error).message}\n`);
    process.exitCode = error instanceof ConfigError ? 2 : 1;
    return;
  }
  const logger = createLogger({ format: config.logging.format });
  const certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-demo-tls-'));
  let mock: MockProvider | undefined;
  let sensor: RunningSensor | undefined;
  let traffic: ChildProcess | undefined;
  let stopping = false;
  let wake: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => {
    const stop = () => {
      stopping = true;
      traffic?.kill('SIGTERM');
      wake?.();
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });

  try {
    const certs = await generateTestCertificates(certDir);
    mock = await startMockProvider({
      tls: { key: fs.readFileSync(certs.keyPath), cert: fs.readFileSync(certs.certPath) },
      // Provider-like pacing: a short wait for the first token, then a steady stream.
      latencyMs: (call) => 120 + (call.model.length % 7) * 30,
      streamIntervalMs: 25,
      slowModels: { [DEMO_MODELS.slow.model]: DEMO_MODELS.slow.delayMs },
      rateLimitedModels: [DEMO_MODELS.rateLimited],
      deniedModels: [DEMO_MODELS.denied],
    });
    logger.info({ providerUrl: mock.url }, `demo: mock provider (OpenAI, Anthropic, Bedrock routes) on ${mock.url}`);
    sensor = await startDemoSensor(config, options, logger);
    const url = sensor.uiUrl ?? `http://127.0.0.1:${sensor.healthPort}/`;
    // Plain text on stdout too, so the address stands out whatever the log format.
    process.stdout.write(`\nSightline demo: open ${url} in a browser. Ctrl-C stops everything.\n\n`);

    const app = demoAppExecutable(path.join(config.store.dir ?? certDir, '..', 'bin'), logger);
    const intervalMs = (options.intervalSeconds ?? 20) * 1000;
    for (let round = 1; !stopping && (options.rounds === undefined || round <= options.rounds); round++) {
      traffic = spawn(app, [path.join(__dirname, 'demo-traffic.js')], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NODE_EXTRA_CA_CERTS: certs.caCertPath, SIGHTLINE_DEMO_PROVIDER_URL: mock.url },
      });
      const result = await roundResult(traffic);
      traffic = undefined;
      if (stopping) break;
      if (result.error) logger.warn(`demo: traffic round ${round} failed: ${result.error}`);
      else logger.info({ demoRound: { round, calls: result.calls, failures: result.failures } }, `demo: traffic round ${round}: ${result.calls} calls through the official SDKs (${result.failures.length} failed as planned: ${result.failures.map((failure) => failure.name).join(', ')})`);
      if (options.rounds !== undefined && round >= options.rounds) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    if (!stopping) logger.info('demo: traffic done; the UI stays up until Ctrl-C');
    await stopped;
  } catch (error) {
    process.stderr.write(`sightline demo: ${(error as Error).message}\n`);
    process.exitCode = error instanceof ConfigError ? 2 : 1;
  } finally {
    logger.info('demo: stopping');
    traffic?.kill('SIGTERM');
    await sensor?.stop();
    await mock?.close();
    fs.rmSync(certDir, { recursive: true, force: true });
    logger.flush();
  }
}

/** On the default port unless it is taken (a sensor already runs): then on any free port, since the demo prints it. */
async function startDemoSensor(config: SightlineConfig, options: DemoOptions, logger: Logger): Promise<RunningSensor> {
  const port = options.httpPort ?? DEFAULT_DEMO_PORT;
  try {
    return await startSensor({ ...config, server: { ...config.server, httpPort: port } }, logger);
  } catch (error) {
    if (options.httpPort !== undefined || !/already in use/.test((error as Error).message)) throw error;
    logger.warn(`demo: port ${port} is taken; using a free port instead`);
    return startSensor({ ...config, server: { ...config.server, httpPort: 0 } }, logger);
  }
}

/** Name the demo's traffic process shows under in the UI (its executable's name). */
export const DEMO_APP_NAME = 'demo-app';

/**
 * The traffic runs as `demo-app`, a hard link to this node binary: the same file, so the probes already on it
 * capture it, under a name of its own, so its calls stand apart from other node processes on the machine.
 * Where a hard link cannot be made (another file system), it runs as node.
 */
function demoAppExecutable(dir: string, logger: Logger): string {
  const link = path.join(dir, DEMO_APP_NAME);
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.rmSync(link, { force: true }); // a link to a node binary since replaced would run the old one
    fs.linkSync(fs.realpathSync(process.execPath), link);
    return link;
  } catch (error) {
    logger.debug(`demo: traffic runs as node (no hard link in ${dir}: ${(error as Error).message})`);
    return process.execPath;
  }
}

function roundResult(child: ChildProcess): Promise<{ calls: number; failures: Array<{ name: string; error: string }>; error?: string }> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('close', (code, signal) => {
      try {
        if (code !== 0) throw new Error(signal ? `stopped by ${signal}` : `exit code ${code}: ${stderr.trim().split('\n').slice(-3).join(' ')}`);
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as { calls: number; failures: Array<{ name: string; error: string }> });
      } catch (error) {
        resolve({ calls: 0, failures: [], error: (error as Error).message });
      }
    });
  });
}
