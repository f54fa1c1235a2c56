/** The sensor's own health as Prometheus metrics: capture counters, decoding, pipeline. Read at scrape time. */
import { Gauge, type Registry } from 'prom-client';
import type { CaptureCounters } from '../capture/tls-capture';
import type { HttpDecodeStats } from '../http/connection-decoder';
import type { StreamStats } from '../streams/connection-streams';
import type { SpanPipelineStats } from '../pipeline/span-pipeline';

export interface SensorHealthSources {
  capture: () => CaptureCounters | undefined;
  streams: () => StreamStats & { openConnections: number };
  http: () => HttpDecodeStats;
  calls: () => { llmCalls: number; unparsedCalls: number; nonLlmExchanges: number };
  pipeline: () => SpanPipelineStats;
}

/** Registers gauges that mirror the counters (they only grow, but are read from elsewhere, hence gauges). */
export function registerSensorHealthMetrics(registry: Registry, sources: SensorHealthSources): () => void {
  const gauge = (name: string, help: string) => new Gauge({ name, help, registers: [registry] });
  const capture = {
    calls: gauge('sightline_capture_ssl_calls_total', 'SSL read/write calls that moved data'),
    events: gauge('sightline_capture_events_total', 'Records delivered by the BPF ring buffer'),
    bytes: gauge('sightline_capture_bytes_total', 'Plaintext bytes captured'),
    droppedEvents: gauge('sightline_capture_dropped_events_total', 'Records lost because the ring buffer was full'),
    droppedBytes: gauge('sightline_capture_dropped_bytes_total', 'Plaintext bytes lost because the ring buffer was full'),
    truncatedBytes: gauge('sightline_capture_truncated_bytes_total', 'Bytes beyond the per-call capture limit'),
    readErrors: gauge('sightline_capture_read_errors_total', 'User memory the BPF program could not read'),
    attachedFiles: gauge('sightline_capture_attached_files', 'TLS library files with probes attached'),
    attachFailures: gauge('sightline_capture_attach_failures_total', 'Failed attempts to attach probes to a file'),
  };
  const streams = {
    open: gauge('sightline_streams_open_connections', 'TLS connections being decoded'),
    opened: gauge('sightline_streams_connections_total', 'TLS connections seen'),
    evicted: gauge('sightline_streams_evicted_connections_total', 'Connections ended for idleness or a full table'),
    gaps: gauge('sightline_streams_gaps_total', 'Capture gaps handed to the decoders'),
    gapBytes: gauge('sightline_streams_gap_bytes_total', 'Bytes missing in those gaps'),
  };
  const http = {
    exchanges: gauge('sightline_http_exchanges_total', 'HTTP exchanges decoded'),
    ignored: gauge('sightline_http_ignored_exchanges_total', 'HTTP exchanges skipped as not LLM traffic (bodies not kept)'),
    malformed: gauge('sightline_http_malformed_bytes_total', 'Bytes that could not be parsed as HTTP'),
    truncated: gauge('sightline_http_truncated_bodies_total', 'Bodies cut by a limit or a gap'),
    bombs: gauge('sightline_http_decompression_limit_hits_total', 'Bodies whose decompression hit the limit'),
    decompressionErrors: gauge('sightline_http_decompression_errors_total', 'Bodies whose compression was corrupt'),
  };
  const calls = {
    llm: gauge('sightline_llm_calls_total', 'LLM calls recognised and parsed'),
    unparsed: gauge('sightline_llm_unparsed_calls_total', 'Exchanges that looked like LLM calls but could not be parsed'),
    nonLlm: gauge('sightline_non_llm_exchanges_total', 'Decoded exchanges that were not LLM calls'),
  };
  const pipeline = {
    spansOut: gauge('sightline_pipeline_spans_total', 'Spans handed to the exporters'),
    enrichmentFailures: gauge('sightline_pipeline_enrichment_failures_total', 'Spans exported without process or Kubernetes context'),
  };

  return () => {
    const counters = sources.capture();
    if (counters) for (const [key, metric] of Object.entries(capture)) metric.set(counters[key as keyof CaptureCounters] ?? 0);
    const s = sources.streams();
    streams.open.set(s.openConnections);
    streams.opened.set(s.connectionsOpened);
    streams.evicted.set(s.connectionsEvicted);
    streams.gaps.set(s.gaps);
    streams.gapBytes.set(s.gapBytes);
    const h = sources.http();
    http.exchanges.set(h.exchanges);
    http.ignored.set(h.ignoredExchanges);
    http.malformed.set(h.malformed);
    http.truncated.set(h.bodiesTruncated);
    http.bombs.set(h.decompressionLimitHits);
    http.decompressionErrors.set(h.decompressionErrors);
    const c = sources.calls();
    calls.llm.set(c.llmCalls);
    calls.unparsed.set(c.unparsedCalls);
    calls.nonLlm.set(c.nonLlmExchanges);
    const p = sources.pipeline();
    pipeline.spansOut.set(p.spansOut);
    pipeline.enrichmentFailures.set(p.enrichmentFailures);
  };
}
