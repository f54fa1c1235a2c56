/**
 * `npm run bench:hot-path`: the sensor's per-call work in user space, alone and deterministic. The bytes a node
 * HTTPS client writes and reads for an OpenAI chat completion are replayed, as capture events, through the real
 * stages (streams → HTTP/1.1 → provider → span → enrichment → privacy → the OTLP exporter's encoding and batching,
 * with a sink that accepts every batch), with no kernel, network or disk in the way. The baseline, measured in the
 * same run on the same bytes, is the least any decoder of these calls does: copy each buffer out of the ring and
 * `JSON.parse` both bodies. Figures: µs per call, the ratio to the baseline, and the collector's share (young and
 * old collections, from `PerformanceObserver`).
 *
 * Options: --calls N (per round, default 20000), --rounds N (default 5), --bodyBytes N (request size, default 1024).
 */
import { PerformanceObserver, constants, performance, type PerformanceEntry } from 'node:perf_hooks';
import type { CaptureEvent } from '../sensor/capture/capture-event';
import { silentLogger } from '../sensor/common/logger';
import { parseConfig } from '../sensor/config/load-config';
import { BatchingExporter } from '../sensor/exporters/batching-exporter';
import { otlpProtobufBatchCodec } from '../sensor/exporters/otlp-spans';
import { MemoryQueue } from '../sensor/exporters/spool';
import type { SpanExporter } from '../sensor/exporters/span-exporter';
import { newHttpDecodeStats } from '../sensor/http/connection-decoder';
import type { HttpExchange } from '../sensor/http/http-exchange';
import { SpanEnricher } from '../sensor/pipeline/enrich/span-enricher';
import { PrivacyStage } from '../sensor/pipeline/privacy/privacy-stage';
import { SpanPipeline } from '../sensor/pipeline/span-pipeline';
import { isLlmRequestHead } from '../sensor/provider/registry';
import type { GenAiSpan } from '../sensor/span/gen-ai-span';
import { ExchangeGroups, spansOfGroup } from '../sensor/span/exchange-groups';
import { spanFromExchange } from '../sensor/span/span-from-exchange';
import { ConnectionStreams } from '../sensor/streams/connection-streams';
import { median, parseNumericOptions } from './support/processes';

export interface HotPathOptions {
  calls: number;
  rounds: number;
  bodyBytes: number;
}

export interface HotPathRound {
  sensorMicrosPerCall: number;
  baselineMicrosPerCall: number;
  gcShare: number;
  /** Young-generation collections per 1,000 calls: allocation volume, as the semi-space size is fixed (4 MB, as the sensor runs). */
  youngCollectionsPer1000: number;
  spans: number;
}

/** One call as a node client's TLS layer sees it: the request it writes, the response it reads. */
function callBytes(bodyBytes: number, index: number): { request: Buffer; response: Buffer } {
  const body = JSON.stringify({
    model: 'gpt-4o-mini',
    temperature: 0.2,
    messages: [
      { role: 'system', content: 'Answer briefly.' },
      { role: 'user', content: `call ${index} ` + 'q'.repeat(Math.max(0, bodyBytes - 160)) },
    ],
  });
  const request = Buffer.from(
    'POST /v1/chat/completions HTTP/1.1\r\ncontent-type: application/json\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\nauthorization: Bearer sk-bench-not-a-real-key\r\n` +
      'Host: api.openai.com\r\nConnection: keep-alive\r\n\r\n' +
      body,
  );
  const reply = JSON.stringify({
    id: `chatcmpl-bench-${index}`,
    object: 'chat.completion',
    created: 1764633600,
    model: 'gpt-4o-mini-2024-07-18',
    system_fingerprint: 'fp_bench',
    choices: [{ index: 0, message: { role: 'assistant', content: `A short answer to a prompt of ${body.length} bytes.` }, finish_reason: 'stop' }],
    usage: { prompt_tokens: Math.ceil(body.length / 4), completion_tokens: 12, total_tokens: Math.ceil(body.length / 4) + 12 },
  });
  const response = Buffer.from(
    'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n' +
      `content-length: ${Buffer.byteLength(reply)}\r\nDate: Wed, 02 Dec 2026 12:00:00 GMT\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n` +
      reply,
  );
  return { request, response };
}

