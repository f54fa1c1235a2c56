/** The `sightline` command line. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { runCaptureCommand } from '../sensor/cli/capture-command';
import { runCredentialsCommand } from '../sensor/cli/fetch-credentials';
import { SightlinePort } from '../sensor/common/telemetry-contract';
import { runGatewayCommand, runSensorCommand } from '../sensor/cli/service-commands';
import { LOG_FORMATS } from '../sensor/common/logging-config';
import { runDemoCommand } from '../sensor/demo/demo-command';

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) throw new InvalidArgumentError(`expected a positive whole number, got "${value}"`);
  return parsed;
}

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) throw new InvalidArgumentError(`expected a port number from 0 to 65535, got "${value}"`);
  return parsed;
}

function positiveNumber(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return parsed;
}

function logFormatOption(): Option {
  return new Option('--log-format <format>', 'log lines: text (readable), json (one object per line), auto (text on a terminal)').choices([...LOG_FORMATS]);
}

export function buildCli(): Command {
  const program = new Command('sightline').description('Zero-instrumentation LLM observability').showHelpAfterError();

  /** Options the two services share; each command adds its own. */
  const service = (name: string, description: string, otlpFileHelp: string) =>
    program
      .command(name)
      .description(description)
      .option('--config <file>', 'YAML configuration file (see docs/configuration.md)')
      .option('--otlp-file <path>', otlpFileHelp)
      .option('--http-port <n>', `port of /readyz, /healthz, /metrics and the web UI (default ${SightlinePort.http})`, port)
      .option('--host <address>', 'address of that port (default 127.0.0.1; another address needs ui.accessToken or SIGHTLINE_UI_TOKEN for the UI)')
      .option('--data-dir <dir>', 'where the spool and the local store live (default /var/lib/sightline as root, else ~/.local/state/sightline)')
      .addOption(logFormatOption());

  service('sensor', 'capture LLM calls on this host and turn them into GenAI spans and metrics', 'append spans as OTLP/JSON, one ExportTraceServiceRequest per line')
    .option('--otlp-endpoint <url>', 'ship spans to a Sightline gateway (or any OTLP/HTTP collector)')
    .action(async (options) => runSensorCommand(options));

  service('gateway', 'receive OTLP from sensors and instrumented apps; compute metrics and cost; write to storage', 'append the normalised spans as OTLP/JSON lines')
    .option('--otlp-port <n>', `OTLP/HTTP receiver port (default ${SightlinePort.otlp})`, port)
    .action(async (options) => runGatewayCommand(options));

  program
    .command('demo')
    .description('local mode plus a local TLS mock of OpenAI, Anthropic and Bedrock, and traffic from their official SDKs; prints the web UI address')
    .option('--config <file>', 'YAML configuration file (see docs/configuration.md)')
    .option('--http-port <n>', `port of the web UI (default ${SightlinePort.http}, or a free port when that one is taken)`, port)
    .option('--data-dir <dir>', 'data directory (default: demo/ under the default data directory)')
    .option('--rounds <n>', 'rounds of traffic to send (default: a round every --interval seconds until stopped)', positiveInteger)
    .option('--interval <seconds>', 'pause between rounds (default 20)', positiveNumber)
    .addOption(logFormatOption())
    .action(async (options) => runDemoCommand({ ...options, intervalSeconds: options.interval }));

  program
    .command('capture')
    .description('write every captured TLS buffer as a JSON line (ts, pid, tid, comm, conn, dir, data)')
    .requiredOption('--out <path>', 'file to append JSON lines to ("-" for stdout)')
    .option('--duration <seconds>', 'stop after this many seconds', positiveNumber)
    .option('--max-call-bytes <n>', 'bytes captured per SSL call before truncation (default 8 MiB)', positiveInteger)
    .option('--ring-buffer-bytes <n>', 'kernel ring buffer size, a power of two (default 16 MiB)', positiveInteger)
    .option('--stats <path>', 'write the capture counters as JSON here on exit')
    .option('--exclude <path-prefix...>', 'never attach to TLS libraries or executables under these paths')
    .action(async (options) => {
      await runCaptureCommand({
        out: options.out,
        durationSeconds: options.duration,
        maxCallBytes: options.maxCallBytes,
        ringBufferBytes: options.ringBufferBytes,
        statsPath: options.stats,
        excludePaths: options.exclude,
      });
    });

  program
    .command('credentials')
    .description('write secrets from AWS Secrets Manager to files, as a plan names them (the init container of the Sightline pods on EKS)')
    .requiredOption('--plan <file>', 'JSON plan: {"files": [{"secretId": ARN, "path": FILE, "jsonKey"?, "versionStage"?, "optional"?}]}')
    .action(async (options) => runCredentialsCommand({ plan: options.plan }));

  return program;
}

if (require.main === module) {
  buildCli()
    .parseAsync(process.argv)
    .catch((error: Error) => {
      process.stderr.write(`sightline: ${error.message}\n`);
      process.exit(1);
    });
}
