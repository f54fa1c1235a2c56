/** The `logging` section: how the terminal output looks. */
import { z } from 'zod';

export const LOG_FORMATS = ['auto', 'text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export const loggingConfigSchema = z
  .object({
    format: z
      .enum(LOG_FORMATS)
      .default('auto')
      .describe('`text`: readable lines; `json`: one JSON object per line (pino); `auto`: text on a terminal, JSON otherwise. `--log-format` overrides it.'),
    callLinesPerSecond: z
      .number()
      .int()
      .min(0)
      .default(5)
      .describe('Lines per second about single calls in local mode; calls beyond it are reported as one summary line per second (never dropped silently).'),
  })
  .describe('Terminal output.');

export type LoggingConfig = z.output<typeof loggingConfigSchema>;
