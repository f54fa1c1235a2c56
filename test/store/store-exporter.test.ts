import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Registry } from 'prom-client';
import type { HttpExchange } from '../../sensor/http/http-exchange';
import { RawExchanges } from '../../sensor/store/raw-exchanges';
import { StoreClient } from '../../sensor/store/store-client';
import { StoreExporter, type StoreWriter } from '../../sensor/store/store-exporter';
import type { EncodedCallRecord } from '../../sensor/store/stored-call';
import { assistant, callSpan, user } from './call-fixtures';

const quietLog = { info: () => {}, warn: () => {}, error: () => {} };

function exchange(body: string, responseBody: string): HttpExchange {
  return {
    connection: { conn: '1-1-1', connectionId: 1, pid: 1, tid: 1, comm: 'node', cgroupId: 0n, fd: 3 },
    protocol: 'http/1.1',
    request: {
      method: 'POST',
      path: '/v1/chat/completions',
      authority: 'api.openai.com',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(body),
      bodyTruncated: false,
      startTsMs: 0,
      endTsMs: 1,
    },
    response: { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(responseBody), bodyTruncated: false, startTsMs: 2, endTsMs: 3, complete: true },
  };
}

describe('StoreExporter with the store thread', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-store-exporter-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('exported spans are written by the store thread and read back through queries', async () => {
    const stored: number[] = [];
    const { client, info } = await StoreClient.start({ file: path.join(dir, 'calls.sqlite'), maxBytes: 64 << 20, maxAgeMs: 86_400_000, log: quietLog, onStored: (lastId) => stored.push(lastId) });
    expect(info.calls).toBe(0);
    const raw = new RawExchanges({ bodyBytes: 1024, includeBodies: true, redact: (text) => text });
    const exporter = new StoreExporter(client, { maxPendingSpans: 1000, raw });
    const spans = Array.from({ length: 3 }, (_, i) => callSpan({ input: [user(`question ${i} about otters`)], output: [assistant('answer')] }));
    raw.remember(spans[0].spanId, exchange('{"model":"gpt-4o-mini"}', '{"id":"chatcmpl-1"}'));
    // export() returns before anything is written: the pipeline never waits for the disk.
    await exporter.export(spans);
    expect(client.stats.stored).toBe(0);
    await exporter.shutdown();
    expect(client.stats.stored).toBe(3);
    expect(stored.at(-1)).toBe(3);
    const page = await client.listCalls({ search: 'otters' });
    expect(page.calls).toHaveLength(3);
    const first = await client.getCall(1);
    expect(first!.raw!.request).toContain('POST /v1/chat/completions HTTP/1.1\nhost: api.openai.com\ncontent-type: application/json\n\n{"model":"gpt-4o-mini"}');
    expect(first!.raw!.response).toContain('HTTP/1.1 200');
    expect(raw.size).toBe(0);
    await expect(client.getCall(99)).resolves.toBeUndefined();
    await client.close();
    await expect(client.listCalls()).rejects.toThrow(/closed/);
  });

  test('a store thread that cannot open its file fails start-up with the reason', async () => {
    const blocker = path.join(dir, 'not-a-dir');
    fs.writeFileSync(blocker, 'a file where the store directory should be');
    await expect(StoreClient.start({ file: path.join(blocker, 'calls.sqlite'), maxBytes: 64 << 20, maxAgeMs: 1000, log: quietLog })).rejects.toThrow(/store: cannot open .*not-a-dir.*(ENOTDIR|EEXIST)/);
  });
});

describe('StoreExporter back-pressure', () => {
  test('past maxPendingSpans new spans are counted as dropped, not queued', async () => {
    const written: EncodedCallRecord[][] = [];
    const writer: StoreWriter = { write: (records) => written.push(records), drain: async () => {}, spansWaiting: 8 };
    const registry = new Registry();
    const warnings: string[] = [];
    const exporter = new StoreExporter(writer, { maxPendingSpans: 10, registry, logger: { warn: (_fields, message) => warnings.push(message ?? ''), error: () => {} } });
    await exporter.export(Array.from({ length: 5 }, (_, i) => callSpan({ input: [user(`q${i}`)] })));
    await exporter.shutdown();
    expect(written.flat()).toHaveLength(2);
    expect(exporter.counts).toEqual({ accepted: 2, dropped: 3 });
    expect(await registry.getSingleMetricAsString('sightline_store_dropped_spans_total')).toMatch(/sightline_store_dropped_spans_total 3/);
    expect(warnings[0]).toMatch(/not stored: the store writer is 10 spans behind/);
  });
});

describe('RawExchanges', () => {
  test('bodies are cut at rawBodyBytes, hidden under obfuscation, and redacted', () => {
    const secret = 'sk-proj-abcdefghijklmnopqrstuvwxyz0123456789';
    const body = JSON.stringify({ messages: [{ role: 'user', content: `my key is ${secret}` }] });
    const cut = new RawExchanges({ bodyBytes: 10, includeBodies: true, redact: (text) => text.replaceAll(secret, '<redacted>') });
    cut.remember('a', exchange(body, 'ok'));
    expect(cut.take('a')!.request).toMatch(/\n\n\{"messages\n… \d+ more bytes not kept \(store\.rawBodyBytes\)$/);

    const redacted = new RawExchanges({ bodyBytes: 4096, includeBodies: true, redact: (text) => text.replaceAll(secret, '<redacted>') });
    redacted.remember('b', exchange(body, 'ok'));
    const raw = redacted.take('b')!;
    expect(raw.request).toContain('my key is <redacted>');
    expect(raw.request).not.toContain(secret);

    const hidden = new RawExchanges({ bodyBytes: 4096, includeBodies: false, redact: (text) => text });
    hidden.remember('c', exchange(body, '{"answer":"secret plans"}'));
    const hiddenRaw = hidden.take('c')!;
    expect(hiddenRaw.request).toMatch(/<\d+ bytes, hidden: privacy.obfuscation is on>$/);
    expect(hiddenRaw.response).not.toContain('secret plans');
    expect(hidden.take('c')).toBeUndefined();
  });

  test('remembers a bounded number of exchanges', () => {
    const raw = new RawExchanges({ bodyBytes: 10, includeBodies: true, redact: (text) => text, maxEntries: 2 });
    for (const id of ['a', 'b', 'c']) raw.remember(id, exchange('{}', '{}'));
    expect(raw.size).toBe(2);
    expect(raw.take('a')).toBeUndefined();
    expect(raw.take('c')).toBeDefined();
  });
});
