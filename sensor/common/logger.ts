/** Logging through pino, to stderr so stdout stays free for data. */
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string = process.env.SIGHTLINE_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { service: 'sightline' } }, pino.destination(2));
}

/** A logger that drops everything, for library use and tests that assert on return values, not logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
