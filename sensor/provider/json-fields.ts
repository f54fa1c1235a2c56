/**
 * Reading provider JSON bodies without trusting their shape: every reader returns undefined for a
 * missing or mistyped field, so odd bodies from compatible servers degrade to fewer attributes, never a crash.
 */
import { ProviderParseError } from './llm-call';

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/*
 * Readers of a value already taken from its object. The hot paths read fields at the call site (`asString(body.model)`),
 * where each read sees only the few body shapes of its own field and V8 keeps it a plain inline load; the
 * `...Field(parent, key)` readers below read `parent[key]` in one shared place, which sees every field of every body
 * and falls to V8's slowest property lookup (2.3% of the sensor's JS thread under the LLM loop, measured with perf).
 */
export function asObject(value: unknown): JsonObject | undefined {
  return isObject(value) ? value : undefined;
}

export function asArray(value: unknown): unknown[] | undefined {
  return Array.isArray(value) ? value : undefined;
}

export function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function asNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** A non-negative integer count (token counts); anything else is treated as absent. */
export function asCount(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
}

export function asBoolean(value: unknown): boolean | undefined {
  return typeof value === 'boolean' ? value : undefined;
}

/** `parent[key]` when `parent` is an object; the `...Field` readers below are the `as...` readers of it. */
function fieldOf(parent: unknown, key: string): unknown {
  return isObject(parent) ? parent[key] : undefined;
}

export function objectField(parent: unknown, key: string): JsonObject | undefined {
  return asObject(fieldOf(parent, key));
}

export function arrayField(parent: unknown, key: string): unknown[] | undefined {
  return asArray(fieldOf(parent, key));
}

export function stringField(parent: unknown, key: string): string | undefined {
  return asString(fieldOf(parent, key));
}

/** A string, or a number rendered as one (error codes come both ways). */
export function codeField(parent: unknown, key: string): string | undefined {
  const value = fieldOf(parent, key);
  const number = asNumber(value);
  return number !== undefined ? String(number) : asString(value);
}

export function numberField(parent: unknown, key: string): number | undefined {
  return asNumber(fieldOf(parent, key));
}

export function countField(parent: unknown, key: string): number | undefined {
  return asCount(fieldOf(parent, key));
}

export function booleanField(parent: unknown, key: string): boolean | undefined {
  return asBoolean(fieldOf(parent, key));
}

/** JSON.parse that answers undefined instead of throwing. */
export function tryParseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Parses a JSON object body. A body cut by the capture limit may fail to parse: then the call is
 * still reported, without what that body held (undefined). A complete body that is not a JSON object
 * means the traffic is not what the path promised: ProviderParseError.
 */
export function readJsonObjectBody(provider: string, what: string, body: Buffer, truncated: boolean): JsonObject | undefined {
  // Only a body starting with '{' can be an object: checking first spares decoding and a thrown SyntaxError per
  // call for traffic that is not JSON at all.
  const parsed = startsLikeObject(body) ? tryParseJson(body.toString('utf8')) : undefined;
  if (isObject(parsed)) return parsed;
  if (truncated) return undefined;
  if (body.length === 0) throw new ProviderParseError(provider, `${what} body is empty; expected a JSON object`);
  throw new ProviderParseError(provider, `${what} body is not a JSON object (${describeStart(body)})`);
}

const JSON_WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

function startsLikeObject(body: Buffer): boolean {
  for (const byte of body) {
    if (!JSON_WHITESPACE.has(byte)) return byte === 0x7b; // '{'
  }
  return false;
}

/** Enough of a body to tell what it was (HTML error page, truncated JSON) without copying content into logs. */
export function describeStart(body: Buffer): string {
  const first = body.toString('utf8', 0, Math.min(body.length, 64)).trimStart().charAt(0);
  const shown = /[\x21-\x7e]/.test(first) ? `starts with '${first}'` : 'no printable start';
  return `${body.length} bytes, ${shown}`;
}
