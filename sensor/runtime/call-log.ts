/** One readable log line per captured LLM call in local mode, at most a few per second, so a person sees it work. */
import type { Logger } from '../common/logger';
import { createLogRateLimit } from '../common/log-rate-limit';
import type { GenAiSpan } from '../span/gen-ai-span';

export function createCallLog(logger: Logger, maxPerSecond = 5): (span: GenAiSpan) => void {
  const limit = createLogRateLimit(maxPerSecond, 1000);
  return (span) => {
    const allowed = limit.allow();
    const skipped = limit.skippedInClosedWindow();
    if (skipped > 0) logger.info(`… and ${skipped} more call(s)`);
    if (!allowed) return;
    const a = span.attributes;
    const ms = Number(span.endTimeUnixNano - span.startTimeUnixNano) / 1e6;
    const tokens = a['gen_ai.usage.input_tokens'] !== undefined ? ` ${a['gen_ai.usage.input_tokens']}→${a['gen_ai.usage.output_tokens'] ?? '?'} tokens` : '';
    const who = `${span.resource['process.executable.name'] ?? '?'} pid ${span.resource['process.pid'] ?? '?'}`;
    const outcome = span.status.code === 'error' ? ` ERROR ${a['error.type'] ?? ''}` : '';
    logger.info(`${a['gen_ai.provider.name'] ?? '?'} ${span.name} ${ms.toFixed(0)} ms${tokens}${outcome} (${who})`);
  };
}
