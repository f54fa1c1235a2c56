/**
 * Local mode's store and web UI: the store thread, the exporter that feeds it, the raw exchanges the call page
 * shows, and the UI served on the health server's port. The runtime starts it when the sensor ships to no gateway.
 */
import * as path from 'node:path';
import type { Registry } from 'prom-client';
import type { Logger } from '../common/logger';
import { createLogRateLimit } from '../common/log-rate-limit';
import { ConfigError } from '../config/load-config';
import type { SightlineConfig } from '../config/schema';
import { Redactor } from '../pipeline/privacy/redact';
import { scrubSecrets } from '../pipeline/privacy/secrets';
import type { AlertFiring } from '../store/call-query';
import { RawExchanges } from '../store/raw-exchanges';
import { StoreClient } from '../store/store-client';
import { StoreExporter } from '../store/store-exporter';
import { createUiServer, type UiServer } from '../ui/ui-server';

export const STORE_FILE_NAME = 'calls.sqlite';

export interface LocalStore {
  exporter: StoreExporter;
  raw: RawExchanges;
  client: StoreClient;
  /** Absent when the UI is turned off (ui.enabled). */
  ui?: UiServer;
  file: string;
  close(): Promise<void>;
}

/** Loopback addresses, where the UI may run without a token. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/** The UI's token: the config's, else SIGHTLINE_UI_TOKEN (kept off command lines, which every user can read). */
export function uiAccessToken(config: SightlineConfig): string | undefined {
  return config.ui.accessToken ?? (process.env.SIGHTLINE_UI_TOKEN || undefined);
}

/** Refuses to serve prompts beyond this machine without a token, before anything starts. */
export function checkUiExposure(config: SightlineConfig): void {
  if (!config.ui.enabled || !config.store.enabled || config.exporters.otlp.enabled) return;
  const token = uiAccessToken(config);
  if (!isLoopbackHost(config.server.host) && !token) {
    throw new ConfigError(
      `server.host is ${config.server.host}, which would show every captured prompt to anyone who can reach this machine: ` +
        'set ui.accessToken (or SIGHTLINE_UI_TOKEN) to a secret of 16 characters or more, or keep the default 127.0.0.1',
    );
  }
  if (token !== undefined && token.length < 16) throw new ConfigError('SIGHTLINE_UI_TOKEN must be at least 16 characters; generate one with `openssl rand -hex 24`');
}

export async function startLocalStore(config: SightlineConfig, logger: Logger, registry: Registry, about: () => Record<string, unknown>): Promise<LocalStore> {
  if (!config.store.dir) throw new Error('store.dir is not set: pass --data-dir or set store.dir');
  const file = path.join(config.store.dir, STORE_FILE_NAME);
  let ui: UiServer | undefined;
  const alertLogLimit = createLogRateLimit(5, 10_000);
  const onFirings = (firings: AlertFiring[]) => {
    for (const firing of firings) {
      const skipped = alertLogLimit.skippedInClosedWindow();
      if (skipped > 0) logger.warn({ skipped }, `${skipped} more alert firing(s) (see the Alerts page)`);
      if (alertLogLimit.allow()) logger.warn({ alert: firing.ruleName, callId: firing.callId }, `alert: ${firing.ruleName}: ${firing.message}`);
    }
    ui?.notifyFirings(firings);
  };
  const { client, info } = await StoreClient.start({
    file,
    maxBytes: config.store.maxBytes,
    maxAgeMs: config.store.maxAgeDays * 86_400_000,
    defaultDurationRuleMs: config.metrics.slaThresholdMs,
    log: { info: (message) => logger.info(message), warn: (message) => logger.warn(message), error: (message) => logger.error(message) },
    onStored: (lastId) => ui?.notifyCalls(lastId),
    onFirings,
  });
  logger.info(
    { store: { file, calls: info.calls, maxAgeDays: config.store.maxAgeDays, maxBytes: config.store.maxBytes } },
    `store: ${file} (${info.calls.toLocaleString('en-US')} call(s) kept; retention ${config.store.maxAgeDays} day(s), ${(config.store.maxBytes / 1024 ** 3).toFixed(2).replace(/\.?0+$/, '')} GiB)`,
  );

  const { obfuscation, redaction } = config.privacy;
  // Secrets in a body are scrubbed always, as everything that leaves the capture is; the configured patterns and the
  // bearer-token shape come on top.
  const redactor = new Redactor([...new Set(['api-key', 'bearer-token', ...(redaction.enabled ? redaction.patterns : [])] as const)], redaction.marker);
  const raw = new RawExchanges({
    bodyBytes: config.store.rawBodyBytes,
    includeBodies: !obfuscation.requestPrompts && !obfuscation.responseContent && obfuscation.jsonPaths.length === 0,
    redact: (text) => redactor.redactText(scrubSecrets(text)),
  });
  const exporter = new StoreExporter(client, { maxPendingSpans: config.store.maxPendingSpans, raw, registry, logger });
  if (config.ui.enabled) ui = createUiServer({ store: client, accessToken: uiAccessToken(config), about });
  return {
    exporter,
    raw,
    client,
    ui,
    file,
    async close() {
      ui?.close();
      await client.close();
    },
  };
}
