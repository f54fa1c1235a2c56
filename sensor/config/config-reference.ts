/** Renders docs/configuration.md from the configuration schema, so the reference cannot drift from the code. */
import { z } from 'zod';
import { sightlineConfigSchema } from './schema';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
}

const INTRO = `# Configuration reference

Generated from \`sensor/config/schema.ts\` by \`npm run docs:config\`; do not edit by hand.

The sensor and the gateway read one YAML file (\`--config FILE\`), validated at start-up: an unknown key or a bad
value stops the process with a message naming the key. Every key is optional; the defaults below apply. Command-line
flags override the file: \`--otlp-file\` (exporters.file), \`--otlp-endpoint\` (exporters.otlp), \`--http-port\`
(server.httpPort), \`--otlp-port\` (receiver.port), \`--data-dir\` (exporters.spool.dir is \`DIR/spool\`).

Credential headers (\`authorization\`, \`x-api-key\`, \`api-key\`, cookies, AWS SigV4 parts, session tokens) and
credential query parameters are dropped when the HTTP bytes are parsed, whatever this file says.

Credentials (tokens, TLS keys) are never values of this file: it names the files that hold them (mounted Secrets),
which are read at start, re-read when they change, and never logged.

Example (a sensor on a node, shipping to the gateway over TLS with its cluster token):

\`\`\`yaml
exporters:
  otlp:
    enabled: true
    endpoint: https://sightline-gateway.sightline.svc:4318
    tls:
      caFile: /run/sightline/credentials/ca.crt
    auth:
      tokenFile: /run/sightline/credentials/token
  spool:
    dir: /var/lib/sightline/spool
privacy:
  obfuscation:
    requestPrompts: true
\`\`\`
`;

function typeOf(schema: JsonSchema): string {
  if (schema.enum) return schema.enum.map((value) => JSON.stringify(value)).join(' \\| ');
  if (schema.anyOf) return schema.anyOf.map(typeOf).join(' \\| ');
  const type = Array.isArray(schema.type) ? schema.type.join(' \\| ') : schema.type ?? 'any';
  if (type === 'array' && schema.items) return `list of ${typeOf(schema.items)}`;
  if (type === 'object' && schema.additionalProperties && typeof schema.additionalProperties === 'object') return `map of ${typeOf(schema.additionalProperties)}`;
  const bounds: string[] = [];
  const safe = (n: number | undefined) => n !== undefined && Math.abs(n) < Number.MAX_SAFE_INTEGER;
  if (safe(schema.minimum)) bounds.push(`≥ ${schema.minimum}`);
  if (safe(schema.exclusiveMinimum)) bounds.push(`> ${schema.exclusiveMinimum}`);
  if (safe(schema.maximum)) bounds.push(`≤ ${schema.maximum}`);
  return bounds.length ? `${type} (${bounds.join(', ')})` : type;
}

function defaultOf(schema: JsonSchema): string {
  if (schema.default === undefined) return '';
  if (typeof schema.default === 'object' && schema.default !== null && !Array.isArray(schema.default) && Object.keys(schema.default).length === 0) return '';
  return `\`${JSON.stringify(schema.default)}\``;
}

function escape(text: string | undefined): string {
  return (text ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function rows(schema: JsonSchema, prefix: string, out: string[]): void {
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const path = `${prefix}.${key}`;
    if (child.properties) {
      rows(child, path, out);
    } else {
      out.push(`| \`${path}\` | ${typeOf(child)} | ${defaultOf(child)} | ${escape(child.description)} |`);
    }
  }
}

export function renderConfigReference(): string {
  const root = z.toJSONSchema(sightlineConfigSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const sections = Object.entries(root.properties ?? {}).map(([name, section]) => {
    const table: string[] = [];
    rows(section, name, table);
    return [`## \`${name}\``, '', escape(section.description), '', '| key | type | default | meaning |', '| --- | --- | --- | --- |', ...table, ''].join('\n');
  });
  return `${INTRO}\n${sections.join('\n')}`;
}

if (require.main === module) {
  process.stdout.write(renderConfigReference());
}
