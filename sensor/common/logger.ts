/** Logging through pino, to stderr so stdout stays free for data: readable lines on a terminal, JSON otherwise. */
import pino from 'pino';
import type { LogFormat } from './logging-config';

export type Logger = pino.Logger;

export interface LoggerOptions {
  level?: string;
  /** @default 'auto' */
  format?: LogFormat;
  /** Whether stderr is a terminal (for `auto`). @default process.stderr.isTTY */
  isTerminal?: boolean;
}

/**
 * Fields a readable line leaves out: process identity, and the structured copy of what the message already says
 * (JSON output keeps them all, for machines).
 */
const TEXT_IGNORED_FIELDS = [
  'pid', 'hostname', 'service', 'call', 'heldBack', 'store', 'uiUrl', 'providerUrl', 'demoRound', 'alert', 'callId', 'healthPort', 'mode', 'otlpPort',
].join(',');

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.SIGHTLINE_LOG_LEVEL ?? 'info';
  const terminal = options.isTerminal ?? process.stderr.isTTY === true;
  const format = options.format ?? 'auto';
  if (format === 'text' || (format === 'auto' && terminal)) {
    // Loaded only here: JSON logging (a pod, where stderr is no terminal) never needs it. Synchronous, like
    // pino.destination(2) below, so the last lines are out before the process exits.
    const pinoPretty = require('pino-pretty') as typeof import('pino-pretty');
    const pretty = pinoPretty({ destination: 2, sync: true, colorize: terminal, translateTime: 'SYS:HH:MM:ss', ignore: TEXT_IGNORED_FIELDS, singleLine: true });
    return pino({ level, base: { service: 'sightline' } }, pretty);
  }
  return pino({ level, base: { service: 'sightline' } }, pino.destination(2));
}

/** A logger that drops everything, for library use and tests that assert on return values, not logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
