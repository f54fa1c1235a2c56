/**
 * The local store's bars (`npm run bench:store`): ingest at least 5,000 spans/s through the exporter and the store
 * thread, and answer the call list and a full-text search over 1,000,000 stored calls in under 100 ms.
 *
 * Spans carry realistic content (a system prompt, a question, an answer; some multi-turn, some tool calls), so the
 * full-text index and the conversation lookups do their real work. Queries go through the store thread, as the UI's do.
 * BENCH_CALLS (default 1,000,000) and BENCH_INGEST (default 50,000) change the sizes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CallListRequest } from '../sensor/store/call-query';
import { CallStore } from '../sensor/store/call-store';
import { StoreClient } from '../sensor/store/store-client';
import { StoreExporter } from '../sensor/store/store-exporter';
import type { GenAiSpan } from '../sensor/span/gen-ai-span';

const STORED_CALLS = Number(process.env.BENCH_CALLS ?? 1_000_000);
const INGEST_SPANS = Number(process.env.BENCH_INGEST ?? 50_000);
const GIB = 1024 ** 3;
const quiet = { info: () => {}, warn: () => {}, error: (message: string) => process.stderr.write(`${message}\n`) };

const TOPICS = ['invoice', 'refund', 'shipping', 'password', 'weather', 'recipe', 'contract', 'schedule', 'translation', 'summary', 'migration', 'outage'];
const MODELS = ['gpt-4o-mini', 'gpt-4o', 'claude-3-5-haiku-latest', 'claude-sonnet-4-20250514', 'amazon.nova-lite-v1:0', 'o3-mini'];
const PROCESSES = ['node', 'python3', 'java', 'checkout-api', 'support-bot'];

/** A call as the pipeline hands it over: deterministic from its index, about 1 KB of content. */
export function benchSpan(index: number, startMs: number): GenAiSpan {
  const topic = TOPICS[index % TOPICS.length];
  const model = MODELS[index % MODELS.length];
  const conversation = Math.floor(index / 3);
  const turn = index % 3;
  const messages: unknown[] = [{ role: 'system', parts: [{ type: 'text', content: `You are the ${topic} assistant of ACME. Answer briefly and cite the policy.` }] }];
  for (let t = 0; t <= turn; t++) {
    messages.push({ role: 'user', parts: [{ type: 'text', content: `Customer ${conversation} asks (${t}): what about my ${topic} from order ${conversation * 7 + t}? ref-${conversation}-${t}` }] });
    if (t < turn) messages.push({ role: 'assistant', parts: [{ type: 'text', content: `Your ${topic} for order ${conversation * 7 + t} is being handled; expect an update within two days.` }] });
  }
  const output = index % 10 === 0
    ? [{ role: 'assistant', parts: [{ type: 'tool_call', id: `call_${index}`, name: `lookup_${topic}`, arguments: { order: conversation * 7 + turn } }], finish_reason: 'tool_calls' }]
    : [{ role: 'assistant', parts: [{ type: 'text', content: `Your ${topic} for order ${conversation * 7 + turn} is being handled; expect an update within two days. Policy ${index % 97}.` }], finish_reason: 'stop' }];
  const failed = index % 50 === 0;
  const durationMs = index % 100 === 0 ? 1500 + (index % 700) : 150 + (index % 600);
  const start = BigInt(Math.round(startMs)) * 1_000_000n;
  return {
    traceId: index.toString(16).padStart(32, '0'),
    spanId: index.toString(16).padStart(16, '0'),
    name: `chat ${model}`,
    kind: 'client',
    startTimeUnixNano: start,
    endTimeUnixNano: start + BigInt(durationMs) * 1_000_000n,
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': model.startsWith('claude') ? 'anthropic' : model.startsWith('amazon') ? 'aws.bedrock' : 'openai',
      'gen_ai.request.model': model,
      'gen_ai.response.model': model,
      'gen_ai.usage.input_tokens': 40 + turn * 30,
      'gen_ai.usage.output_tokens': 25,
      'sightline.cost.usd': 0.00004,
      'http.response.status_code': failed ? 429 : 200,
      ...(failed ? { 'error.type': 'rate_limit_exceeded' } : {}),
      'gen_ai.input.messages': JSON.stringify(messages),
      'gen_ai.output.messages': JSON.stringify(output),
    },
    resource: { 'process.pid': 1000 + (conversation % 50), 'process.executable.name': PROCESSES[conversation % PROCESSES.length] },
    status: failed ? { code: 'error', message: 'rate limited' } : { code: 'unset' },
    source: 'ebpf',
  };
}

function fileBytes(file: string): number {
  return ['', '-wal'].reduce((sum, suffix) => sum + (fs.existsSync(file + suffix) ? fs.statSync(file + suffix).size : 0), 0);
}

/** Spans per second of wall-clock time, and CPU time per span over all threads (which a busy shared machine does not inflate). */
async function measureIngest(file: string, firstIndex = 0): Promise<{ rate: number; cpuMicrosPerSpan: number }> {
  const { client } = await StoreClient.start({ file, maxBytes: 4 * GIB, maxAgeMs: 3650 * 86_400_000, log: quiet });
  const exporter = new StoreExporter(client, { maxPendingSpans: INGEST_SPANS * 2 });
  const now = Date.now() - INGEST_SPANS;
  const spans = Array.from({ length: INGEST_SPANS }, (_, i) => benchSpan(firstIndex + i, now + i));
  const started = process.hrtime.bigint();
  const cpuBefore = process.cpuUsage();
  // As the pipeline offers them: batches of 100 spans.
  for (let i = 0; i < spans.length; i += 100) await exporter.export(spans.slice(i, i + 100));
  await exporter.shutdown();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  if (client.stats.stored !== INGEST_SPANS) throw new Error(`ingest: ${client.stats.stored} of ${INGEST_SPANS} stored`);
  await client.close();
  return { rate: INGEST_SPANS / seconds, cpuMicrosPerSpan: (cpu.user + cpu.system) / INGEST_SPANS };
}

