/** The sensor's own health as Prometheus metrics: capture counters, decoding, pipeline. Read at scrape time. */
import { Gauge, type Registry } from 'prom-client';
import type { CaptureCounters } from '../capture/tls-capture';
import type { HttpDecodeStats } from '../http/connection-decoder';
import type { StreamStats } from '../streams/connection-streams';
import type { SpanPipelineStats } from '../pipeline/span-pipeline';
import type { IdleFirstStats } from './cpu-priority';

export interface SensorHealthSources {
  capture: () => CaptureCounters;
  streams: () => StreamStats & { openConnections: number };
  http: () => HttpDecodeStats;
  calls: () => { llmCalls: number; unparsedCalls: number; nonLlmExchanges: number };
  pipeline: () => SpanPipelineStats;
  /** Idle-first scheduling of the JS thread, when it runs (capture.idleFirst). */
  scheduling: () => IdleFirstStats | undefined;
}

interface Snapshot {
  capture: CaptureCounters;
  streams: StreamStats & { openConnections: number };
  http: HttpDecodeStats;
  calls: { llmCalls: number; unparsedCalls: number; nonLlmExchanges: number };
  pipeline: SpanPipelineStats;
  scheduling: IdleFirstStats;
}

const NO_SCHEDULING: IdleFirstStats = { promotions: 0, idleMillis: 0, normalMillis: 0, idle: false };

