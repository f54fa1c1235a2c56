/**
 * GenAiSpan -> the row the store keeps: the columns the call list filters and sorts on, the text the full-text
 * index searches, and the message hashes that join calls into conversations. Pure: no SQLite here.
 */
import { hash as digest } from 'node:crypto';
import { COST_ATTRIBUTE } from '../pipeline/cost';
import type { AttributeValue, GenAiSpan } from '../span/gen-ai-span';

/** The raw HTTP request and response of a captured call, as the call page shows them. */
export interface RawExchange {
  request: string;
  response?: string;
}

/** A call for the store: the span as exported, and its raw exchange when one was kept. */
export interface CallRecord {
  span: GenAiSpan;
  raw?: RawExchange;
}

/**
 * The same, as the exporter posts it to the store thread: the span already in its stored JSON form. One string
 * crosses the thread boundary instead of an object graph, and the store thread keeps it as it is.
 */
export interface EncodedCallRecord {
  spanJson: string;
  raw?: RawExchange;
}

export function encodeCallRecord(record: CallRecord): EncodedCallRecord {
  const encoded: EncodedCallRecord = { spanJson: JSON.stringify(spanDocument(record.span)) };
  if (record.raw) encoded.raw = record.raw;
  return encoded;
}

/** The span in JSON-safe form (times as decimal strings), as stored and as the UI's "copy as JSON" gives it. */
export type SpanDocument = Omit<GenAiSpan, 'startTimeUnixNano' | 'endTimeUnixNano'> & { startTimeUnixNano: string; endTimeUnixNano: string };

/** What the call list shows of a call, stored with it and read back. */
export interface CallListFacts {
  startMs: number;
  durationMs: number;
  provider: string | null;
  operation: string | null;
  model: string | null;
  responseModel: string | null;
  status: 'ok' | 'error';
  httpStatus: number | null;
  errorType: string | null;
  inputTokens: number | null;
  outputTokens: number | null;
  costUsd: number | null;
  ttfcMs: number | null;
  process: string | null;
  pid: number | null;
  workload: string | null;
  source: string;
  /** The last user turn, shortened: what the list shows of the prompt. */
  preview: string;
}

/** A call as it is written to the store. */
export interface CallRow extends CallListFacts {
  /** Where conversations are looked for: the same workload, else the same process. */
  scope: string;
  /**
   * Hashes of the input message prefixes: `prefixHashes[j - 1]` covers messages 1..j. The chain starts from the
   * scope and the system instructions, so equal messages elsewhere or under other instructions never match.
   * 52-bit numbers: exact as JavaScript numbers and cheap as map keys.
   */
  prefixHashes: number[];
  /** Hash of the input messages and the first output message: what a follow-up call's input starts with (0 without one). */
  stateHash: number;
  promptText: string;
  responseText: string;
  spanJson: string;
  rawJson: string | null;
}

interface Message {
  role?: unknown;
  parts?: unknown;
}

const PREVIEW_CHARS = 200;
/** Longest input looked at for a conversation: agents resend long histories, and each prefix costs a lookup. */
export const MAX_CONVERSATION_PREFIX = 200;

export function spanDocument(span: GenAiSpan): SpanDocument {
  return { ...span, startTimeUnixNano: span.startTimeUnixNano.toString(), endTimeUnixNano: span.endTimeUnixNano.toString() };
}

