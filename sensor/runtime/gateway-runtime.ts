/**
 * The gateway process: OTLP in (from sensors and instrumented apps), privacy, cost and metrics, and the storage
 * exporters. It is the only component that writes to storage.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../common/logger';
import type { SightlineConfig } from '../config/schema';
import { createExporters } from '../exporters/create-exporters';
import { CostCalculator, PriceTable } from '../pipeline/cost';
import { GenAiMetrics } from '../pipeline/metrics';
import { PrivacyStage } from '../pipeline/privacy/privacy-stage';
import { SpanPipeline } from '../pipeline/span-pipeline';
import { startOtlpReceiver, type RunningOtlpReceiver } from '../receiver/otlp-receiver';
import { warnIfOpen } from './receiver-exposure';
import { isHealthReport, readHealthReport } from '../span/health-report';
import { FleetHealth, cloudWatchHealthPublisher } from './fleet-health';
import { startHealthServer } from './health-server';

export interface RunningGateway {
  healthPort: number;
  otlpPort: number;
  stop(): Promise<void>;
}

export async function startGateway(config: SightlineConfig, logger: Logger): Promise<RunningGateway> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry }); // process CPU, RSS, heap, event-loop lag
  const health = await startHealthServer(config.server.host, config.server.httpPort, registry);
  let exporters: ReturnType<typeof createExporters>;
  try {
    exporters = createExporters(config.exporters, { registry, logger, slaThresholdMs: config.metrics.slaThresholdMs });
  } catch (error) {
    // E.g. a spool directory that cannot be created: stop cleanly so the process exits with the reason.
    await health.close();
    throw error;
  }
  let receiver: RunningOtlpReceiver | undefined;
  const fleetHealth = new FleetHealth(registry, {
    gatewaySpoolBytes: () => exporters.pendingBytes(),
    deliveryStats: () => exporters.deliveryStats?.() ?? [],
    rejectedRequests: () => (receiver ? receiver.rejections.missingToken + receiver.rejections.invalidToken + receiver.rejections.tlsHandshakeFailures : 0),
  }, logger);
  if (config.exporters.cloudwatch.enabled) {
    fleetHealth.publishEvery(config.exporters.cloudwatch.intervalSeconds * 1000, cloudWatchHealthPublisher(config.exporters.cloudwatch.namespace, config.exporters.cloudwatch.region));
  }
  const pipeline = new SpanPipeline({
    privacy: new PrivacyStage(config.privacy),
    cost: new CostCalculator(new PriceTable(config.pricing)),
    metrics: new GenAiMetrics({ registry, maxLabelValues: config.metrics.maxLabelValues }),
    exporters,
    logger,
  });
  try {
    receiver = await startOtlpReceiver({
      config: { ...config.receiver, enabled: true },
      registry,
      onSpans: (spans, sender) => {
        const calls = spans.filter((span) => {
          if (!isHealthReport(span)) return true;
          const report = readHealthReport(span);
          // Node names repeat across clusters; the authenticated client (the cluster's token) keeps them apart.
          const node = String(span.resource['k8s.node.name'] ?? span.resource['host.name'] ?? 'unknown');
          if (report) fleetHealth.record(report, sender.client === undefined ? node : `${sender.client}/${node}`);
          return false;
        });
        return pipeline.submitAll(calls);
      },
      log: { warn: (message) => logger.warn(message), debug: (message) => logger.debug(message) },
    });
  } catch (error) {
    await exporters.shutdown().catch(() => undefined);
    await health.close();
    const code = (error as NodeJS.ErrnoException).code;
    throw code === 'EADDRINUSE' ? new Error(`OTLP port ${config.receiver.port} is already in use: choose another with --otlp-port`) : error;
  }
  warnIfOpen(config, receiver, logger, 'gateway');
  health.setReady(true);
  logger.info({ otlpPort: receiver.port, healthPort: health.port, tls: receiver.tls, auth: config.receiver.auth.tokensDir !== undefined, sinks: exporters.exporters.map((e) => e.name) }, 'gateway ready');
  const running = receiver;
  return {
    healthPort: health.port,
    otlpPort: receiver.port,
    // On SIGTERM (a scale-in, a node drain) the spool is drained: the receiver closes, and the sinks keep delivering
    // for up to exporters.drainSeconds. Whatever a sink still refuses stays on the spool volume for the next start.
    stop: async () => {
      health.setReady(false);
      fleetHealth.stop();
      await running.close();
      await pipeline.drain();
      const drainStartedMs = Date.now();
      await exporters.shutdown();
      const undeliveredBytes = exporters.pendingBytes();
      const drain = { drainMs: Date.now() - drainStartedMs, undeliveredBytes };
      if (undeliveredBytes === 0) logger.info(drain, 'gateway stopped: every spooled batch was delivered');
      else logger.warn(drain, `gateway stopped with ${undeliveredBytes} undelivered bytes in its spool (a sink is unreachable); they are sent when a gateway starts on the same spool again`);
      await health.close();
    },
  };
}