async function populate(file: string): Promise<{ seconds: number; bytes: number }> {
  const store = CallStore.open({ file, maxBytes: 4 * GIB, maxAgeMs: 3650 * 86_400_000, log: quiet });
  const startMs = Date.now() - STORED_CALLS * 500; // one call every half second, ending now
  const started = Date.now();
  for (let i = 0; i < STORED_CALLS; i += 2000) {
    store.insert(Array.from({ length: Math.min(2000, STORED_CALLS - i) }, (_, j) => ({ span: benchSpan(i + j, startMs + (i + j) * 500) })));
    if ((i / 2000) % 50 === 0) process.stdout.write(`\r  filling: ${(i + 2000).toLocaleString('en-US')} calls`);
  }
  store.close();
  process.stdout.write('\n');
  return { seconds: (Date.now() - started) / 1000, bytes: fileBytes(file) };
}

async function timeQuery(client: StoreClient, request: CallListRequest, runs = 15): Promise<{ medianMs: number; maxMs: number; rows: number }> {
  const times: number[] = [];
  let rows = 0;
  for (let run = 0; run < runs; run++) {
    const started = process.hrtime.bigint();
    rows = (await client.listCalls(request)).calls.length;
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { medianMs: times[Math.floor(times.length / 2)], maxMs: times[times.length - 1], rows };
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-store-bench-'));
  console.log(`store bench: ${os.cpus().length} CPUs, node ${process.version}, SQLite via better-sqlite3 in a worker thread`);
  try {
    const report = (where: string, { rate, cpuMicrosPerSpan }: { rate: number; cpuMicrosPerSpan: number }) => {
      console.log(`  ingest through the store exporter and thread, ${where}: ${INGEST_SPANS.toLocaleString('en-US')} spans at ${Math.round(rate).toLocaleString('en-US')} spans/s (bar: 5,000 spans/s)`);
      console.log(`    CPU: ${cpuMicrosPerSpan.toFixed(0)} µs per span over both threads, i.e. ${Math.round(1e6 / cpuMicrosPerSpan).toLocaleString('en-US')} spans per CPU-second; load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs`);
      return rate;
    };
    const freshRate = report('into an empty store', await measureIngest(path.join(dir, 'ingest.sqlite')));

    const file = path.join(dir, 'million.sqlite');
    const filled = await populate(file);
    console.log(`  stored ${STORED_CALLS.toLocaleString('en-US')} calls in ${filled.seconds.toFixed(0)} s (${Math.round(STORED_CALLS / filled.seconds).toLocaleString('en-US')} calls/s, spans made and written in one thread); file ${(filled.bytes / GIB).toFixed(2)} GiB`);
    const fullRate = report(`into the store of ${STORED_CALLS.toLocaleString('en-US')} calls`, await measureIngest(file, STORED_CALLS));
    const rate = Math.min(freshRate, fullRate);

    const { client } = await StoreClient.start({ file, maxBytes: 4 * GIB, maxAgeMs: 3650 * 86_400_000, log: quiet });
    const marker = `ref-${Math.floor((STORED_CALLS / 2) / 3)}-1`; // one call's unique reference, mid-history
    const queries: Array<[string, CallListRequest]> = [
      ['list: newest 100', {}],
      ['list: one model', { model: 'gpt-4o' }],
      ['list: over 1 s (1% of calls)', { minDurationMs: 1000 }],
      ['list: errors (2%)', { status: 'error' }],
      ['list: one process, last hour', { process: 'python3', sinceMs: Date.now() - 3_600_000 }],
      ['search: a unique reference', { search: marker }],
      ['search: a common word', { search: 'refund' }],
      ['search: a word in every call', { search: 'order' }],
      ['search + model filter', { search: 'shipping', model: 'o3-mini' }],
      ['search + over 1 s', { search: 'invoice', minDurationMs: 1000 }],
    ];
    let worst = 0;
    for (const [name, request] of queries) {
      const result = await timeQuery(client, request);
      worst = Math.max(worst, result.medianMs);
      console.log(`  ${name.padEnd(34)} median ${result.medianMs.toFixed(1).padStart(6)} ms, max ${result.maxMs.toFixed(1).padStart(6)} ms, ${result.rows} rows`);
    }
    for (const [name, rangeMs] of [['overview: last hour', 3_600_000], ['overview: last 24 hours', 86_400_000]] as const) {
      const started = process.hrtime.bigint();
      const overview = await client.overview({ sinceMs: Date.now() - rangeMs, untilMs: Date.now() });
      console.log(`  ${name.padEnd(34)} ${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(0).padStart(6)} ms over ${overview.totals.calls.toLocaleString('en-US')} calls`);
    }
    const detailStarted = process.hrtime.bigint();
    await client.getCall(Math.floor(STORED_CALLS / 2));
    console.log(`  one call's page: ${(Number(process.hrtime.bigint() - detailStarted) / 1e6).toFixed(1)} ms`);
    console.log(`  slowest median list/search over ${STORED_CALLS.toLocaleString('en-US')} calls: ${worst.toFixed(1)} ms (bar: 100 ms)`);
    await client.close();
    if (rate < 5000 || worst >= 100) process.exitCode = 1;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((error: Error) => {
    console.error(`store bench: ${error.stack}`);
    process.exit(1);
  });
}