export function callRow(record: CallRecord | EncodedCallRecord): CallRow {
  const spanJson = 'spanJson' in record ? record.spanJson : JSON.stringify(spanDocument(record.span));
  const span = 'spanJson' in record ? (JSON.parse(record.spanJson) as SpanDocument) : record.span;
  const a = span.attributes;
  const r = span.resource;
  const input = messagesOf(a['gen_ai.input.messages']);
  const output = messagesOf(a['gen_ai.output.messages']);
  const system = messagesOf(a['gen_ai.system_instructions']);
  const systemText = partsText(system as unknown[]);
  const startNs = BigInt(span.startTimeUnixNano);
  const startMs = Number(startNs / 1000n) / 1000;
  const durationMs = Number(BigInt(span.endTimeUnixNano) - startNs) / 1e6;
  const ttfc = numberOf(a['gen_ai.response.time_to_first_chunk']);
  const workload = stringOf(r['sightline.workload']) ?? null;
  const process = stringOf(r['process.executable.name']) ?? stringOf(r['service.name']) ?? null;
  const pid = numberOf(r['process.pid']) ?? null;
  // The last thing the user typed: tool results travel as user turns too (Anthropic), but are not what they asked.
  const lastUser = [...input].reverse().find((message) => message.role === 'user' && textOf(message) !== '');

  const scope = workload ? `workload:${stringOf(r['k8s.namespace.name']) ?? ''}/${workload}` : `process:${pid ?? ''}:${process ?? ''}`;
  const prefixHashes: number[] = [];
  let chain = hash(`${scope}\u0000system\u0000${systemText}`);
  for (const message of input.slice(0, MAX_CONVERSATION_PREFIX)) {
    chain = hash(`${chain}\u0000${canonicalMessage(message)}`);
    prefixHashes.push(chain);
  }
  const inputHash = input.length > MAX_CONVERSATION_PREFIX || input.length === 0 ? 0 : chain;
  const stateHash = output.length > 0 && inputHash ? hash(`${inputHash}\u0000${canonicalMessage(output[0])}`) : 0;

  return {
    startMs,
    durationMs,
    provider: stringOf(a['gen_ai.provider.name']) ?? stringOf(a['gen_ai.system']) ?? null,
    operation: stringOf(a['gen_ai.operation.name']) ?? null,
    model: stringOf(a['gen_ai.request.model']) ?? null,
    responseModel: stringOf(a['gen_ai.response.model']) ?? null,
    status: span.status.code === 'error' ? 'error' : 'ok',
    httpStatus: numberOf(a['http.response.status_code']) ?? null,
    errorType: stringOf(a['error.type']) ?? null,
    inputTokens: numberOf(a['gen_ai.usage.input_tokens']) ?? null,
    outputTokens: numberOf(a['gen_ai.usage.output_tokens']) ?? null,
    costUsd: numberOf(a[COST_ATTRIBUTE]) ?? null,
    ttfcMs: ttfc === undefined ? null : ttfc * 1000,
    process,
    pid,
    workload,
    source: span.source,
    preview: (lastUser ? textOf(lastUser) : systemText).replace(/\s+/g, ' ').trim().slice(0, PREVIEW_CHARS),
    scope,
    prefixHashes,
    stateHash,
    promptText: [systemText, partsText(input)].filter(Boolean).join('\n'),
    responseText: partsText(output),
    spanJson,
    rawJson: record.raw ? JSON.stringify(record.raw) : null,
  };
}

function messagesOf(value: AttributeValue | undefined): Message[] {
  if (typeof value !== 'string') return [];
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) ? (parsed.filter((item) => typeof item === 'object' && item !== null) as Message[]) : [];
  } catch {
    return [];
  }
}

/** Searchable text of messages or of bare parts (system instructions are a list of parts). */
function partsText(items: unknown[]): string {
  const texts: string[] = [];
  const visit = (part: unknown): void => {
    if (typeof part !== 'object' || part === null) return;
    const entry = part as Record<string, unknown>;
    if (Array.isArray(entry.parts)) return entry.parts.forEach(visit);
    if (typeof entry.content === 'string') texts.push(entry.content);
    if (entry.type === 'tool_call') texts.push(`${entry.name ?? ''} ${jsonText(entry.arguments)}`);
    if (entry.type === 'tool_call_response') texts.push(jsonText(entry.response));
  };
  items.forEach(visit);
  return texts.filter(Boolean).join('\n');
}

/** The text parts of one message. */
function textOf(message: Message): string {
  const parts = Array.isArray(message.parts) ? message.parts : [];
  return parts
    .filter((part): part is { type: string; content: string } => (part as { type?: unknown })?.type === 'text' && typeof (part as { content?: unknown }).content === 'string')
    .map((part) => part.content)
    .join(' ');
}

function jsonText(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * A message as the next request repeats it: role and the parts a client sends back. The response's own fields
 * (finish reason) and reasoning (which clients rarely echo) are left out, text is trimmed, and JSON keys sorted.
 */
function canonicalMessage(message: Message): string {
  const parts = Array.isArray(message.parts) ? message.parts : [];
  const canonical = parts
    .map((part) => {
      if (typeof part !== 'object' || part === null) return '';
      const p = part as Record<string, unknown>;
      switch (p.type) {
        case 'text':
          return `t:${typeof p.content === 'string' ? p.content.trim() : ''}`;
        case 'tool_call':
          return `c:${p.id ?? ''}:${p.name ?? ''}:${stableJson(p.arguments)}`;
        case 'tool_call_response':
          return `r:${p.id ?? ''}:${stableJson(p.response)}`;
        case 'reasoning':
          return '';
        default:
          return `${String(p.type)}:${stableJson(p.content)}`;
      }
    })
    .filter(Boolean);
  return `${String(message.role ?? '')}\u0001${canonical.join('\u0002')}`;
}

function stableJson(value: unknown): string {
  if (typeof value === 'string') {
    // Arguments sent back as the JSON string they arrived as compare equal to the parsed object.
    try {
      return stableJson(JSON.parse(value));
    } catch {
      return JSON.stringify(value);
    }
  }
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${stableJson((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** The first 52 bits of the text's SHA-1: collisions are negligible at the scale of a local store. */
function hash(text: string): number {
  return parseInt(digest('sha1', text, 'hex').slice(0, 13), 16);
}

function stringOf(value: AttributeValue | undefined): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function numberOf(value: AttributeValue | undefined): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

