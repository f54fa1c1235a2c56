/** The `sightline` command line. */
import { Command, InvalidArgumentError } from 'commander';
import { runCaptureCommand } from '../sensor/cli/capture-command';

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) throw new InvalidArgumentError(`expected a positive whole number, got "${value}"`);
  return parsed;
}

function positiveNumber(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return parsed;
}

export function buildCli(): Command {
  const program = new Command('sightline').description('Zero-instrumentation LLM observability').showHelpAfterError();

  program
    .command('capture')
    .description('write every captured TLS buffer as a JSON line (ts, pid, tid, comm, conn, dir, data)')
    .requiredOption('--out <path>', 'file to append JSON lines to ("-" for stdout)')
    .option('--duration <seconds>', 'stop after this many seconds', positiveNumber)
    .option('--max-call-bytes <n>', 'bytes captured per SSL call before truncation (default 8 MiB)', positiveInteger)
    .option('--ring-buffer-bytes <n>', 'kernel ring buffer size, a power of two (default 64 MiB)', positiveInteger)
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
