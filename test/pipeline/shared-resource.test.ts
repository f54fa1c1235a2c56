/**
 * Spans of one process share one resource object from enrichment on, so privacy and the exporters handle a process's
 * resource once; the shared object must still give every span exactly the resource it would have had on its own.
 */
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { encodeSpanJson, encodeSpanProtobuf } from '../../sensor/exporters/otlp-span-encoding';
import { ProcessContextReader } from '../../sensor/pipeline/enrich/process';
import { SpanEnricher } from '../../sensor/pipeline/enrich/span-enricher';
import { PrivacyStage } from '../../sensor/pipeline/privacy/privacy-stage';
import { SpanPipeline } from '../../sensor/pipeline/span-pipeline';
import { silentLogger } from '../../sensor/common/logger';
import type { ExporterFanOut } from '../../sensor/exporters/create-exporters';
import { decodeTraceRequest } from '../../sensor/receiver/otlp-codec';
import type { GenAiSpan } from '../../sensor/span/gen-ai-span';

let procRoot: string;
let nowMs = 1_000;

function writeProcess(pid: number, exe: string, argv: string[]): void {
  const dir = path.join(procRoot, String(pid));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  symlinkSync(exe, path.join(dir, 'exe'));
  writeFileSync(path.join(dir, 'cmdline'), [...argv, ''].join('\0'));
  writeFileSync(path.join(dir, 'comm'), `${path.basename(exe)}\n`);
}

function span(n: number): GenAiSpan {
  return {
    traceId: n.toString(16).padStart(32, '0'),
    spanId: n.toString(16).padStart(16, '0'),
    name: 'chat gpt-4o-mini',
    kind: 'client',
    startTimeUnixNano: 1_764_633_600_000_000_000n,
    endTimeUnixNano: 1_764_633_600_250_000_000n,
    attributes: { 'gen_ai.operation.name': 'chat', 'server.address': 'api.openai.com' },
    resource: {},
    status: { code: 'unset' },
    source: 'ebpf',
  };
}

beforeAll(() => {
  procRoot = mkdtempSync(path.join(tmpdir(), 'sightline-shared-resource-'));
});
afterAll(() => rmSync(procRoot, { recursive: true, force: true }));

test('spans of one process share a resource until its context changes; each is encoded and scrubbed as if alone', async () => {
  const enricher = new SpanEnricher({ processes: new ProcessContextReader({ procRoot, ttlMs: 500, now: () => nowMs }) });
  const privacy = new PrivacyStage();
  writeProcess(5001, '/usr/bin/python3', ['python3', 'agent.py', '--api-key=sk-proj-abcdefghijklmnopqrstuvwx']);
  writeProcess(5002, '/usr/bin/node', ['node', 'server.js']);

  const first = privacy.apply(await enricher.enrich(span(1), { pid: 5001 }));
  const second = privacy.apply(await enricher.enrich(span(2), { pid: 5001 }));
  const other = privacy.apply(await enricher.enrich(span(3), { pid: 5002 }));
  expect(second.resource).toBe(first.resource);
  expect(other.resource).not.toBe(first.resource);
  expect(first.resource['process.command_line']).toBe('python3 agent.py --api-key=<redacted>');
  expect(other.resource['process.executable.name']).toBe('node');

  // The cached encodings carry each span's own resource.
  for (const [encoded, pid] of [[first, 5001], [second, 5001], [other, 5002]] as const) {
    const decoded = decodeTraceRequest(encodeSpanProtobuf(encoded), 'protobuf').spans[0].span;
    expect(decoded.resource['process.pid']).toBe(pid);
    expect(decoded.spanId).toBe(encoded.spanId);
    const json = JSON.parse(encodeSpanJson(encoded));
    expect(json.resource.attributes).toContainEqual({ key: 'process.pid', value: { intValue: pid } });
  }
  expect(JSON.stringify(decodeTraceRequest(encodeSpanProtobuf(first), 'protobuf').spans[0].span.resource)).not.toContain('sk-proj');

  // A new process image under the same pid (exec) is seen once the cached context expires: a new resource.
  writeProcess(5001, '/usr/bin/ruby', ['ruby', 'worker.rb']);
  nowMs += 500;
  const afterExec = privacy.apply(await enricher.enrich(span(4), { pid: 5001 }));
  expect(afterExec.resource).not.toBe(first.resource);
  expect(afterExec.resource['process.executable.name']).toBe('ruby');
  expect(decodeTraceRequest(encodeSpanProtobuf(afterExec), 'protobuf').spans[0].span.resource['process.command_line']).toBe('ruby worker.rb');
});

test('a span that brings its own resource keeps it and shares nothing', async () => {
  const enricher = new SpanEnricher({ processes: new ProcessContextReader({ procRoot }) });
  writeProcess(5003, '/usr/bin/python3', ['python3', 'app.py']);
  const withResource = (n: number): GenAiSpan => ({ ...span(n), resource: { 'service.name': `svc-${n}` } });
  const a = await enricher.enrich(withResource(5), { pid: 5003 });
  const b = await enricher.enrich(withResource(6), { pid: 5003 });
  expect(a.resource).not.toBe(b.resource);
  expect(a.resource['service.name']).toBe('svc-5');
  expect(b.resource['service.name']).toBe('svc-6');
});

test('once a process\'s context is known, its spans are enriched, scrubbed and exported before submit returns; the first waits for the read', async () => {
  const enricher = new SpanEnricher({ processes: new ProcessContextReader({ procRoot, ttlMs: 60_000, now: () => nowMs }) });
  writeProcess(5003, '/usr/bin/python3', ['python3', 'agent.py', '--api-key=sk-proj-abcdefghijklmnopqrstuvwx']);
  const received: GenAiSpan[] = [];
  const exporters: ExporterFanOut = { exporters: [], export: async (spans) => void received.push(...spans), shutdown: async () => undefined, pendingBytes: () => 0 };
  const pipeline = new SpanPipeline({ enricher, privacy: new PrivacyStage(), exporters, logger: silentLogger() });

  pipeline.submit(span(10), { pid: 5003 });
  expect(received).toHaveLength(0); // the process's first call waits for /proc to be read
  await pipeline.drain();
  expect(received).toHaveLength(1);

  pipeline.submit(span(11), { pid: 5003 });
  expect(received).toHaveLength(2); // known context: done synchronously
  expect(received[1].resource).toBe(received[0].resource);
  expect(received[1].resource['process.command_line']).toBe('python3 agent.py --api-key=<redacted>');
  expect(received[1].attributes['sightline.client']).toBe('python3');

  // Once the cached context expires, it is read again before the next span goes on.
  nowMs += 60_000;
  pipeline.submit(span(12), { pid: 5003 });
  expect(received).toHaveLength(2);
  await pipeline.drain();
  expect(received).toHaveLength(3);
  expect(pipeline.stats).toMatchObject({ spansIn: 3, spansOut: 3, failures: 0 });
});
