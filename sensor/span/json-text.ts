/**
 * JSON text of message content, exactly as JSON.stringify writes it, faster for long strings. Node 20's
 * JSON.stringify escapes strings a character at a time (about 4 ns per character on the benchmark machine: 32 µs
 * for an 8 KiB prompt, a quarter of the sensor's per-call work at that size); a string with nothing to escape is
 * written here as it is, between quotes, after a native pass that looks for any character JSON would escape (a
 * regular expression for it took 2.5 ns per character, most of what it was to save).
 *
 * Written by hand because no library serialises faster than the engine's own JSON.stringify, which is what
 * everything else here falls back to.
 */
import { loadNativeAddon } from '../common/native-addon';
import { rememberedText } from '../common/remembered';

/** Strings shorter than this are checked here, character by character; longer ones by the addon (~0.2 µs a call). */
const SHORT_STRING = 32;

type VerbatimCheck = (text: string) => boolean;
let verbatimCheck: VerbatimCheck | null | undefined;

function nativeVerbatimCheck(): VerbatimCheck | null {
  if (verbatimCheck === undefined) {
    try {
      verbatimCheck = loadNativeAddon<{ jsonVerbatim: VerbatimCheck }>().jsonVerbatim ?? null;
    } catch {
      verbatimCheck = null; // no addon (a tool run before the native build): JSON.stringify does it all
    }
  }
  return verbatimCheck;
}

/** Whether long strings take the native shortcut (false only where the addon cannot load). */
export function jsonShortcutIsNative(): boolean {
  return nativeVerbatimCheck() !== null;
}

export function jsonString(value: string): string {
  if (value.length < SHORT_STRING) return shortNeedsEscaping(value) ? JSON.stringify(value) : `"${value}"`;
  const verbatim = nativeVerbatimCheck();
  // No quote, backslash or control character, and no lone surrogate (JSON.stringify escapes those; pairs it keeps).
  if (verbatim !== null && verbatim(value) && (value as string & { isWellFormed(): boolean }).isWellFormed()) return `"${value}"`;
  return JSON.stringify(value);
}

/**
 * Keys, roles and part types are short and come on every message: a JSON.stringify call each cost more than this
 * loop (0.2-0.4 µs against a few nanoseconds a character).
 */
function shortNeedsEscaping(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x22 || code === 0x5c || (code >= 0xd800 && code <= 0xdfff)) return true;
  }
  return false;
}

/**
 * `JSON.stringify(value)` for the plain data the providers build (objects, arrays, strings, numbers, booleans,
 * null). Anything else (a `toJSON` method, a class instance, a bigint) is left to JSON.stringify, whole.
 */
export function jsonText(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return jsonString(value);
    case 'object':
      if (value === null) return 'null';
      if (Array.isArray(value)) return arrayText(value);
      if (isPlainObject(value)) return objectText(value as Record<string, unknown>);
      return JSON.stringify(value);
    default:
      return JSON.stringify(value);
  }
}

function isPlainObject(value: object): boolean {
  const prototype = Object.getPrototypeOf(value);
  return (prototype === Object.prototype || prototype === null) && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}

export function arrayText(items: readonly unknown[]): string {
  if (typeof (items as { toJSON?: unknown }).toJSON === 'function') return JSON.stringify(items);
  let text = '[';
  for (let index = 0; index < items.length; index++) {
    if (index > 0) text += ',';
    // As JSON.stringify: an item with no JSON form (undefined, a function, a symbol) is written as null.
    text += jsonText(items[index]) ?? 'null';
  }
  return text + ']';
}

/**
 * `"key":` for member names seen before: the same few (role, parts, type, content) open every member of every
 * message, and writing each again cost more than the lookup. Names come from the provider's JSON too (tool call
 * arguments), so only short ones are kept.
 */
const memberPrefix = rememberedText((key: string): string => `${jsonString(key)}:`, 1024, 64);

function objectText(object: Record<string, unknown>): string {
  let text = '{';
  for (const key of Object.keys(object)) {
    const member = jsonText(object[key]);
    // As JSON.stringify: a member with no JSON form is left out.
    if (member === undefined) continue;
    text += (text.length === 1 ? '' : ',') + memberPrefix(key) + member;
  }
  return text + '}';
}