/** A sink that takes every batch at once: what is measured is the sensor's work, not a network. */
class AcceptingSink implements SpanExporter {
  readonly name = 'otlp';
  readonly encodedFormat = 'otlp-protobuf';
  batches = 0;
  async export(): Promise<void> {
    this.batches++;
  }
  async exportEncoded(): Promise<void> {
    this.batches++;
  }
  async shutdown(): Promise<void> {}
}

/** A ring-buffer batch's worth of calls, as the capture stage would hand them on (4 connections, as the bench loop). */
function replayEvents(calls: Array<{ request: Buffer; response: Buffer }>, connections: number): CaptureEvent[] {
  const events: CaptureEvent[] = [];
  let ts = Date.now();
  calls.forEach((call, index) => {
    const connectionId = (index % connections) + 1;
    const base = { pid: process.pid, tid: process.pid, comm: 'node', conn: `${process.pid}-${connectionId}`, connectionId, cgroupId: 1n, fd: 20 + connectionId, lostBeforeBytes: 0, truncatedBytes: 0, streamStart: false };
    events.push({ ...base, tsMs: (ts += 0.05), dir: 'out', data: call.request });
    events.push({ ...base, tsMs: (ts += 0.4), dir: 'in', data: call.response });
  });
  return events;
}

export async function measureHotPath(options: HotPathOptions, log: (line: string) => void = console.log): Promise<HotPathRound[]> {
  const config = parseConfig({});
  const distinct = Array.from({ length: 64 }, (_, index) => callBytes(options.bodyBytes, index));
  const calls = Array.from({ length: options.calls }, (_, index) => distinct[index % distinct.length]);
  const events = replayEvents(calls, 4);

  const sink = new AcceptingSink();
  const exporter = new BatchingExporter<GenAiSpan>({
    sink,
    codec: otlpProtobufBatchCodec,
    queue: new MemoryQueue(config.exporters.spool.memoryMaxBytes),
    batching: config.exporters.batching,
    retry: config.exporters.retry,
  });
  const enricher = await SpanEnricher.create({ kubernetes: { enabled: false } });
  let spans = 0;
  const pipeline = new SpanPipeline({
    enricher,
    privacy: new PrivacyStage(config.privacy),
    exporters: exporter,
    logger: silentLogger(),
    onSpan: () => spans++,
  });
  // As the sensor runs it: exchanges reach the span stage in groups.
  let spanStageFailure: unknown;
  const failed = (error: unknown) => (spanStageFailure ??= error);
  const spanOf = (exchange: HttpExchange) => {
    const outcome = spanFromExchange(exchange);
    return outcome.kind === 'span' ? outcome.span : undefined;
  };
  const exchanges = new ExchangeGroups<HttpExchange>({
    handleGroup: (group) => {
      const { spans, origins } = spansOfGroup(group, spanOf, failed);
      pipeline.submitGroup(spans, origins);
    },
    onError: failed,
  });
  const streams = new ConnectionStreams({
    idleTimeoutMs: 60_000,
    maxConnections: 1024,
    decoder: {
      limits: config.http,
      stats: newHttpDecodeStats(),
      isInteresting: isLlmRequestHead,
      onExchange: (exchange) => exchanges.push(exchange),
    },
  });

  let gcMs = 0;
  let youngCollections = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcMs += entry.duration;
      if ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) youngCollections++;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  /** The sensor's stages; every 256 events the event loop turns, as between two ring-buffer deliveries. */
  const sensorPass = async (): Promise<number> => {
    const started = performance.now();
    for (let index = 0; index < events.length; index++) {
      // The capture stage copies each record out of its delivery batch.
      const event = events[index];
      streams.push({ ...event, data: Buffer.from(event.data) });
      if ((index & 255) === 255) await settle();
    }
    exchanges.flush();
    // The exporter's batch timer is unref'd: cut the last batch so every span's hand-off settles.
    exporter.flush();
    await pipeline.drain();
    return performance.now() - started;
  };
  const baselinePass = async (): Promise<number> => {
    const started = performance.now();
    let kept = 0;
    for (let index = 0; index < events.length; index++) {
      const data = Buffer.from(events[index].data);
      const bodyStart = data.indexOf('\r\n\r\n') + 4;
      kept += Object.keys(JSON.parse(data.toString('utf8', bodyStart))).length;
      if ((index & 255) === 255) await settle();
    }
    if (kept === 0) throw new Error('baseline parsed nothing');
    return performance.now() - started;
  };

  // Warm-up: compile the hot path at its top tier before anything is timed.
  await sensorPass();
  await baselinePass();
  const rounds: HotPathRound[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const spansBefore = spans;
    gcMs = 0;
    youngCollections = 0;
    const sensorMs = await sensorPass();
    await settle();
    const sensorGcMs = gcMs;
    const sensorYoungCollections = youngCollections;
    const baselineMs = await baselinePass();
    const made = spans - spansBefore;
    if (spanStageFailure !== undefined) throw new Error(`round ${round + 1}: the span stage failed: ${(spanStageFailure as Error).message}`);
    if (made !== options.calls) throw new Error(`round ${round + 1}: ${made} spans for ${options.calls} calls`);
    const result = {
      sensorMicrosPerCall: (sensorMs * 1000) / options.calls,
      baselineMicrosPerCall: (baselineMs * 1000) / options.calls,
      gcShare: sensorGcMs / sensorMs,
      youngCollectionsPer1000: (sensorYoungCollections * 1000) / options.calls,
      spans: made,
    };
    log(
      `round ${round + 1}: sensor ${result.sensorMicrosPerCall.toFixed(1)} µs/call (collector ${(100 * result.gcShare).toFixed(0)}%, ${result.youngCollectionsPer1000.toFixed(1)} young collections per 1,000 calls), ` +
        `baseline ${result.baselineMicrosPerCall.toFixed(1)} µs/call, ratio ${(result.sensorMicrosPerCall / result.baselineMicrosPerCall).toFixed(2)}`,
    );
    rounds.push(result);
  }
  observer.disconnect();
  enricher.stop();
  await exporter.shutdown(1000);
  if (sink.batches === 0) throw new Error('no batch reached the sink');
  return rounds;
}

