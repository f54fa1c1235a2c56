/** Privacy settings: content obfuscation and pattern redaction. Credential removal is not configurable: it always runs. */
import { z } from 'zod';
import { parseJsonPath } from './json-path';
import { REDACTION_PATTERN_NAMES, type RedactionPatternName } from './redact';

const jsonPathSchema = z.string().superRefine((path, context) => {
  try {
    parseJsonPath(path);
  } catch (error) {
    context.addIssue({ code: 'custom', message: `${(error as Error).message}; example: "$[*].parts[*].arguments"` });
  }
});

export const obfuscationConfigSchema = z
  .object({
    requestPrompts: z
      .boolean()
      .default(false)
      .describe('Replace the content of request prompts (gen_ai.input.messages, gen_ai.system_instructions) with the marker; roles, part types, model, tokens and latency stay.'),
    responseContent: z
      .boolean()
      .default(false)
      .describe('Replace the content of responses (gen_ai.output.messages) with the marker; roles, finish reasons, model, tokens and latency stay.'),
    jsonPaths: z
      .array(jsonPathSchema)
      .default([])
      .describe('JSON paths inside the message documents (gen_ai.input.messages, gen_ai.output.messages, gen_ai.system_instructions) whose values are replaced with the marker, e.g. "$[*].parts[*].arguments" or "$..content".'),
    marker: z.string().default('<obfuscated>').describe('Text that replaces obfuscated values.'),
  })
  .describe('Obfuscation of LLM payloads. Off by default: full prompts and responses are collected.');

export const redactionConfigSchema = z
  .object({
    enabled: z.boolean().default(false).describe('Redact matches of the patterns below inside every string span attribute and resource attribute (container, host and pod ids excepted), and card-number-like integers.'),
    patterns: z
      .array(z.enum(REDACTION_PATTERN_NAMES as [RedactionPatternName, ...RedactionPatternName[]]))
      .default([...REDACTION_PATTERN_NAMES])
      .describe('Patterns to redact: email addresses, credit-card numbers (Luhn-checked), API keys (sk-..., sk-ant-..., AKIA..., and the other credential shapes that are scrubbed always anyway), Bearer tokens, long hex/base64 secrets.'),
    marker: z.string().default('<redacted>').describe('Text that replaces each match.'),
  })
  .describe('Pattern redaction of personal data and secrets. Off by default.');

export const privacyConfigSchema = z
  .object({
    obfuscation: obfuscationConfigSchema.prefault({}),
    redaction: redactionConfigSchema.prefault({}),
  })
  .describe('Payload privacy. Always, whatever this section says: credential headers, credential query parameters and credential attributes are removed, and secrets are scrubbed from command lines, prompts, responses and every other attribute (values of secret-named keys such as `"awsSecret":"..."`, `--api-key v`, `PASSWORD=v`; URL passwords; AWS access key ids and session tokens, JWTs, PEM private keys, vendor API keys).');

export type PrivacyConfig = z.output<typeof privacyConfigSchema>;
export type PrivacyConfigInput = z.input<typeof privacyConfigSchema>;