/** name, help, and where the value comes from. Counters are read from elsewhere at scrape time, hence gauges. */
const HEALTH_METRICS: Array<[string, string, (s: Snapshot) => number]> = [
  ['sightline_capture_ssl_calls_total', 'TLS read/write calls (OpenSSL SSL_*, Go crypto/tls) that moved data', (s) => s.capture.calls],
  ['sightline_capture_events_total', 'Records delivered by the BPF ring buffer', (s) => s.capture.events],
  ['sightline_capture_bytes_total', 'Plaintext bytes captured', (s) => s.capture.bytes],
  ['sightline_capture_dropped_events_total', 'Records lost because the ring buffer was full', (s) => s.capture.droppedEvents],
  ['sightline_capture_dropped_bytes_total', 'Plaintext bytes lost because the ring buffer was full', (s) => s.capture.droppedBytes],
  ['sightline_capture_truncated_bytes_total', 'Bytes beyond the per-call capture limit', (s) => s.capture.truncatedBytes],
  ['sightline_capture_read_errors_total', 'User memory the BPF program could not read', (s) => s.capture.readErrors],
  ['sightline_capture_muted_calls_total', 'TLS calls on connections judged not to carry LLM calls: nothing copied', (s) => s.capture.mutedCalls],
  ['sightline_capture_skipped_bytes_total', 'Plaintext bytes of those calls, never copied out of the kernel (not counted: a muted Go read, which is not waited for, and with uprobe sessions a muted read (a muted connection, or HTTP/1.1 between LLM requests), whose return is not probed)', (s) => s.capture.mutedBytes],
  ['sightline_capture_muted_connections_total', 'Connections muted whole (not HTTP, a server side, HTTP/2 without LLM calls)', (s) => s.capture.verdictsMute],
  ['sightline_capture_watched_connections_total', 'Times an HTTP/1.1 connection went quiet between LLM requests', (s) => s.capture.verdictsWatch],
  ['sightline_capture_followed_connections_total', 'Times a connection was followed for its LLM requests', (s) => s.capture.verdictsFollow],
  ['sightline_capture_pending_connections_total', 'Connections left to user space to judge (HTTP/2)', (s) => s.capture.verdictsPending],
  ['sightline_capture_verdict_budget_exhausted_total', 'Connections muted because no verdict came within the undecided budget', (s) => s.capture.budgetExhausted],
  ['sightline_capture_user_verdicts_total', 'Verdicts user space gave the kernel (HTTP/2 followed or muted, undecodable muted)', (s) => s.capture.userVerdictsFollow + s.capture.userVerdictsMute],
  ['sightline_streams_restarts_total', 'Times decoding restarted after the kernel skipped bytes between LLM requests', (s) => s.streams.streamRestarts],
  ['sightline_capture_attached_files', 'TLS library and Go executable files with probes attached', (s) => s.capture.attachedFiles],
  ['sightline_capture_uprobe_sessions', '1 when the OpenSSL probes are uprobe sessions (a muted call pays its entry probe only), 0 when every call gets an entry and a return probe', (s) => s.capture.uprobeSessions],
  ['sightline_capture_attach_failures_total', 'Failed attempts to attach probes to a file', (s) => s.capture.attachFailures],
  ['sightline_capture_internal_errors_total', 'Captured records whose handling failed (logged)', (s) => s.capture.internalErrors],
  ['sightline_streams_open_connections', 'TLS connections being decoded', (s) => s.streams.openConnections],
  ['sightline_streams_connections_total', 'TLS connections seen', (s) => s.streams.connectionsOpened],
  ['sightline_streams_evicted_connections_total', 'Connections ended for idleness or a full table', (s) => s.streams.connectionsEvicted],
  ['sightline_streams_gaps_total', 'Capture gaps handed to the decoders', (s) => s.streams.gaps],
  ['sightline_streams_gap_bytes_total', 'Bytes missing in those gaps', (s) => s.streams.gapBytes],
  ['sightline_http_exchanges_total', 'HTTP exchanges decoded', (s) => s.http.exchanges],
  ['sightline_http_ignored_exchanges_total', 'HTTP exchanges skipped as not LLM traffic (bodies not kept)', (s) => s.http.ignoredExchanges],
  ['sightline_http_malformed_bytes_total', 'Bytes that could not be parsed as HTTP', (s) => s.http.malformed],
  ['sightline_http_truncated_bodies_total', 'Bodies cut by a limit or a gap', (s) => s.http.bodiesTruncated],
  ['sightline_http_decompression_limit_hits_total', 'Bodies whose decompression hit the limit', (s) => s.http.decompressionLimitHits],
  ['sightline_http_decompression_errors_total', 'Bodies whose compression was corrupt', (s) => s.http.decompressionErrors],
  ['sightline_llm_calls_total', 'LLM calls recognised and parsed', (s) => s.calls.llmCalls],
  ['sightline_llm_unparsed_calls_total', 'Exchanges that looked like LLM calls but could not be parsed', (s) => s.calls.unparsedCalls],
  ['sightline_non_llm_exchanges_total', 'Decoded exchanges that were not LLM calls', (s) => s.calls.nonLlmExchanges],
  ['sightline_pipeline_spans_total', 'Spans handed to the exporters', (s) => s.pipeline.spansOut],
  ['sightline_pipeline_enrichment_failures_total', 'Spans exported without process or Kubernetes context', (s) => s.pipeline.enrichmentFailures],
  ['sightline_pipeline_failures_total', 'Spans a pipeline stage or exporter failed on (logged)', (s) => s.pipeline.failures],
  ['sightline_sensor_idle_class_seconds_total', "Seconds the sensor's JS thread ran in the idle scheduling class (capture.idleFirst)", (s) => s.scheduling.idleMillis / 1000],
  ['sightline_sensor_normal_class_seconds_total', 'Seconds it ran in the normal class after waiting for a CPU', (s) => s.scheduling.normalMillis / 1000],
  ['sightline_sensor_class_promotions_total', 'Times it was moved to the normal class because it waited for a CPU', (s) => s.scheduling.promotions],
];

/** Registers the health gauges; the returned function refreshes them from the sources (call it before a scrape). */
export function registerSensorHealthMetrics(registry: Registry, sources: SensorHealthSources): () => void {
  const gauges = HEALTH_METRICS.map(([name, help, read]) => ({ gauge: new Gauge({ name, help, registers: [registry] }), read }));
  return () => {
    const snapshot: Snapshot = { capture: sources.capture(), streams: sources.streams(), http: sources.http(), calls: sources.calls(), pipeline: sources.pipeline(), scheduling: sources.scheduling() ?? NO_SCHEDULING };
    for (const { gauge, read } of gauges) gauge.set(read(snapshot) ?? 0);
  };
}
