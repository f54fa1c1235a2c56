/** `sightline sensor` and `sightline gateway`: long-running services, configured by one YAML file plus flags. */
import * as path from 'node:path';
import { createLogger, type Logger } from '../common/logger';
import { SecretFileError } from '../common/secret-file';
import { ConfigError, resolveConfig } from '../config/load-config';
import type { SightlineConfig, SightlineConfigInput } from '../config/schema';
import { startGateway } from '../runtime/gateway-runtime';
import { startSensor } from '../runtime/sensor-runtime';

export interface SensorCommandOptions {
  config?: string;
  otlpFile?: string;
  otlpEndpoint?: string;
  httpPort?: number;
  dataDir?: string;
}

export interface GatewayCommandOptions {
  config?: string;
  otlpFile?: string;
  otlpPort?: number;
  httpPort?: number;
  dataDir?: string;
}

function applyCommonFlags(config: SightlineConfigInput, options: { otlpFile?: string; httpPort?: number; dataDir?: string }): void {
  const exporters = (config.exporters ??= {});
  if (options.otlpFile) exporters.file = { ...exporters.file, enabled: true, path: path.resolve(options.otlpFile) };
  if (options.httpPort !== undefined) config.server = { ...config.server, httpPort: options.httpPort };
  if (options.dataDir && !exporters.spool?.dir) exporters.spool = { ...exporters.spool, dir: path.join(path.resolve(options.dataDir), 'spool') };
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

async function runService(name: string, start: (logger: Logger) => Promise<{ stop(): Promise<void> }>): Promise<void> {
  const logger = createLogger();
  let service: { stop(): Promise<void> };
  try {
    service = await start(logger);
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
  await runService('sensor', (logger) => startSensor(sensorConfig(options), logger));
}

export async function runGatewayCommand(options: GatewayCommandOptions): Promise<void> {
  await runService('gateway', (logger) => startGateway(gatewayConfig(options), logger));
}
