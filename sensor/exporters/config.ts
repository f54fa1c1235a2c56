/** The `exporters` section of the configuration file. */
import { z } from 'zod';

const enabled = (what: string) => z.boolean().default(false).describe(`Send ${what}.`);

export const exportersConfigSchema = z
  .object({
    otlp: z
      .object({
        enabled: enabled('spans over OTLP/HTTP protobuf (the sensor to the gateway, or to any OTLP collector)'),
        endpoint: z.string().url().optional().describe('OTLP/HTTP base URL (`https://sightline-gateway.sightline.svc:4318`) or full `/v1/traces` URL.'),
        headers: z.record(z.string(), z.string()).default({}).describe('Extra HTTP headers on every export request (never a credential: use `auth.tokenFile`).'),
        timeoutMs: z.number().int().positive().default(10_000).describe('Per-request timeout in milliseconds.'),
        tls: z
          .object({
            caFile: z.string().min(1).optional().describe('PEM file of the certificates trusted for an `https` endpoint instead of the system roots (the gateway\'s CA).'),
            serverName: z
              .string()
              .min(1)
              .optional()
              .describe('Name the endpoint\'s certificate must carry when the URL\'s host differs (a VPC endpoint or load balancer name in front of the gateway); also sent as SNI.'),
          })
          .prefault({})
          .describe('How the sensor verifies the gateway.'),
        auth: z
          .object({
            tokenFile: z
              .string()
              .min(1)
              .optional()
              .describe('File holding the bearer token sent as `Authorization: Bearer ...` (a mounted Secret); read again when it changes. Needs an `https` endpoint.'),
          })
          .prefault({})
          .describe('How the sensor authenticates to the gateway.'),
      })
      .prefault({})
      .describe('OTLP/HTTP trace exporter.'),
    file: z
      .object({
        enabled: enabled('spans to a file, one OTLP/JSON ExportTraceServiceRequest per line'),
        path: z.string().min(1).optional().describe('File to append to (created with its directory).'),
      })
      .prefault({})
      .describe('OTLP/JSON lines file exporter (OpenTelemetry Collector file exporter format).'),
    s3: z
      .object({
        enabled: enabled('spans to S3 as gzip JSON lines partitioned by dt=/hour='),
        bucket: z.string().min(1).optional().describe('Bucket name.'),
        prefix: z.string().default('').describe('Key prefix before `spans/dt=.../`.'),
        region: z.string().optional().describe('AWS region; default from the environment.'),
        endpoint: z.string().url().optional().describe('Endpoint URL for S3-compatible servers (MinIO and the like).'),
        forcePathStyle: z.boolean().default(false).describe('Path-style addressing (needed by most S3-compatible servers).'),
        maxBatchBytes: z
          .number()
          .int()
          .min(1024)
          .default(32 * 1024 * 1024)
          .describe('Encoded spans per S3 object at most, in bytes (about five times the gzip object). Spans are spooled in small batches as they arrive (`batching`), then written together once this much waits or the oldest has waited `maxWaitSeconds`: few large objects keep PUT requests, lifecycle transitions and Athena reads cheap. At most a quarter of the spool (or in-memory queue).'),
        maxWaitSeconds: z
          .number()
          .int()
          .positive()
          .default(60)
          .describe('Longest time a spooled span waits for others to share its S3 object; also how late a span can appear in Athena.'),
      })
      .prefault({})
      .describe('S3 span exporter.'),
    timestream: z
      .object({
        enabled: enabled('per-interval call statistics to Amazon Timestream for LiveAnalytics'),
        database: z.string().min(1).optional().describe('Timestream database name.'),
        table: z.string().min(1).optional().describe('Timestream table name.'),
        region: z.string().optional().describe('AWS region; default from the environment.'),
        intervalSeconds: z.number().int().positive().default(60).describe('Aggregation interval: one record per model/provider/workload and interval.'),
      })
      .prefault({})
      .describe('Timestream exporter (MULTI-measure records).'),
    cloudwatch: z
      .object({
        enabled: enabled('per-interval metrics to Amazon CloudWatch'),
        namespace: z.string().min(1).default('Sightline').describe('CloudWatch metric namespace.'),
        region: z.string().optional().describe('AWS region; default from the environment.'),
        intervalSeconds: z.number().int().positive().default(60).describe('Aggregation interval between PutMetricData calls.'),
        maxDimensionValues: z
          .number()
          .int()
          .positive()
          .default(50)
          .describe('Distinct values kept per dimension (Model, Provider, Workload); more are reported as `_other` to bound metric count and cost.'),
      })
      .prefault({})
      .describe('CloudWatch metrics exporter.'),
    spool: z
      .object({
        dir: z.string().min(1).optional().describe('Directory for the on-disk spool (one subdirectory per sink). Without it batches wait in memory and a restart loses them.'),
        maxBytes: z.number().int().positive().default(256 * 1024 * 1024).describe('Spool size per sink in bytes; when full the oldest batches are dropped and counted.'),
        memoryMaxBytes: z.number().int().positive().default(32 * 1024 * 1024).describe('In-memory queue size per sink when no spool directory is set.'),
        spillAfterMs: z
          .number()
          .int()
          .nonnegative()
          .default(1000)
          .describe('With a spool directory: a batch nobody waits for (captured spans) is written to the spool only when its sink has not taken it within this long, or at a graceful stop; a crash can lose the batches of the last this-many ms. Batches a sender waits for (the gateway acknowledging received spans) are written at once. 0 writes every batch at once. Memory held this way is at most a quarter of the spool or `memoryMaxBytes`, whichever is less.'),
      })
      .prefault({})
      .describe('Where batches wait while a sink is unreachable.'),
    batching: z
      .object({
        maxBatch: z.number().int().positive().default(512).describe('Items per batch.'),
        maxDelayMs: z.number().int().positive().default(1000).describe('Longest wait for a batch to fill, in milliseconds.'),
        maxBatchBytes: z
          .number()
          .int()
          .min(1024)
          .default(1024 * 1024)
          .describe('Encoded size per batch in bytes: a batch is cut before it grows past this, which bounds request and object sizes and the memory of spans with large prompts.'),
      })
      .prefault({})
      .describe('Batching shared by all sinks.'),
    retry: z
      .object({
        initialDelayMs: z.number().int().positive().default(500).describe('First retry delay in milliseconds; doubles per failure, with jitter.'),
        maxDelayMs: z.number().int().positive().default(30_000).describe('Longest retry delay in milliseconds.'),
      })
      .prefault({})
      .describe('Retry of failed deliveries (until the sink is back; the spool bounds what waits).'),
    drainSeconds: z
      .number()
      .int()
      .min(0)
      .default(10)
      .describe('On stop (SIGTERM, SIGINT), how long the process keeps delivering what it has spooled before it exits; what is left stays in the spool for the next start. Keep it below the pod\'s termination grace period.'),
  })
  .superRefine((config, context) => {
    const required: Array<[keyof typeof config, boolean, string[]]> = [
      ['otlp', config.otlp.enabled, config.otlp.endpoint ? [] : ['endpoint']],
      ['file', config.file.enabled, config.file.path ? [] : ['path']],
      ['s3', config.s3.enabled, config.s3.bucket ? [] : ['bucket']],
      ['timestream', config.timestream.enabled, [...(config.timestream.database ? [] : ['database']), ...(config.timestream.table ? [] : ['table'])]],
    ];
    for (const [sink, isEnabled, missing] of required) {
      if (!isEnabled) continue;
      for (const field of missing) {
        context.addIssue({
          code: 'custom',
          path: [sink, field],
          message: `exporters.${sink}.${field} is required when exporters.${sink}.enabled is true`,
        });
      }
    }
    const otlp = config.otlp;
    if (otlp.endpoint !== undefined && !otlp.endpoint.startsWith('https:')) {
      const needsTls: Array<[string, unknown]> = [['auth.tokenFile', otlp.auth.tokenFile], ['tls.caFile', otlp.tls.caFile], ['tls.serverName', otlp.tls.serverName]];
      for (const [key, value] of needsTls) {
        if (value === undefined) continue;
        // A token over plain HTTP is a token given away; a CA for a plain endpoint is a mistake that hides that.
        context.addIssue({ code: 'custom', path: ['otlp', ...key.split('.')], message: `exporters.otlp.${key} needs an https endpoint, but exporters.otlp.endpoint is ${otlp.endpoint.split(':')[0]}:` });
      }
    }
    if (Object.keys(otlp.headers).some((name) => name.toLowerCase() === 'authorization')) {
      context.addIssue({ code: 'custom', path: ['otlp', 'headers'], message: 'exporters.otlp.headers must not hold Authorization: a config file is no place for a credential; put the token in a file and name it in exporters.otlp.auth.tokenFile' });
    }
    if (config.retry.initialDelayMs > config.retry.maxDelayMs) {
      context.addIssue({ code: 'custom', path: ['retry', 'initialDelayMs'], message: 'exporters.retry.initialDelayMs must not exceed exporters.retry.maxDelayMs' });
    }
  })
  .describe('Where spans and metrics go, and how delivery survives a sink outage.');

export type ExportersConfig = z.output<typeof exportersConfigSchema>;
export type ExportersConfigInput = z.input<typeof exportersConfigSchema>;
