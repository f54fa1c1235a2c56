import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CallStore, ftsQuery, type StoreLog } from '../../sensor/store/call-store';
import { assistant, callSpan, toolCall, toolResult, user } from './call-fixtures';

const MIB = 1024 * 1024;
let dir: string;
let file: string;
let stores: CallStore[];

function open(options: Partial<Parameters<typeof CallStore.open>[0]> = {}): CallStore {
  const store = CallStore.open({ file, maxBytes: 64 * MIB, maxAgeMs: 7 * 86_400_000, ...options });
  stores.push(store);
  return store;
}

function recordingLog(): StoreLog & { errors: string[] } {
  const errors: string[] = [];
  return { errors, info: () => {}, warn: () => {}, error: (message) => errors.push(message) };
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-store-'));
  file = path.join(dir, 'store', 'calls.sqlite');
  stores = [];
});

afterEach(() => {
  for (const store of stores) {
    try {
      store.close();
    } catch {
      // closed by the test
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('CallStore', () => {
  test('lists calls newest first, with filters, pages and the live tail', () => {
    const store = open();
    const now = Date.now();
    store.insert([
      { span: callSpan({ input: [user('first question')], output: [assistant('first answer')], startMs: now - 3000, durationMs: 300 }) },
      { span: callSpan({ input: [user('slow question')], output: [assistant('slow answer')], startMs: now - 2000, durationMs: 1500, model: 'claude-sonnet-4', provider: 'anthropic' }) },
      { span: callSpan({ input: [user('failing question')], startMs: now - 1000, durationMs: 50, error: { type: 'rate_limit_exceeded', status: 429, message: 'Rate limit reached' }, process: 'python3' }) },
    ]);
    const all = store.listCalls();
    expect(all.calls.map((call) => call.preview)).toEqual(['failing question', 'slow question', 'first question']);
    expect(all.nextBeforeId).toBeUndefined();
    expect(all.calls[0]).toMatchObject({ status: 'error', errorType: 'rate_limit_exceeded', httpStatus: 429, process: 'python3' });

    expect(store.listCalls({ minDurationMs: 1000 }).calls.map((call) => call.preview)).toEqual(['slow question']);
    expect(store.listCalls({ provider: 'anthropic' }).calls.map((call) => call.model)).toEqual(['claude-sonnet-4']);
    expect(store.listCalls({ status: 'error' }).calls).toHaveLength(1);
    expect(store.listCalls({ process: 'python3' }).calls).toHaveLength(1);
    expect(store.listCalls({ sinceMs: now - 1500 }).calls).toHaveLength(1);

    const firstPage = store.listCalls({ limit: 2 });
    expect(firstPage.calls).toHaveLength(2);
    const secondPage = store.listCalls({ limit: 2, beforeId: firstPage.nextBeforeId });
    expect(secondPage.calls.map((call) => call.preview)).toEqual(['first question']);
    expect(store.listCalls({ afterId: all.calls[1].id }).calls.map((call) => call.preview)).toEqual(['failing question']);
    expect(store.facets()).toEqual({ providers: ['anthropic', 'openai'], models: ['claude-sonnet-4', 'gpt-4o-mini'], processes: ['node', 'python3'] });
  });

  test('searches prompt and response text, as words, phrases and a prefix', () => {
    const store = open();
    store.insert([
      { span: callSpan({ input: [user('Where is the marker zebra-7731?')], output: [assistant('Nowhere at all.')] }) },
      { span: callSpan({ input: [user('Tell me about giraffes')], output: [assistant('Giraffes have long necks and eat acacia leaves.')] }) },
      { span: callSpan({ input: [user('Nothing to see')], output: [assistant('Indeed')], durationMs: 2000 }) },
    ]);
    const found = (search: string, extra = {}) => store.listCalls({ search, ...extra }).calls.map((call) => call.preview);
    expect(found('zebra-7731')).toEqual(['Where is the marker zebra-7731?']);
    expect(found('acacia')).toEqual(['Tell me about giraffes']); // response text
    expect(found('"long necks"')).toEqual(['Tell me about giraffes']);
    expect(found('"necks long"')).toEqual([]);
    expect(found('acac')).toEqual(['Tell me about giraffes']); // the last word is a prefix
    expect(found('indeed', { minDurationMs: 1000 })).toEqual(['Nothing to see']);
    expect(found('indeed', { minDurationMs: 5000 })).toEqual([]);
    expect(found('AND OR NOT * ( "')).toEqual([]); // operators are words here, and no call has them
  });

  test('a search combines with every filter, and a time range bounds it', () => {
    let now = Date.UTC(2026, 0, 1, 12);
    const store = open({ now: () => now, maxAgeMs: 1e12 });
    const models = ['gpt-4o', 'claude-3-5-haiku'];
    for (let i = 0; i < 40; i++) {
      now += 60_000; // stored a minute apart; each started just before it was stored
      store.insert([{ span: callSpan({ input: [user(`parcel ${i} question`)], model: models[i % 2], process: i % 4 === 0 ? 'python3' : 'node', durationMs: i % 10 === 0 ? 1500 : 120, startMs: now - 2000, provider: i % 2 ? 'anthropic' : 'openai', error: i % 5 === 0 ? { type: '500', status: 500, message: 'x' } : undefined }) }]);
    }
    const ids = (request: object) => store.listCalls({ search: 'parcel', limit: 1000, ...request }).calls.map((call) => Number(call.preview.split(' ')[1]));
    expect(ids({ model: 'claude-3-5-haiku' })).toEqual([39, 37, 35, 33, 31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1]);
    expect(ids({ provider: 'openai', process: 'python3' })).toEqual([36, 32, 28, 24, 20, 16, 12, 8, 4, 0]);
    expect(ids({ status: 'error', minDurationMs: 1000 })).toEqual([30, 20, 10, 0]);
    expect(ids({ minDurationMs: 1200 })).toEqual([30, 20, 10, 0]); // not a UI step: filtered in SQL alone
    expect(ids({ sinceMs: now - 5 * 60_000 - 1000 })).toEqual([39, 38, 37, 36, 35]);
    expect(store.listCalls({ sinceMs: now - 3 * 60_000 - 1000 }).calls).toHaveLength(3);
    expect(ids({ model: 'claude-3-5-haiku', sinceMs: now - 5 * 60_000 - 1000 })).toEqual([39, 37, 35]);
  });

  test('FTS5 syntax in a search is plain text', () => {
    expect(ftsQuery('NEAR(a b) OR c*')).toBe('"NEAR a" AND "b" AND "OR" AND "c"');
    expect(ftsQuery('"two words" last')).toBe('"two words" AND "last"*');
    expect(ftsQuery('***')).toBeUndefined();
  });

  test('joins the turns of a conversation, tool calls included, per process', () => {
    const store = open();
    const system = 'You are a travel agent.';
    const turn1 = [user('Weather in Paris?')];
    const call1 = toolCall('call_1', 'get_weather', { city: 'Paris' });
    const turn2 = [...turn1, call1, toolResult('call_1', { celsius: 21 })];
    const answer2 = assistant('It is 21 °C in Paris.');
    const turn3 = [...turn2, answer2, user('And tomorrow?')];
    store.insert([{ span: callSpan({ system, input: turn1, output: [call1], pid: 1 }) }]);
    // Another process asking the same first question starts its own conversation.
    store.insert([{ span: callSpan({ system, input: turn1, output: [call1], pid: 2 }) }]);
    store.insert([{ span: callSpan({ system, input: turn2, output: [answer2], pid: 1 }) }]);
    store.insert([{ span: callSpan({ system, input: turn3, output: [assistant('Rain.')], pid: 1 }) }]);
    // Same words, different instructions: not the same conversation.
    store.insert([{ span: callSpan({ system: 'You are a poet.', input: turn2, output: [answer2], pid: 1 }) }]);

    const calls = store.listCalls().calls.reverse();
    expect(calls.map((call) => [call.conversationId, call.turn])).toEqual([
      [calls[0].id, 1],
      [calls[1].id, 1],
      [calls[0].id, 2],
      [calls[0].id, 3],
      [calls[4].id, 1],
    ]);
    const conversation = store.getConversation(calls[0].id)!;
    expect(conversation.turns).toBe(3);
    // Each turn repeats the earlier turn's input and answer; what follows them is new.
    expect(conversation.calls.map((call) => call.sharedPrefix)).toEqual([0, 2, 4]);
    expect(conversation.calls.map((call) => call.preview)).toEqual(['Weather in Paris?', 'Weather in Paris?', 'And tomorrow?']);
    expect(store.listConversations().map((summary) => [summary.id, summary.turns])).toEqual([[calls[0].id, 3]]);
    expect(store.getCall(calls[3].id)).toMatchObject({ conversationTurns: 3, turn: 3 });
  });

  test('a call whose input repeats the previous answer differently still joins by the input it extends', () => {
    const store = open();
    store.insert([{ span: callSpan({ input: [user('Hi')], output: [assistant('Hello!')] }) }]);
    // The client sent the earlier turns back with an edited answer: it still extends the first call's input.
    store.insert([{ span: callSpan({ input: [user('Hi'), assistant('Hello there'), user('How are you?')], output: [assistant('Fine')] }) }]);
    const [second, first] = store.listCalls().calls;
    expect(second.conversationId).toBe(first.id);
    expect(second.turn).toBe(2);
  });

  test('keeps the span, the raw exchange and the facts of a call', () => {
    const store = open();
    const span = callSpan({ input: [user('Hi')], output: [assistant('Hello')], inputTokens: 30, outputTokens: 9 });
    span.attributes['sightline.cost.usd'] = 0.0012;
    span.attributes['gen_ai.response.time_to_first_chunk'] = 0.25;
    store.insert([{ span, raw: { request: 'POST /v1/chat/completions HTTP/1.1\r\n\r\n{}', response: 'HTTP/1.1 200\r\n\r\n{}' } }]);
    const id = store.listCalls().calls[0].id;
    const call = store.getCall(id)!;
    expect(call).toMatchObject({ inputTokens: 30, outputTokens: 9, costUsd: 0.0012, ttfcMs: 250, raw: { request: expect.stringContaining('POST /v1/chat/completions') } });
    expect(call.span.startTimeUnixNano).toBe(span.startTimeUnixNano.toString());
    expect(call.span.attributes['gen_ai.input.messages']).toBe(span.attributes['gen_ai.input.messages']);
    expect(store.getCall(id + 100)).toBeUndefined();
  });

  test('a restart keeps every call, conversation and alert rule', () => {
    const first = open();
    first.insert([
      { span: callSpan({ input: [user('kept across restarts')], output: [assistant('yes')] }) },
      { span: callSpan({ input: [user('kept across restarts'), assistant('yes'), user('still?')], output: [assistant('still')] }) },
    ]);
    first.addAlertRule({ kind: 'tokens_per_hour', threshold: 1_000_000 });
    first.close();
    stores = [];

    const second = open();
    expect(second.listCalls({ search: 'restarts' }).calls).toHaveLength(2);
    expect(second.listConversations()[0].turns).toBe(2);
    expect(second.alertRules().map((rule) => rule.kind)).toEqual(['duration', 'tokens_per_hour']);
    second.insert([{ span: callSpan({ input: [user('after the restart')] }) }]);
    const ids = second.listCalls().calls.map((call) => call.id);
    expect(ids).toEqual([3, 2, 1]); // ids continue, never reused
    // A conversation goes on across the restart.
    second.insert([{ span: callSpan({ input: [user('kept across restarts'), assistant('yes'), user('still?'), assistant('still'), user('and now?')] }) }]);
    expect(second.getCall(4)).toMatchObject({ conversationId: 1, turn: 3, sharedPrefix: 4 });
  });

  test('retention deletes calls older than the age limit', () => {
    let now = Date.now();
    const store = open({ maxAgeMs: 3_600_000, now: () => now });
    store.insert([
      { span: callSpan({ input: [user('two hours old')], startMs: now - 2 * 3_600_000 }) },
      { span: callSpan({ input: [user('fresh')], startMs: now - 60_000 }) },
    ]);
    expect(store.enforceRetention()).toEqual({ deletedByAge: 1, deletedBySize: 0 });
    expect(store.listCalls().calls.map((call) => call.preview)).toEqual(['fresh']);
    expect(store.listCalls({ search: 'hours' }).calls).toEqual([]);
    now += 2 * 3_600_000;
    expect(store.enforceRetention().deletedByAge).toBe(1);
    expect(store.info().calls).toBe(0);
  });

  test('retention keeps the file under its size limit by deleting the oldest calls', () => {
    const maxBytes = 4 * MIB;
    const store = open({ maxBytes });
    const filler = 'lorem ipsum dolor sit amet '.repeat(150); // ~4 KB of prompt per call
    let inserted = 0;
    while (store.usedBytes() < maxBytes * 1.5) {
      store.insert(Array.from({ length: 50 }, () => ({ span: callSpan({ input: [user(`call ${inserted++} ${filler}`)], output: [assistant(filler)] }) })));
    }
    const newestBefore = store.listCalls({ limit: 1 }).calls[0].id;
    const result = store.enforceRetention();
    expect(result.deletedBySize).toBeGreaterThan(0);
    expect(store.usedBytes()).toBeLessThanOrEqual(maxBytes);
    expect(fs.statSync(file).size).toBeLessThanOrEqual(maxBytes * 1.1); // incremental vacuum gave the pages back
    const left = store.listCalls({ limit: 5000 }).calls;
    expect(left.length).toBe(inserted - result.deletedBySize);
    expect(left[0].id).toBe(newestBefore); // the newest stay, the oldest went
    expect(Math.min(...left.map((call) => call.id))).toBe(result.deletedBySize + 1);
  });

  test('a file that is not a store is moved aside with a clear error, and a fresh store starts', () => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const garbage = Buffer.from('this is not an SQLite database, just some bytes '.repeat(200));
    fs.writeFileSync(file, garbage);
    const log = recordingLog();
    const store = open({ log });
    expect(log.errors).toHaveLength(1);
    expect(log.errors[0]).toMatch(/could not be read .*moved it aside to .*calls\.sqlite\.unreadable-.*started a fresh store/);
    const aside = fs.readdirSync(path.dirname(file)).filter((name) => name.startsWith('calls.sqlite.unreadable-'));
    expect(aside).toHaveLength(1);
    expect(fs.readFileSync(path.join(path.dirname(file), aside[0]))).toEqual(garbage);
    store.insert([{ span: callSpan({ input: [user('works again')] }) }]);
    expect(store.listCalls().calls.map((call) => call.preview)).toEqual(['works again']);
  });

  test('a store damaged while it ran is detected at the next start after a crash, and replaced', () => {
    const first = open();
    const filler = 'x'.repeat(2000);
    for (let i = 0; i < 20; i++) first.insert(Array.from({ length: 20 }, (_, j) => ({ span: callSpan({ input: [user(`row ${i}-${j} ${filler}`)] }) })));
    // A crash: no clean close, so the next start checks the pages.
    (first as unknown as { db: { close(): void } }).db.close();
    stores = [];
    const bytes = fs.readFileSync(file);
    // Overwrite pages in the middle of the file (not the header) with noise.
    for (let offset = 8 * 4096; offset < bytes.length - 4096; offset += 4096 * 3) bytes.fill(0x5a, offset, offset + 512);
    fs.writeFileSync(file, bytes);
    fs.rmSync(`${file}-wal`, { force: true });
    fs.rmSync(`${file}-shm`, { force: true });
    const log = recordingLog();
    const second = open({ log });
    expect(log.errors.join('\n')).toMatch(/could not be read .*moved it aside/);
    expect(second.info().calls).toBe(0);
    second.insert([{ span: callSpan({ input: [user('fresh again')] }) }]);
    expect(second.listCalls().calls).toHaveLength(1);
  });

  test('alert rules: a duration rule fires per slow call, rate rules fire once when they cross', () => {
    let now = Date.now();
    const store = open({ now: () => now, defaultDurationRuleMs: 1000 });
    expect(store.alertRules()).toMatchObject([{ kind: 'duration', threshold: 1000, name: 'Call over 1,000 ms' }]);
    const fast = store.insert([{ span: callSpan({ input: [user('fast')], durationMs: 900, startMs: now }) }]);
    expect(fast.firings).toEqual([]);
    const slow = store.insert([{ span: callSpan({ input: [user('slow')], durationMs: 1800, startMs: now }) }]);
    expect(slow.firings).toMatchObject([{ ruleName: 'Call over 1,000 ms', callId: slow.lastId, value: 1800 }]);
    expect(slow.firings[0].message).toMatch(/took 1,800 ms/);

    const errorRule = store.addAlertRule({ kind: 'error_rate', threshold: 30, windowMinutes: 5 });
    store.addAlertRule({ kind: 'tokens_per_hour', threshold: 100 });
    expect(store.evaluateRateRules()).toEqual([]); // 0 of 2 failed, 38 tokens
    store.insert([{ span: callSpan({ input: [user('boom')], startMs: now, error: { type: '500', status: 500, message: 'boom' }, inputTokens: 200 }) }]);
    const fired = store.evaluateRateRules();
    expect(fired.map((firing) => firing.ruleName).sort()).toEqual(['Error rate over 30% (5 min)', 'Over 100 tokens per hour']);
    expect(store.evaluateRateRules()).toEqual([]); // still breached: no second firing
    now += 10 * 60_000; // the failure leaves the 5-minute window
    expect(store.evaluateRateRules()).toEqual([]);
    expect(store.alertRules().find((rule) => rule.id === errorRule.id)!.firing).toBe(false);
    expect(store.firings().map((firing) => firing.ruleName)).toHaveLength(3);
    expect(() => store.addAlertRule({ kind: 'error_rate', threshold: 140 })).toThrow(/percentage/);
    expect(store.deleteAlertRule(errorRule.id)).toBe(true);
  });

  test('the overview survives a restart and forgets calls that retention deleted', () => {
    let now = Date.UTC(2026, 0, 1, 12);
    const first = open({ now: () => now, maxAgeMs: 3_600_000 });
    first.insert([{ span: callSpan({ input: [user('old')], startMs: now - 30 * 60_000 }) }, { span: callSpan({ input: [user('new')], startMs: now - 60_000 }) }]);
    first.close();
    stores = [];
    const second = open({ now: () => now, maxAgeMs: 3_600_000 });
    second.insert([{ span: callSpan({ input: [user('newer')], startMs: now - 30_000 }) }]);
    const count = () => second.overview({ sinceMs: now - 2 * 3_600_000, untilMs: now }).totals.calls;
    expect(count()).toBe(3);
    now += 40 * 60_000; // the oldest call passes the one-hour age
    second.enforceRetention();
    expect(count()).toBe(2);
  });

  test('overview: calls, tokens, cost and latency percentiles by model per bucket; top processes', () => {
    const start = Date.UTC(2026, 0, 1, 12, 0, 0);
    const store = open({ now: () => start + 600_000, maxAgeMs: 1e12 });
    const durations = [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000];
    store.insert(durations.map((durationMs, i) => ({ span: callSpan({ input: [user(`q${i}`)], durationMs, startMs: start + i * 1000, model: 'gpt-4o' }) })));
    store.insert([{ span: callSpan({ input: [user('x')], startMs: start + 120_000, model: 'claude', process: 'python3', error: { type: '500', status: 500, message: 'x' } }) }]);
    const overview = store.overview({ sinceMs: start, untilMs: start + 300_000, bucketMs: 60_000 });
    expect(overview.buckets).toHaveLength(5);
    const gpt = overview.models.find((series) => series.model === 'gpt-4o')!;
    expect(gpt.calls).toEqual([10, 0, 0, 0, 0]);
    expect(gpt.tokens[0]).toBe(190);
    // From the latency histogram: each percentile within 5% of the exact one (500, 900 and 1000 ms).
    const within5Percent = (value: number | null, exact: number) => value !== null && Math.abs(value - exact) / exact <= 0.05;
    expect([within5Percent(gpt.p50Ms[0], 500), within5Percent(gpt.p90Ms[0], 900), within5Percent(gpt.p99Ms[0], 1000)]).toEqual([true, true, true]);
    expect(gpt.p90Ms[0]).toBeLessThan(gpt.p99Ms[0]!);
    expect(gpt.p50Ms[1]).toBeNull();
    expect(overview.errorRate).toEqual([0, null, 1, null, null]);
    expect(overview.totals).toMatchObject({ calls: 11, errors: 1 });
    expect(overview.topProcesses.map((entry) => [entry.name, entry.calls])).toEqual([['node', 10], ['python3', 1]]);
  });
});
