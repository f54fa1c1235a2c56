/**
 * The sensor process: capture → streams → http → provider → span → pipeline → exporters, plus the OTLP receiver
 * for instrumented apps on the node, and the health server. With an OTLP endpoint it ships spans to the gateway
 * (which computes metrics and cost); without one it is the local, all-in-one mode and does everything itself.
 */
import * as os from 'node:os';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { TlsCapture } from '../capture/tls-capture';
import type { Logger } from '../common/logger';
import { createLogRateLimit } from '../common/log-rate-limit';
import type { SightlineConfig } from '../config/schema';
import { createExporters, type ExporterFanOut } from '../exporters/create-exporters';
import { newHttpDecodeStats } from '../http/connection-decoder';
import type { HttpExchange } from '../http/http-exchange';
import { CostCalculator, PriceTable } from '../pipeline/cost';
import { SpanEnricher } from '../pipeline/enrich/span-enricher';
import { GenAiMetrics } from '../pipeline/metrics';
import { PrivacyStage } from '../pipeline/privacy/privacy-stage';
import { SpanPipeline } from '../pipeline/span-pipeline';
import { isLlmRequestHead, llmAuthorityMatcher, llmPathSegments } from '../provider/registry';
import { startOtlpReceiver, type RunningOtlpReceiver } from '../receiver/otlp-receiver';
import type { GenAiSpan } from '../span/gen-ai-span';
import { healthReportSpan } from '../span/health-report';
import { ExchangeGroups, spansOfGroup } from '../span/exchange-groups';
import { spanFromExchange } from '../span/span-from-exchange';
import { ConnectionStreams } from '../streams/connection-streams';
import { ConnectionJudge } from '../streams/connection-verdicts';
import { createCallLog, type CallLog } from './call-log';
import { lowerThreadPriorities, startIdleFirstScheduling, type IdleFirstScheduling } from './cpu-priority';
import { startHealthServer } from './health-server';
import { checkUiExposure, startLocalStore, type LocalStore } from './local-store';
import { warnIfOpen } from './receiver-exposure';
import { registerSensorHealthMetrics } from './sensor-health-metrics';

export interface RunningSensor {
  healthPort: number;
  otlpPort?: number;
  /** The web UI's address, in local mode with the store and UI on. */
  uiUrl?: string;
  stop(): Promise<void>;
}

