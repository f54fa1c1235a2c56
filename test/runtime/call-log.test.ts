import { Writable } from 'node:stream';
import pino from 'pino';
import { createCallLog } from '../../sensor/runtime/call-log';
import { genAiSpan } from '../exporters/span-fixture';

function recordingLogger(): { logger: pino.Logger; messages: string[] } {
  const messages: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) messages.push((JSON.parse(line) as { msg: string }).msg);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), messages };
}

describe('call log', () => {
  beforeEach(() => jest.useFakeTimers({ now: Date.UTC(2026, 0, 1) }));
  afterEach(() => jest.useRealTimers());

  test('the calls of a burst past the per-second budget are reported by a summary line once the second is over', () => {
    const { logger, messages } = recordingLogger();
    const log = createCallLog(logger, 5);
    // Eleven calls from the official SDKs in one burst, then nothing more.
    for (let index = 1; index <= 11; index++) log(genAiSpan({ index, inputTokens: 10, outputTokens: 5 }));
    expect(messages).toHaveLength(5);
    jest.advanceTimersByTime(1000);
    expect(messages).toHaveLength(6);
    expect(messages[5]).toMatch(/^… and 6 more call\(s\) in the last second \(90 tokens\)$/);
    jest.advanceTimersByTime(5000);
    expect(messages).toHaveLength(6);
  });

  test('stopping reports what the current second held back', () => {
    const { logger, messages } = recordingLogger();
    const log = createCallLog(logger, 2);
    for (let index = 1; index <= 4; index++) log(genAiSpan({ index, errorType: index === 4 ? 'rate_limit_exceeded' : undefined }));
    log.stop();
    expect(messages).toHaveLength(3);
    expect(messages[2]).toMatch(/^… and 2 more call\(s\) in the last second \(1 error\)/);
    jest.advanceTimersByTime(2000);
    expect(messages).toHaveLength(3);
  });

  test('a new second starts a new budget; one line per call says what happened', () => {
    const { logger, messages } = recordingLogger();
    const log = createCallLog(logger, 1);
    log(genAiSpan({ index: 1, inputTokens: 12, outputTokens: 3, durationMs: 812, executable: 'python3' }));
    log(genAiSpan({ index: 2 }));
    jest.advanceTimersByTime(1500);
    log(genAiSpan({ index: 3, errorType: 'AccessDeniedException', provider: 'aws.bedrock', requestModel: 'anthropic.claude-3-haiku' }));
    expect(messages[0]).toMatch(/^openai chat gpt-4o 812 ms 12→3 tokens \(python3 pid \d+\)$/);
    expect(messages[1]).toMatch(/^… and 1 more call\(s\)/);
    expect(messages[2]).toMatch(/^aws\.bedrock chat anthropic\.claude-3-haiku 250 ms ERROR AccessDeniedException/);
  });
});
