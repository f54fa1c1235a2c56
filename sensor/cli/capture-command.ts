/** `sightline capture`: raw TLS plaintext as JSON lines, for debugging what the sensor sees. */
import * as fs from 'node:fs';
import type { CaptureEvent } from '../capture/capture-event';
import { captureConfigSchema } from '../capture/config';
import { TlsCapture } from '../capture/tls-capture';
import { createLogger } from '../common/logger';

export interface CaptureCommandOptions {
  out: string;
  durationSeconds?: number;
  maxCallBytes?: number;
  ringBufferBytes?: number;
  statsPath?: string;
  excludePaths?: string[];
}

/** One line of the capture file: exactly the fields of the capture contract. */
export function captureLine(event: CaptureEvent): string {
  return JSON.stringify({
    ts: event.tsMs,
    pid: event.pid,
    tid: event.tid,
    comm: event.comm,
    conn: event.conn,
    dir: event.dir,
    data: event.data.toString('base64'),
  });
}

/** The flags go through the `capture` config schema, so they are checked as the config file would be. */
function validatedCaptureSettings(options: CaptureCommandOptions) {
  const flags: Record<string, string> = { maxCallBytes: '--max-call-bytes', ringBufferBytes: '--ring-buffer-bytes', excludePaths: '--exclude' };
  const result = captureConfigSchema.safeParse({ maxCallBytes: options.maxCallBytes, ringBufferBytes: options.ringBufferBytes, excludePaths: options.excludePaths });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new Error(`${flags[String(issue.path[0])] ?? issue.path.join('.')}: ${issue.message}`);
}

export async function runCaptureCommand(options: CaptureCommandOptions): Promise<void> {
  let settings: ReturnType<typeof validatedCaptureSettings>;
  try {
    settings = validatedCaptureSettings(options);
  } catch (error) {
    process.stderr.write(`sightline capture: ${(error as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const logger = createLogger({ level: process.env.SIGHTLINE_LOG_LEVEL ?? 'warn' });
  const out = options.out === '-' ? process.stdout : fs.createWriteStream(options.out, { flags: 'a' });
  let events = 0;
  let writeError: Error | undefined;
  out.on('error', (error: Error) => {
    writeError ??= error;
    process.kill(process.pid, 'SIGTERM'); // stop capturing: there is nowhere to write
  });
  const capture = new TlsCapture({
    logger,
    maxCallBytes: settings.maxCallBytes,
    ringBufferBytes: settings.ringBufferBytes,
    executables: [process.execPath],
    excludePaths: settings.excludePaths,
    onEvent: (event) => {
      events++;
      out.write(captureLine(event) + '\n');
    },
  });
  try {
    capture.start();
  } catch (error) {
    process.stderr.write(`sightline capture: ${(error as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  const files = capture.attachedFiles.map((file) => file.displayPath);
  process.stderr.write(
    `sightline capture: probes attached to ${files.length} TLS file(s): ${files.join(', ')}\n` +
      `sightline capture: writing to ${options.out}${options.durationSeconds ? ` for ${options.durationSeconds} s` : ' until Ctrl-C'}\n`,
  );

  await new Promise<void>((resolve) => {
    const finish = () => resolve();
    process.once('SIGINT', finish);
    process.once('SIGTERM', finish);
    if (options.durationSeconds) setTimeout(finish, options.durationSeconds * 1000);
  });

  // What the kernel ring still holds is written out before the probes are detached.
  await capture.drainAndStop();
  const counters = capture.counters();
  if (out !== process.stdout && !writeError) await new Promise<void>((resolve) => (out as fs.WriteStream).end(resolve));
  if (options.statsPath) fs.writeFileSync(options.statsPath, JSON.stringify(counters) + '\n');
  if (writeError) {
    process.stderr.write(`sightline capture: cannot write to ${options.out}: ${writeError.message}\n`);
    process.exitCode = 1;
  }
  process.stderr.write(
    `sightline capture: ${events} events, ${counters.bytes} bytes captured; ` +
      `${counters.truncatedBytes} bytes truncated (over ${settings.maxCallBytes} per call), ` +
      `${counters.droppedBytes} bytes dropped (ring buffer full), ${counters.readErrors} read errors\n`,
  );
}
