/**
 * One line per captured LLM call in local mode, so a person sees it work. Past `maxPerSecond` lines in a second,
 * calls are counted and reported by one summary line when that second is over (on a timer, and at stop), so the
 * last calls of a burst are never left unreported.
 */
import type { Logger } from '../common/logger';
import type { GenAiSpan } from '../span/gen-ai-span';

export interface CallLog {
  (span: GenAiSpan): void;
  /** Reports what the current second held back, and stops the timer. */
  stop(): void;
}

const WINDOW_MS = 1000;

export function createCallLog(logger: Logger, maxPerSecond = 5): CallLog {
  let windowStart = -Infinity;
  let linesInWindow = 0;
  let held = { calls: 0, errors: 0, tokens: 0 };
  let timer: NodeJS.Timeout | undefined;

  const reportHeld = () => {
    clearTimeout(timer);
    timer = undefined;
    if (held.calls === 0) return;
    const details = [held.errors > 0 ? `${held.errors} error${held.errors === 1 ? '' : 's'}` : '', held.tokens > 0 ? `${held.tokens.toLocaleString('en-US')} tokens` : ''].filter(Boolean);
    logger.info({ heldBack: { ...held } }, `… and ${held.calls} more call(s) in the last second${details.length > 0 ? ` (${details.join(', ')})` : ''}`);
    held = { calls: 0, errors: 0, tokens: 0 };
  };

  const log = ((span: GenAiSpan) => {
    const now = Date.now();
    if (now - windowStart >= WINDOW_MS) {
      reportHeld();
      windowStart = now;
      linesInWindow = 0;
    }
    const a = span.attributes;
    const inputTokens = typeof a['gen_ai.usage.input_tokens'] === 'number' ? a['gen_ai.usage.input_tokens'] : undefined;
    const outputTokens = typeof a['gen_ai.usage.output_tokens'] === 'number' ? a['gen_ai.usage.output_tokens'] : undefined;
    const failed = span.status.code === 'error';
    if (linesInWindow >= maxPerSecond) {
      held.calls++;
      if (failed) held.errors++;
      held.tokens += (inputTokens ?? 0) + (outputTokens ?? 0);
      timer ??= setTimeout(reportHeld, Math.max(0, windowStart + WINDOW_MS - now));
      timer.unref?.();
      return;
    }
    linesInWindow++;
    const durationMs = Math.round(Number(span.endTimeUnixNano - span.startTimeUnixNano) / 1e6);
    const tokens = inputTokens !== undefined ? ` ${inputTokens}→${outputTokens ?? '?'} tokens` : '';
    const process = span.resource['process.executable.name'] ?? span.resource['service.name'] ?? '?';
    const pid = span.resource['process.pid'];
    const who = pid === undefined ? `${process}` : `${process} pid ${pid}`;
    const errorType = failed ? String(a['error.type'] ?? '') : undefined;
    const provider = a['gen_ai.provider.name'] ?? '?';
    logger.info(
      { call: { provider, name: span.name, durationMs, inputTokens, outputTokens, error: errorType, process, pid } },
      `${provider} ${span.name} ${durationMs} ms${tokens}${failed ? ` ERROR ${errorType}` : ''} (${who})`,
    );
  }) as CallLog;
  log.stop = reportHeld;
  return log;
}
