/** OTLP/HTTP receiver settings. */
import { z } from 'zod';
import { SightlinePort } from '../common/telemetry-contract';

export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

export const receiverConfigSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Accept OTLP/HTTP traces from applications that are already instrumented.'),
    host: z.string().min(1).default('127.0.0.1').describe('Address the receiver listens on: loopback by default; `0.0.0.0` accepts other hosts (as the Kubernetes charts set it, for the pods of a node).'),
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
  })
  .describe('OTLP/HTTP receiver (/v1/traces, protobuf and JSON) for OpenTelemetry, OpenLLMetry and OpenInference instrumented applications.');

export type ReceiverConfig = z.output<typeof receiverConfigSchema>;
export type ReceiverConfigInput = z.input<typeof receiverConfigSchema>;
