/**
 * The one configuration schema. Each stage owns its section; this file composes them. docs/configuration.md is
 * generated from it (`npm run docs:config`), and a test fails when the two differ.
 */
import { z } from 'zod';
import { SightlinePort } from '../common/telemetry-contract';
import { captureConfigSchema } from '../capture/config';
import { exportersConfigSchema } from '../exporters/config';
import { httpConfigSchema } from '../http/config';
import { pricingConfigSchema } from '../pipeline/cost';
import { enrichmentConfigSchema } from '../pipeline/enrich/config';
import { metricsConfigSchema } from '../pipeline/metrics';
import { privacyConfigSchema } from '../pipeline/privacy/config';
import { receiverConfigSchema } from '../receiver/config';
import { loggingConfigSchema } from '../common/logging-config';
import { storeConfigSchema } from '../store/config';
import { uiConfigSchema } from '../ui/config';

export const serverConfigSchema = z
  .object({
    host: z
      .string()
      .min(1)
      .default('127.0.0.1')
      .describe('Address of the HTTP server (health, metrics and, in local mode, the web UI). Loopback by default; `0.0.0.0` or another address exposes it (the UI then needs ui.accessToken).'),
    httpPort: z.number().int().min(0).max(65535).default(SightlinePort.http).describe('Port of /readyz, /healthz and the Prometheus /metrics.'),
    healthReportSeconds: z
      .number()
      .positive()
      .default(60)
      .describe('How often a sensor that ships to a gateway reports its capture drops and spool size there (the gateway publishes them for the health alarms).'),
  })
  .describe('HTTP server: health, metrics and the web UI.');

export const sightlineConfigSchema = z
  .object({
    capture: captureConfigSchema.prefault({}),
    http: httpConfigSchema.prefault({}),
    enrichment: enrichmentConfigSchema.prefault({}),
    privacy: privacyConfigSchema.prefault({}),
    metrics: metricsConfigSchema.prefault({}),
    pricing: pricingConfigSchema.prefault({}),
    exporters: exportersConfigSchema.prefault({}),
    receiver: receiverConfigSchema.prefault({}),
    server: serverConfigSchema.prefault({}),
    store: storeConfigSchema.prefault({}),
    ui: uiConfigSchema.prefault({}),
    logging: loggingConfigSchema.prefault({}),
  })
  .strict()
  .describe('Sightline sensor and gateway configuration (one YAML file).');

export type SightlineConfig = z.output<typeof sightlineConfigSchema>;
export type SightlineConfigInput = z.input<typeof sightlineConfigSchema>;