export async function startSensor(config: SightlineConfig, logger: Logger): Promise<RunningSensor> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry }); // process CPU, RSS, heap, event-loop lag
  const shipsToGateway = config.exporters.otlp.enabled;
  checkUiExposure(config);
  const health = await startHealthServer(config.server.host, config.server.httpPort, registry, () => refreshHealth());
  let exporters: ExporterFanOut | undefined;
  let enricher: SpanEnricher | undefined;
  let receiver: RunningOtlpReceiver | undefined;
  let capture: TlsCapture | undefined;
  let idleFirst: IdleFirstScheduling | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  let healthTimer: NodeJS.Timeout | undefined;
  let localStore: LocalStore | undefined;
  let callLog: CallLog | undefined;
  const refreshHealthSources: Array<() => void> = [];
  const refreshHealth = () => refreshHealthSources.forEach((refresh) => refresh());

  try {
    // Local mode keeps every call in the embedded store, which the web UI reads.
    if (!shipsToGateway && config.store.enabled) {
      localStore = await startLocalStore(config, logger, registry, () => ({ mode: 'local', attachedFiles: capture?.attachedFiles.map((file) => file.displayPath) ?? [] }));
      if (localStore.ui) health.setFallback(localStore.ui.handle);
    }
    exporters = createExporters(config.exporters, {
      registry,
      logger,
      slaThresholdMs: config.metrics.slaThresholdMs,
      additional: localStore ? [localStore.exporter] : [],
    });
    callLog = shipsToGateway ? undefined : createCallLog(logger, config.logging.callLinesPerSecond);
    enricher = await SpanEnricher.create(config.enrichment, {
      warn: (message: string) => logger.warn(message),
      debug: (message: string) => logger.debug(message),
    });
    const pipeline = new SpanPipeline({
      enricher,
      privacy: new PrivacyStage(config.privacy),
      // Metrics and cost are the gateway's job when there is one, so they are never counted twice.
      cost: shipsToGateway ? undefined : new CostCalculator(new PriceTable(config.pricing)),
      metrics: shipsToGateway ? undefined : new GenAiMetrics({ registry, maxLabelValues: config.metrics.maxLabelValues }),
      exporters,
      logger,
      onSpan: callLog,
    });

    const calls = { llmCalls: 0, unparsedCalls: 0, nonLlmExchanges: 0 };
    // A client that keeps sending what the adapters cannot parse would otherwise log at its call rate.
    const unparsedLogLimit = createLogRateLimit(10, 60_000);
    const httpStats = newHttpDecodeStats();
    const verdicts = config.capture.verdicts;
    // Verdicts flow back to the capture stage, which starts after the streams it feeds.
    const judge = verdicts.enabled
      ? new ConnectionJudge({
          http2MuteAfterRequests: verdicts.http2MuteAfterRequests,
          isLlmAuthority: llmAuthorityMatcher(verdicts.followAuthorities),
          onVerdict: (connection, verdict, reason) => {
            capture?.setVerdict(connection.connectionId, verdict);
            logger.debug({ conn: connection.conn, verdict, reason }, 'capture: connection judged');
          },
        })
      : undefined;
    /** The span of an exchange that is an LLM call, counted; undefined (counted, maybe logged) otherwise. */
    const spanOf = (exchange: HttpExchange): GenAiSpan | undefined => {
      const outcome = spanFromExchange(exchange);
      if (outcome.kind === 'not-llm') {
        calls.nonLlmExchanges++;
        return undefined;
      }
      if (outcome.kind === 'unparsed') {
        calls.unparsedCalls++;
        const allowed = unparsedLogLimit.allow();
        const skipped = unparsedLogLimit.skippedInClosedWindow();
        if (skipped > 0) logger.warn({ skipped }, `${skipped} more LLM call(s) could not be parsed (see sightline_llm_unparsed_calls_total)`);
        // The path only: a query string may carry a credential the parser does not know by name.
        if (allowed) {
          logger.warn(
            { provider: outcome.provider, reason: outcome.reason, path: exchange.request.path.split('?')[0], pid: exchange.connection.pid, process: exchange.connection.comm },
            'an LLM call could not be parsed',
          );
        }
        return undefined;
      }
      calls.llmCalls++;
      localStore?.raw.remember(outcome.span.spanId, exchange);
      return outcome.span;
    };
    // Exchanges become spans a group at a time, each stage over the whole group (span/exchange-groups.ts): the
    // stages' code stays in the CPU's caches.
    const exchangeErrorLogLimit = createLogRateLimit(10, 60_000);
    const reportExchangeError = (error: unknown) => {
      if (exchangeErrorLogLimit.allow()) logger.warn({ err: (error as Error)?.message }, 'an HTTP exchange could not be turned into a span');
    };
    const exchanges = new ExchangeGroups<HttpExchange>({
      handleGroup: (group) => {
        const { spans, origins } = spansOfGroup(group, spanOf, reportExchangeError);
        pipeline.submitGroup(spans, origins);
      },
      onError: reportExchangeError,
    });
    const streams = new ConnectionStreams({
      judge,
      idleTimeoutMs: config.http.idleConnectionSeconds * 1000,
      maxConnections: config.http.maxConnections,
      onConnectionOpened: (context) => enricher?.prefetch(context.pid),
      decoder: {
        limits: config.http,
        stats: httpStats,
        isInteresting: isLlmRequestHead,
        onError: (reason) => logger.debug({ reason }, 'http: malformed input'),
        onExchange: (exchange) => exchanges.push(exchange),
      },
    });

    if (config.receiver.enabled) {
      receiver = await startOtlpReceiver({
        config: config.receiver,
        registry,
        onSpans: (spans) => pipeline.submitAll(spans),
        log: { warn: (message) => logger.warn(message), debug: (message) => logger.debug(message) },
      });
      warnIfOpen(config, receiver, logger, 'sensor');
    }

    // Before the capture starts its reader thread, which inherits the nice value of the thread that creates it.
    const priority = lowerThreadPriorities(config.capture.niceness);
    if (priority.failed > 0) logger.warn({ niceness: config.capture.niceness, ...priority }, 'capture: some sensor threads keep their CPU priority');
    else logger.debug({ niceness: config.capture.niceness, ...priority }, 'capture: sensor threads yield the CPU to workloads');
    capture = new TlsCapture({
      logger,
      maxCallBytes: config.capture.maxCallBytes,
      ringBufferBytes: config.capture.ringBufferBytes,
      libraryDirs: config.capture.libraryDirs,
      excludePaths: config.capture.excludePaths,
      rescanIntervalMs: config.capture.rescanIntervalSeconds * 1000,
      executables: [process.execPath],
      judgeConnections: verdicts.enabled,
      llmPathSegments,
      undecidedBudgetBytes: verdicts.undecidedBudgetBytes,
      uprobeSessions: config.capture.uprobeSessions,
      onEvent: (event) => streams.push(event),
      onClose: (closed) => streams.close(closed),
    });
    capture.start();
    // After the capture's reader thread is started: a thread inherits the class of the thread that starts it.
    if (config.capture.idleFirst) {
      const started = startIdleFirstScheduling();
      if ('unavailable' in started) logger.warn({ reason: started.unavailable }, 'capture: the JS thread stays in the normal scheduling class (capture.idleFirst)');
      else idleFirst = started;
    }
    const running = capture;
    refreshHealthSources.push(
      registerSensorHealthMetrics(registry, {
        capture: () => running.counters(),
        streams: () => ({ ...streams.stats, openConnections: streams.openConnections }),
        http: () => httpStats,
        calls: () => calls,
        pipeline: () => pipeline.stats,
        scheduling: () => idleFirst?.stats(),
      }),
    );
    sweepTimer = setInterval(() => streams.sweep(Date.now()), 5_000);
    sweepTimer.unref();
    if (shipsToGateway) {
      const resource = { 'service.name': 'sightline-sensor', 'host.name': os.hostname(), ...(process.env.NODE_NAME ? { 'k8s.node.name': process.env.NODE_NAME } : {}) };
      let droppedReported = 0;
      healthTimer = setInterval(() => {
        const dropped = running.counters().droppedBytes;
        const report = healthReportSpan({ droppedBytesSinceLastReport: dropped - droppedReported, spoolBytes: exporters!.pendingBytes() }, resource);
        droppedReported = dropped;
        exporters!.export([report]).catch(() => undefined); // a failed export is logged by the exporter and spooled
      }, config.server.healthReportSeconds * 1000);
      healthTimer.unref();
    }
    health.setReady(true);
    const uiUrl = localStore?.ui ? `http://${urlHost(config.server.host)}:${health.port}/` : undefined;
    logger.info(
      { files: capture.attachedFiles.map((file) => file.displayPath), healthPort: health.port, otlpPort: receiver?.port, mode: shipsToGateway ? 'ship to gateway' : 'local', uiUrl },
      `sensor ready: probes attached to ${capture.attachedFiles.length} TLS file(s)`,
    );
    if (uiUrl) logger.info({ uiUrl }, `web UI: ${uiUrl}`);

    return {
      healthPort: health.port,
      otlpPort: receiver?.port,
      uiUrl,
      stop: async () => {
        health.setReady(false);
        // What is left is drained in the normal class, at the sensor's nice value.
        idleFirst?.stop();
        clearInterval(sweepTimer);
        clearInterval(healthTimer);
        // What the ring still holds becomes spans before the connections are ended.
        await running.drainAndStop();
        streams.endAll(Date.now());
        exchanges.flush();
        await receiver?.close();
        await pipeline.drain();
        callLog?.stop();
        await exporters!.shutdown();
        await localStore?.close();
        enricher?.stop();
        await health.close();
      },
    };
  } catch (error) {
    clearInterval(sweepTimer);
    clearInterval(healthTimer);
    idleFirst?.stop();
    capture?.stop();
    await receiver?.close();
    await exporters?.shutdown().catch(() => undefined);
    await localStore?.close().catch(() => undefined);
    enricher?.stop();
    await health.close();
    throw error;
  }
}

/** The address to open: a wildcard listen address is reached through loopback from this machine. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
