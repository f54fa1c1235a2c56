/**
 * Obfuscation of LLM payloads inside span attributes: request prompts, response content, or listed JSON paths
 * inside the GenAI message documents. Metadata (model, tokens, finish reasons, roles, part types) is kept.
 */
import type { Attributes } from '../../span/gen-ai-span';
import type { PrivacyConfig } from './config';
import { parseJsonWithinDepth, type BoundedJsonDocument } from './json-depth';
import { parseJsonPath, replaceAtPath, type JsonPath } from './json-path';

export const INPUT_MESSAGES = 'gen_ai.input.messages';
export const OUTPUT_MESSAGES = 'gen_ai.output.messages';
export const SYSTEM_INSTRUCTIONS = 'gen_ai.system_instructions';

const REQUEST_DOCUMENTS = [INPUT_MESSAGES, SYSTEM_INSTRUCTIONS];
const RESPONSE_DOCUMENTS = [OUTPUT_MESSAGES];

/** Keys that describe a message's structure rather than carry its content. */
const MESSAGE_KEYS = new Set(['role', 'finish_reason']);
const PART_KEYS = new Set(['type', 'id', 'name', 'mime_type', 'modality']);

/**
 * Content attributes outside the message documents, as instrumented apps send them over OTLP: older indexed forms
 * (OpenLLMetry `gen_ai.prompt.0.content`, OpenInference `llm.input_messages.0.message.content`), span inputs and
 * outputs (OpenInference `input.value` / `output.value`, OpenLLMetry `traceloop.entity.input` / `.output`), prompt
 * templates and their variables, tool parameters, texts sent for embedding, retrieved documents.
 */
const REQUEST_CONTENT = new RegExp(
  '^(?:gen_ai\\.prompt(?:\\..*)?|llm\\.input_messages\\..*|llm\\.prompts(?:\\..*)?|input\\.value|traceloop\\.entity\\.input'
  + '|llm\\.prompt_template\\.(?:template|variables)|tool\\.parameters|embedding\\.embeddings\\.\\d+\\.embedding\\.text'
  + '|retrieval\\.documents\\.\\d+\\.document\\.content)$',
);
const RESPONSE_CONTENT = /^(?:gen_ai\.completion(?:\..*)?|llm\.output_messages\..*|output\.value|traceloop\.entity\.output)$/;
/**
 * Tool calls (OTel `execute_tool` spans) travel both ways: the model writes the arguments in a response, and the
 * arguments and the result go back to it in the next request, so either switch hides them.
 */
const TOOL_CALL_CONTENT = /^gen_ai\.tool\.call\.(?:arguments|result)$/;
const LEGACY_STRUCTURE_SUFFIX = /\.(?:role|finish_reason|message\.role)$/;

function obfuscatePart(part: unknown, marker: string): unknown {
  if (part === null || typeof part !== 'object' || Array.isArray(part)) return marker;
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(part)) kept[key] = PART_KEYS.has(key) ? value : marker;
  return kept;
}

function obfuscateMessage(message: unknown, marker: string): unknown {
  if (message === null || typeof message !== 'object' || Array.isArray(message)) return marker;
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(message)) {
    if (MESSAGE_KEYS.has(key)) kept[key] = value;
    else if (key === 'parts' && Array.isArray(value)) kept[key] = value.map((part) => obfuscatePart(part, marker));
    else kept[key] = marker;
  }
  return kept;
}

/**
 * A message document (`[{role, parts:[...]}]`) or a system-instructions document (`[{type, content}]`)
 * with all content replaced; a value that is not such a JSON document is replaced whole.
 */
export function obfuscateDocument(attribute: string, json: string, marker: string): string {
  let document: unknown;
  try {
    document = parseJsonWithinDepth(json, marker).document;
  } catch {
    return marker;
  }
  if (!Array.isArray(document)) return marker;
  const obfuscated = attribute === SYSTEM_INSTRUCTIONS
    ? document.map((part) => obfuscatePart(part, marker))
    : document.map((message) => obfuscateMessage(message, marker));
  return JSON.stringify(obfuscated);
}

export class Obfuscator {
  private readonly paths: JsonPath[];

  constructor(private readonly config: PrivacyConfig['obfuscation']) {
    this.paths = config.jsonPaths.map(parseJsonPath);
  }

  get active(): boolean {
    return this.config.requestPrompts || this.config.responseContent || this.paths.length > 0;
  }

  /** A copy of `attributes` with the configured content obfuscated. */
  obfuscate(attributes: Attributes): Attributes {
    if (!this.active) return attributes;
    const { requestPrompts, responseContent, marker } = this.config;
    const result: Attributes = { ...attributes };
    const wholeDocuments = [...(requestPrompts ? REQUEST_DOCUMENTS : []), ...(responseContent ? RESPONSE_DOCUMENTS : [])];
    for (const key of wholeDocuments) {
      const value = result[key];
      if (typeof value === 'string') result[key] = obfuscateDocument(key, value, marker);
      else if (value !== undefined) result[key] = marker;
    }
    if (this.paths.length > 0) {
      for (const key of [...REQUEST_DOCUMENTS, ...RESPONSE_DOCUMENTS]) {
        const value = result[key];
        if (typeof value === 'string' && !wholeDocuments.includes(key)) result[key] = this.obfuscatePaths(value);
      }
    }
    for (const key of Object.keys(result)) {
      if (LEGACY_STRUCTURE_SUFFIX.test(key)) continue;
      if ((requestPrompts && REQUEST_CONTENT.test(key)) || (responseContent && RESPONSE_CONTENT.test(key))
        || ((requestPrompts || responseContent) && TOOL_CALL_CONTENT.test(key))) {
        result[key] = marker;
      }
    }
    return result;
  }

  private obfuscatePaths(json: string): string {
    let parsed: BoundedJsonDocument;
    try {
      parsed = parseJsonWithinDepth(json, this.config.marker);
    } catch {
      // Listed paths cannot be found in a value that is not JSON; hide it whole rather than leak it.
      return this.config.marker;
    }
    let replaced = 0;
    for (const path of this.paths) replaced += replaceAtPath(parsed.document, path, this.config.marker);
    // What was cut for depth may hold a listed path, so the original text is passed on only when nothing was.
    return replaced === 0 && !parsed.cut ? json : JSON.stringify(parsed.document);
  }
}
