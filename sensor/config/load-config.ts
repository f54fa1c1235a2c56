/** Reads and validates the YAML configuration, with errors that name the bad key. */
import * as fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { sightlineConfigSchema, type SightlineConfig, type SightlineConfigInput } from './schema';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Validates an already-parsed document; `source` names the file in messages. */
export function parseConfig(document: unknown, source = 'config'): SightlineConfig {
  const unknown = unknownKeys(document, inputShape());
  const result = sightlineConfigSchema.safeParse(document ?? {});
  const problems = [
    ...unknown.map((key) => `${key}: unknown key (check the spelling; see docs/configuration.md)`),
    ...(result.success ? [] : issueLines(result.error)),
  ];
  if (problems.length > 0) throw new ConfigError(`config: ${source} is invalid:\n  - ${[...new Set(problems)].join('\n  - ')}`);
  return result.data as SightlineConfig;
}

interface Shape {
  properties?: Record<string, Shape>;
}

let shape: Shape | undefined;

/** The schema's JSON form lists every key at every depth; sections' zod objects would otherwise drop typos silently. */
function inputShape(): Shape {
  shape ??= z.toJSONSchema(sightlineConfigSchema, { io: 'input', unrepresentable: 'any' }) as Shape;
  return shape;
}

function unknownKeys(document: unknown, schema: Shape, prefix = ''): string[] {
  if (!schema.properties || typeof document !== 'object' || document === null || Array.isArray(document)) return [];
  const found: string[] = [];
  for (const [key, value] of Object.entries(document)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const child = schema.properties[key];
    if (!child) found.push(path);
    else found.push(...unknownKeys(value, child, path));
  }
  return found;
}

export function loadConfigFile(filePath: string): SightlineConfig {
  let text: string;
  try {
    text = fs.readFileSync(filePath, 'utf8');
  } catch (error) {
    throw new ConfigError(`config: cannot read ${filePath}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`config: ${filePath} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (document !== null && document !== undefined && (typeof document !== 'object' || Array.isArray(document))) {
    throw new ConfigError(`config: ${filePath} must hold a mapping of sections (capture, http, exporters, ...)`);
  }
  return parseConfig(document, filePath);
}

/** Loads the file when given, else the defaults; then lays command-line overrides on top. */
export function resolveConfig(filePath: string | undefined, overrides: (config: SightlineConfigInput) => void): SightlineConfig {
  const base: SightlineConfigInput = filePath ? structuredClone(loadRawConfig(filePath)) : {};
  overrides(base);
  return parseConfig(base, filePath ?? 'command line');
}

function loadRawConfig(filePath: string): SightlineConfigInput {
  loadConfigFile(filePath); // validates the file on its own first, so errors name the file's keys
  return (parseYaml(fs.readFileSync(filePath, 'utf8')) ?? {}) as SightlineConfigInput;
}

function issueLines(error: z.ZodError): string[] {
  return error.issues.flatMap((issue) => {
    // Unknown keys are reported by unknownKeys(), with their full path.
    if (issue.code === 'unrecognized_keys') return [];
    // Messages that already name their key (cross-field rules) stand as they are.
    if (/^[a-z]+(\.[A-Za-z0-9]+)+ /.test(issue.message)) return [issue.message];
    return [`${issue.path.join('.') || '(root)'}: ${issue.message}`];
  });
}
