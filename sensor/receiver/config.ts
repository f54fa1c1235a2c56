/** OTLP/HTTP receiver settings. */
import { z } from 'zod';
import { SightlinePort } from '../common/telemetry-contract';

export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

export const receiverConfigSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Accept OTLP/HTTP traces from applications that are already instrumented.'),
    host: z
      .string()
      .min(1)
      .default('127.0.0.1')
      .describe('Address the receiver listens on. Loopback by default, so a sensor on a laptop takes spans from that machine only; the Kubernetes charts listen on `0.0.0.0` behind TLS, tokens and a NetworkPolicy.'),
    port: z.number().int().min(0).max(65535).default(SightlinePort.otlp).describe('Port the receiver listens on (4318 is the OTLP/HTTP default).'),
    maxBodyBytes: z
      .number()
      .int()
      .positive()
      .default(DEFAULT_MAX_BODY_BYTES)
      .describe('Largest accepted request body, compressed and decompressed alike; larger requests get HTTP 413.'),
    keepNonGenAiSpans: z
      .boolean()
      .default(false)
      .describe('Keep spans that carry no GenAI attributes (HTTP, database, ...); by default only GenAI spans are kept.'),
    tls: z
      .object({
        certFile: z.string().min(1).optional().describe('PEM certificate chain the receiver serves (HTTPS); with `keyFile`. Plain HTTP is then refused. Read again when the file changes.'),
        keyFile: z.string().min(1).optional().describe('PEM private key of `certFile`.'),
      })
      .prefault({})
      .describe('TLS of the receiver (the gateway serves it to sensors).'),
    auth: z
      .object({
        tokensDir: z
          .string()
          .min(1)
          .optional()
          .describe('Directory of accepted bearer tokens, one file per client named after it (a cluster, `payments.previous` for the token being rotated out). When set, a request without `Authorization: Bearer <one of them>` gets HTTP 401 and is counted; files are read again when they change.'),
      })
      .prefault({})
      .describe('Authentication of senders.'),
  })
  .superRefine((config, context) => {
    if ((config.tls.certFile === undefined) !== (config.tls.keyFile === undefined)) {
      const missing = config.tls.certFile === undefined ? 'certFile' : 'keyFile';
      context.addIssue({ code: 'custom', path: ['tls', missing], message: `receiver.tls.${missing} is required with receiver.tls.${missing === 'certFile' ? 'keyFile' : 'certFile'}` });
    }
  })
  .describe('OTLP/HTTP receiver (/v1/traces, protobuf and JSON) for OpenTelemetry, OpenLLMetry and OpenInference instrumented applications, and for sensors shipping to a gateway.');

export type ReceiverConfig = z.output<typeof receiverConfigSchema>;
export type ReceiverConfigInput = z.input<typeof receiverConfigSchema>;
