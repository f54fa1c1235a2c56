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
  const result = sightlineConfigSchema.safeParse(document ?? {});
  if (result.success) return result.data;
  throw new ConfigError(formatIssues(result.error, source));
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

function formatIssues(error: z.ZodError, source: string): string {
  const lines = error.issues.map((issue) => {
    const key = issue.path.join('.');
    if (issue.code === 'unrecognized_keys') {
      const where = key ? `${key}.` : '';
      return `${issue.keys.map((k) => `${where}${k}`).join(', ')}: unknown key (check the spelling; see docs/configuration.md)`;
    }
    // Messages that already name their key (cross-field rules) stand as they are.
    if (/^[a-z]+(\.[A-Za-z0-9]+)+ /.test(issue.message)) return issue.message;
    return `${key || '(root)'}: ${issue.message}`;
  });
  return `config: ${source} is invalid:\n  - ${lines.join('\n  - ')}`;
}
