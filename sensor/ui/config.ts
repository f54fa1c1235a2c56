/** The `ui` section: the web UI of local mode, served on the sensor's HTTP port. */
import { z } from 'zod';

export const uiConfigSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Serve the web UI at `/` on the HTTP port (local mode with the store enabled).'),
    accessToken: z
      .string()
      .min(16, 'ui.accessToken must be at least 16 characters; generate one with `openssl rand -hex 24`')
      .optional()
      .describe(
        'Token the UI and its API require (browser: open `/?token=...` once; API: `Authorization: Bearer ...`). Required when server.host is not a loopback address; also read from SIGHTLINE_UI_TOKEN.',
      ),
  })
  .describe('Web UI of local mode: calls, conversations, overview and alerts.');

export type UiConfig = z.output<typeof uiConfigSchema>;
