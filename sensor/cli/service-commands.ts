/** `sightline sensor` and `sightline gateway`: long-running services, configured by one YAML file plus flags. */
import * as path from 'node:path';
import { createLogger, type Logger } from '../common/logger';
import type { LogFormat } from '../common/logging-config';
import { SecretFileError } from '../common/secret-file';
import { ConfigError, resolveConfig } from '../config/load-config';
import type { SightlineConfig, SightlineConfigInput } from '../config/schema';
import { defaultDataDir } from '../runtime/data-dir';
import { startGateway } from '../runtime/gateway-runtime';
import { startSensor } from '../runtime/sensor-runtime';

interface CommonOptions {
  config?: string;
  otlpFile?: string;
  httpPort?: number;
  host?: string;
  dataDir?: string;
  logFormat?: LogFormat;
}

export interface SensorCommandOptions extends CommonOptions {
  otlpEndpoint?: string;
}

export interface GatewayCommandOptions extends CommonOptions {
  otlpPort?: number;
}

/**
 * Flags over the file. The data directory (the flag, else a default that survives restarts) holds the spool and
 * the store unless the file places them itself.
 */
export function applyCommonFlags(config: SightlineConfigInput, options: CommonOptions): void {
  const exporters = (config.exporters ??= {});
  if (options.otlpFile) exporters.file = { ...exporters.file, enabled: true, path: path.resolve(options.otlpFile) };
  if (options.httpPort !== undefined) config.server = { ...config.server, httpPort: options.httpPort };
  if (options.host !== undefined) config.server = { ...config.server, host: options.host };
  if (options.logFormat !== undefined) config.logging = { ...config.logging, format: options.logFormat };
  const dataDir = path.resolve(options.dataDir ?? defaultDataDir());
  if (!exporters.spool?.dir) exporters.spool = { ...exporters.spool, dir: path.join(dataDir, 'spool') };
  if (!config.store?.dir) config.store = { ...config.store, dir: path.join(dataDir, 'store') };
}

export function sensorConfig(options: SensorCommandOptions): SightlineConfig {
  return resolveConfig(options.config, (config) => {
    applyCommonFlags(config, options);
    if (options.otlpEndpoint) {
      const exporters = (config.exporters ??= {});
      exporters.otlp = { ...exporters.otlp, enabled: true, endpoint: options.otlpEndpoint };
    }
  });
}

export function gatewayConfig(options: GatewayCommandOptions): SightlineConfig {
  return resolveConfig(options.config, (config) => {
    applyCommonFlags(config, options);
    if (options.otlpPort !== undefined) config.receiver = { ...config.receiver, port: options.otlpPort };
  });
}

/**
 * Runs a service until SIGINT or SIGTERM. The config is read first, so the log's format (text on a terminal,
 * JSON otherwise, or as configured) applies from the first line.
 */
export async function runService(
  name: string,
  loadConfig: () => SightlineConfig,
  start: (config: SightlineConfig, logger: Logger) => Promise<{ stop(): Promise<void> }>,
): Promise<void> {
  let config: SightlineConfig;
  try {
    config = loadConfig();
  } catch (error) {
    process.stderr.write(`sightline ${name}: ${(error as Error).message}\n`);
    process.exitCode = error instanceof ConfigError ? 2 : 1;
    return;
  }
  const logger = createLogger({ format: config.logging.format });
  let service: { stop(): Promise<void> };
  try {
    service = await start(config, logger);
  } catch (error) {
    process.stderr.write(`sightline ${name}: ${(error as Error).message}\n`);
    // A credential file the config names but that cannot be used is a configuration fault too.
    process.exitCode = error instanceof ConfigError || error instanceof SecretFileError ? 2 : 1;
    return;
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  logger.info(`${name}: stopping, flushing exporters`);
  await service.stop();
  logger.flush();
}

export async function runSensorCommand(options: SensorCommandOptions): Promise<void> {
  await runService('sensor', () => sensorConfig(options), (config, logger) => startSensor(config, logger));
}

export async function runGatewayCommand(options: GatewayCommandOptions): Promise<void> {
  await runService('gateway', () => gatewayConfig(options), (config, logger) => startGateway(config, logger));
}
