/** The `http` section: limits of the HTTP decoders. */
import { z } from 'zod';
import { DEFAULT_HTTP_LIMITS } from './connection-decoder';

export const httpConfigSchema = z
  .object({
    maxBodyBytes: z.number().int().positive().default(DEFAULT_HTTP_LIMITS.maxBodyBytes).describe('Largest request or response body kept per call; the rest is skipped and the body marked truncated.'),
    maxDecompressedBytes: z
      .number()
      .int()
      .positive()
      .default(DEFAULT_HTTP_LIMITS.maxDecompressedBytes)
      .describe('Largest decompressed size of one gzip/deflate/br body; a bigger one (a gzip bomb) is cut and counted.'),
    maxHeaderBytes: z.number().int().positive().default(DEFAULT_HTTP_LIMITS.maxHeaderBytes).describe('Largest HTTP/1.1 head or HTTP/2 header block.'),
    idleConnectionSeconds: z.number().positive().default(300).describe('A connection with no traffic for this long is closed and its pending exchanges flushed.'),
    maxConnections: z.number().int().positive().default(20_000).describe('Connections decoded at once; past it the least recently active one is closed (counted).'),
  })
  .describe('HTTP/1.1 and HTTP/2 decoding.');

export type HttpConfig = z.output<typeof httpConfigSchema>;
