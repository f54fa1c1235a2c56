/**
 * Pattern redaction of secrets and personal data inside string attribute values, and the always-on removal of
 * credential-bearing attributes. Pattern redaction is optional (config); credential removal is not.
 */
import { remembered } from '../../common/remembered';
import { isCredentialHeader, stripCredentialAuthority, stripCredentialQuery } from '../../http/credentials';
import type { AttributeValue, Attributes } from '../../span/gen-ai-span';
import { parseJsonWithinDepth } from './json-depth';
import { CREDENTIAL_SHAPE_SOURCE } from './secrets';

export type RedactionPatternName = 'email' | 'credit-card' | 'api-key' | 'bearer-token' | 'generic-secret';

export const REDACTION_PATTERN_NAMES: readonly RedactionPatternName[] = ['email', 'credit-card', 'api-key', 'bearer-token', 'generic-secret'];

interface RedactionPattern {
  regex: RegExp;
  /** Extra check on a match; a false result keeps the text. */
  accept?: (match: string) => boolean;
  /** Redacts inside a match instead of replacing it whole. */
  redactWithin?: (match: string, marker: string) => string;
}

/** Luhn checksum over the digits of `candidate` (separators ignored). */
export function passesLuhn(candidate: string): boolean {
  const digits = candidate.replace(/[ -]/g, '');
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

const CARD_MIN_DIGITS = 13;
const CARD_MAX_DIGITS = 19;

/**
 * `run` (digits, single spaces or dashes between them) with every card number in it replaced. A candidate is a
 * stretch of whole digit groups holding 13 to 19 digits that passes Luhn, so a card followed or preceded by other
 * numbers (`4242 4242 4242 4242 12/26`, `4111111111111111 123`) is still found. Card groups are written 4-4-4-4,
 * 4-6-5 or 4-4-4-4-3, so a candidate starts with a group of 4 or more digits and has none shorter than 3: lists of
 * small numbers are not cards. An unbroken run is only tested whole: windows inside one long number would flag most long ids.
 */
function redactCardNumbers(run: string, marker: string): string {
  const groups = [...run.matchAll(/[0-9]+/g)].map((group) => ({ start: group.index, end: group.index + group[0].length, digits: group[0] }));
  const hidden = new Array<boolean>(groups.length).fill(false);
  for (let first = 0; first < groups.length; first++) {
    if (groups[first].digits.length < 4) continue;
    let digits = '';
    for (let last = first; last < groups.length; last++) {
      if (last > first && groups[last].digits.length < 3) break;
      digits += groups[last].digits;
      if (digits.length > CARD_MAX_DIGITS) break;
      if (digits.length >= CARD_MIN_DIGITS && passesLuhn(digits)) hidden.fill(true, first, last + 1);
    }
  }
  let result = '';
  let copiedUpTo = 0;
  for (let first = 0; first < groups.length; first++) {
    if (!hidden[first]) continue;
    let last = first;
    while (last + 1 < groups.length && hidden[last + 1]) last++;
    result += run.slice(copiedUpTo, groups[first].start) + marker;
    copiedUpTo = groups[last].end;
    first = last;
  }
  return copiedUpTo === 0 ? run : result + run.slice(copiedUpTo);
}

function hasMixedCharacterClasses(candidate: string): boolean {
  return /[0-9]/.test(candidate) && /[a-z]/.test(candidate) && /[A-Z]/.test(candidate);
}

const PATTERNS: Record<RedactionPatternName, RedactionPattern[]> = {
  email: [{ regex: /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g }],
  // Runs of 13 or more digits, optionally grouped by single spaces or dashes; card numbers (13 to 19 digits per
  // ISO/IEC 7812, Luhn-checked) are looked for inside each run.
  'credit-card': [{ regex: /(?<![0-9])[0-9](?:[ -]?[0-9]){12,}(?![0-9])/g, redactWithin: redactCardNumbers }],
  // The credential shapes the always-on scrubbing (secrets.ts) removes anyway; kept as a pattern for configs naming it.
  'api-key': [{ regex: new RegExp(CREDENTIAL_SHAPE_SOURCE, 'g') }],
  'bearer-token': [{ regex: /\bBearer\s+[A-Za-z0-9._~+/-]+=*/gi }],
  'generic-secret': [
    { regex: /(?<![0-9A-Za-z])[0-9a-fA-F]{32,}(?![0-9A-Za-z])/g },
    // Long base64/base64url runs that mix digits and both letter cases: keys and tokens, not words or paths.
    { regex: /(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{40,}={0,2}/g, accept: hasMixedCharacterClasses },
  ],
};

export class Redactor {
  private readonly patterns: RedactionPattern[];

  constructor(
    patternNames: readonly RedactionPatternName[] = REDACTION_PATTERN_NAMES,
    private readonly marker = '<redacted>',
  ) {
    // Specific shapes first so that a key is reported whole rather than half-matched by a generic rule.
    const order: RedactionPatternName[] = ['bearer-token', 'api-key', 'email', 'credit-card', 'generic-secret'];
    this.patterns = order.filter((name) => patternNames.includes(name)).flatMap((name) => PATTERNS[name]);
  }

  /** `text` with every match replaced by the marker. */
  redactText(text: string): string {
    let result = text;
    for (const { regex, accept, redactWithin } of this.patterns) {
      result = result.replace(regex, (match) => {
        if (redactWithin) return redactWithin(match, this.marker);
        return accept && !accept(match) ? match : this.marker;
      });
    }
    return result;
  }

  /**
   * A string attribute value with matches redacted. JSON documents (the GenAI message attributes) are redacted
   * leaf by leaf and re-serialised, so escapes such as `\n` cannot hide a match and the document stays valid JSON.
   * Nesting too deep to walk safely is replaced by the marker.
   */
  redactValue(value: string): string {
    const first = value.trimStart()[0];
    if (first === '[' || first === '{') {
      let document: unknown;
      try {
        document = parseJsonWithinDepth(value, this.marker).document;
      } catch {
        // Not JSON after all: treat as plain text.
        return this.redactText(value);
      }
      return JSON.stringify(this.redactJson(document));
    }
    return this.redactText(value);
  }

  /**
   * A long integer redacted as its digits, so `{"card":4111111111111111}` is caught; it becomes the marker (a string)
   * when it matches. Integers above 2^53 have already lost their exact digits in parsing and are tested as they are.
   */
  private redactInteger(value: number): number | string {
    if (!Number.isInteger(value) || Math.abs(value) < 10 ** (CARD_MIN_DIGITS - 1)) return value;
    const digits = String(value);
    const redacted = this.redactText(digits);
    return redacted === digits ? value : redacted;
  }

  private redactJson(node: unknown): unknown {
    if (typeof node === 'string') return this.redactText(node);
    if (typeof node === 'number') return this.redactInteger(node);
    if (Array.isArray(node)) return node.map((item) => this.redactJson(item));
    if (node !== null && typeof node === 'object') {
      const copy: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(node)) copy[key] = this.redactJson(value);
      return copy;
    }
    return node;
  }

  /** A copy of span `attributes` with every string (and string array element) redacted, except identifier attributes. */
  redactAttributes(attributes: Attributes): Attributes {
    return this.redactAllBut(attributes, (key) => IDENTIFIER_ATTRIBUTES.has(key));
  }

  /** A copy of resource `attributes` redacted the same way, except resource identifiers (container, host, pod ids). */
  redactResourceAttributes(attributes: Attributes): Attributes {
    return this.redactAllBut(attributes, isResourceIdentifier);
  }

  private redactAllBut(attributes: Attributes, isIdentifier: (key: string) => boolean): Attributes {
    const result: Attributes = {};
    for (const [key, value] of Object.entries(attributes)) {
      result[key] = isIdentifier(key) ? value : this.redactAttributeValue(value);
    }
    return result;
  }

  private redactAttributeValue(value: AttributeValue): AttributeValue {
    if (typeof value === 'string') return this.redactValue(value);
    if (typeof value === 'number') return this.redactInteger(value);
    if (Array.isArray(value) && value.length > 0 && typeof value[0] === 'string') {
      return (value as string[]).map((item) => this.redactValue(item));
    }
    return value;
  }
}

/**
 * Provider-assigned identifiers and names: they are neither personal data nor secrets, but their shapes
 * (long mixed-case ids, model ARNs) can look like one, and redacting them would break correlation and metrics.
 */
const IDENTIFIER_ATTRIBUTES = new Set([
  'gen_ai.system',
  'gen_ai.provider.name',
  'gen_ai.operation.name',
  'gen_ai.request.model',
  'gen_ai.response.model',
  'gen_ai.response.id',
  'gen_ai.response.message_id',
  'gen_ai.response.system_fingerprint',
  'server.address',
  'sightline.client',
  'sightline.server',
]);

/**
 * Resource attributes that identify a container, host, pod or cloud resource: hex and uuid shapes that the
 * generic-secret pattern would take for keys, and that correlation and metrics need intact.
 */
const RESOURCE_IDENTIFIER_ATTRIBUTES = new Set([
  'container.id',
  'container.image.id',
  'host.id',
  'host.image.id',
  'service.instance.id',
  'cloud.account.id',
  'cloud.resource_id',
]);

function isResourceIdentifier(key: string): boolean {
  return RESOURCE_IDENTIFIER_ATTRIBUTES.has(key) || /^k8s\.[a-z_]+\.uid$/.test(key);
}

const HEADER_ATTRIBUTE = /^(?:http\.request\.header|http\.response\.header)\.(.+)$/i;
const URL_ATTRIBUTES = new Set(['url.full', 'http.url', 'url.original']);
const PATH_ATTRIBUTES = new Set(['http.target', 'url.path']);

/** True for attributes such as `http.request.header.authorization` or `http.request.header.x_api_key`. */
export function isCredentialAttribute(key: string): boolean {
  const header = HEADER_ATTRIBUTE.exec(key);
  return header !== null && isCredentialHeader(header[1].replace(/_/g, '-'));
}

/** What `dropCredentialAttributes` does with an attribute, by its name alone. */
const enum AttributeRule {
  Keep,
  Drop,
  Url,
  Path,
  Query,
}

/**
 * Rules of names seen before: a span carries the same few dozen names every time, and testing each against the
 * header pattern and the URL sets was most of this function's time.
 */
const attributeRule = remembered((key: string): AttributeRule => {
  if (isCredentialAttribute(key)) return AttributeRule.Drop;
  if (URL_ATTRIBUTES.has(key)) return AttributeRule.Url;
  if (PATH_ATTRIBUTES.has(key)) return AttributeRule.Path;
  return key === 'url.query' ? AttributeRule.Query : AttributeRule.Keep;
}, 4096);

/** `url` without user-info and credential query parameters; text before the scheme (`--url=`) is kept. */
export function stripUrlCredentials(url: string): string {
  const schemeEnd = url.indexOf('://');
  if (schemeEnd < 0) return stripCredentialQuery(url);
  const authorityStart = schemeEnd + 3;
  const pathStart = url.slice(authorityStart).search(/[/?#]/);
  const authorityEnd = pathStart < 0 ? url.length : authorityStart + pathStart;
  const authority = stripCredentialAuthority(url.slice(authorityStart, authorityEnd));
  return `${url.slice(0, authorityStart)}${authority}${stripCredentialQuery(url.slice(authorityEnd))}`;
}

/**
 * `attributes` without credential-bearing HTTP header attributes and with credential query parameters and URL
 * user-info removed from URL attributes; the very same object when there is nothing to remove (copying every
 * attribute of every span was most of this stage). Applied always, whatever the privacy config.
 */
export function dropCredentialAttributes(attributes: Attributes): Attributes {
  let result: Attributes | undefined;
  for (const key in attributes) {
    const rule = attributeRule(key);
    if (rule === AttributeRule.Keep) continue;
    if (rule === AttributeRule.Drop) {
      if (!result) result = { ...attributes };
      delete result[key];
      continue;
    }
    const value = attributes[key];
    if (typeof value !== 'string') continue;
    let clean: string;
    if (rule === AttributeRule.Url) clean = stripUrlCredentials(value);
    else if (rule === AttributeRule.Path) clean = stripCredentialQuery(value);
    else {
      const stripped = stripCredentialQuery(`?${value}`);
      clean = stripped.startsWith('?') ? stripped.slice(1) : '';
    }
    if (clean !== value) (result ??= { ...attributes })[key] = clean;
  }
  return result ?? attributes;
}