export function summariseHotPath(rounds: HotPathRound[], options: HotPathOptions): string[] {
  const sensor = median(rounds.map((round) => round.sensorMicrosPerCall));
  const baseline = median(rounds.map((round) => round.baselineMicrosPerCall));
  const gc = median(rounds.map((round) => round.gcShare));
  const young = median(rounds.map((round) => round.youngCollectionsPer1000));
  return [
    `user-space hot path, ${options.bodyBytes}-byte OpenAI calls replayed (median of ${rounds.length} rounds of ${options.calls}):`,
    `  sensor ${sensor.toFixed(1)} µs/call on the JS thread (collector ${(100 * gc).toFixed(0)}% of it, ${young.toFixed(1)} young collections per 1,000 calls at 4 MB semi-spaces); baseline (copy + JSON.parse of both bodies) ${baseline.toFixed(1)} µs/call; sensor / baseline = ${(sensor / baseline).toFixed(2)}`,
  ];
}

if (require.main === module) {
  const options = parseNumericOptions(process.argv.slice(2), { calls: 20_000, rounds: 5, bodyBytes: 1024 }) as HotPathOptions;
  measureHotPath(options)
    .then((rounds) => summariseHotPath(rounds, options).forEach((line) => console.log(line)))
    .catch((error: Error) => {
      console.error(`bench: ${error.message}`);
      process.exit(1);
    });
}
