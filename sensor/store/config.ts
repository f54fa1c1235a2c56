/** The `store` section: the embedded call store of local mode, which the web UI reads. */
import { z } from 'zod';

export const MIB = 1024 * 1024;

export const storeConfigSchema = z
  .object({
    enabled: z
      .boolean()
      .default(true)
      .describe('Keep every call in the embedded store (local mode only: a sensor that ships to a gateway stores nothing itself). The web UI reads it.'),
    dir: z.string().min(1).optional().describe('Directory of the store file (`calls.sqlite`). Default: `store/` under the data directory (`--data-dir`).'),
    maxAgeDays: z.number().positive().default(7).describe('Calls older than this are deleted.'),
    maxBytes: z
      .number()
      .int()
      .min(4 * MIB)
      .default(1024 * MIB)
      .describe('Size of the store file in bytes; past it the oldest calls are deleted (down to 90% of it).'),
    rawBodyBytes: z
      .number()
      .int()
      .min(0)
      .default(64 * 1024)
      .describe('Bytes kept of each raw request and response body for the call page (0 keeps headers only). Credential headers are never present; bodies are left out while any privacy.obfuscation option is on.'),
    maxPendingSpans: z
      .number()
      .int()
      .positive()
      .default(20_000)
      .describe('Spans waiting for the store writer; when it falls this far behind, newer spans are not stored and are counted (sightline_store_dropped_spans_total), so capture never waits for the disk.'),
  })
  .describe('Embedded store of local mode (SQLite with full-text search over prompts and responses): retention by age and size.');

export type StoreConfig = z.output<typeof storeConfigSchema>;
export type StoreConfigInput = z.input<typeof storeConfigSchema>;
