/**
 * Pattern redaction of secrets and personal data inside string attribute values, and the always-on removal of
 * credential-bearing attributes. Pattern redaction is optional (config); credential removal is not.
 */
import { isCredentialHeader, stripCredentialAuthority, stripCredentialQuery } from '../../http/credentials';
import type { AttributeValue, Attributes } from '../../span/gen-ai-span';

export type RedactionPatternName = 'email' | 'credit-card' | 'api-key' | 'bearer-token' | 'generic-secret';

export const REDACTION_PATTERN_NAMES: readonly RedactionPatternName[] = ['email', 'credit-card', 'api-key', 'bearer-token', 'generic-secret'];

interface RedactionPattern {
  regex: RegExp;
  /** Extra check on a match; a false result keeps the text. */
  accept?: (match: string) => boolean;
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

function hasMixedCharacterClasses(candidate: string): boolean {
  return /[0-9]/.test(candidate) && /[a-z]/.test(candidate) && /[A-Z]/.test(candidate);
}

const PATTERNS: Record<RedactionPatternName, RedactionPattern[]> = {
  email: [{ regex: /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g }],
  // 13 to 19 digits, optionally grouped by single spaces or dashes (card number lengths per ISO/IEC 7812).
  'credit-card': [{ regex: /(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])/g, accept: passesLuhn }],
  'api-key': [
    { regex: /\bsk-ant-[A-Za-z0-9_-]{16,}/g },
    { regex: /\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}/g },
    { regex: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g },
    { regex: /\bAIza[0-9A-Za-z_-]{35}\b/g },
    { regex: /\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}\b/g },
    { regex: /\bxox[abprs]-[A-Za-z0-9-]{10,}/g },
  ],
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
    const order: RedactionPatternName[] = ['api-key', 'bearer-token', 'email', 'credit-card', 'generic-secret'];
    this.patterns = order.filter((name) => patternNames.includes(name)).flatMap((name) => PATTERNS[name]);
  }

  /** `text` with every match replaced by the marker. */
  redactText(text: string): string {
    let result = text;
    for (const { regex, accept } of this.patterns) {
      result = result.replace(regex, (match) => (accept && !accept(match) ? match : this.marker));
    }
    return result;
  }

  /**
   * A string attribute value with matches redacted. JSON documents (the GenAI message attributes) are redacted
   * leaf by leaf and re-serialised, so escapes such as `\n` cannot hide a match and the document stays valid JSON.
   */
  redactValue(value: string): string {
    const first = value.trimStart()[0];
    if (first === '[' || first === '{') {
      try {
        return JSON.stringify(this.redactJson(JSON.parse(value)));
      } catch {
        // Not JSON after all: treat as plain text.
      }
    }
    return this.redactText(value);
  }

  private redactJson(node: unknown): unknown {
    if (typeof node === 'string') return this.redactText(node);
    if (Array.isArray(node)) return node.map((item) => this.redactJson(item));
    if (node !== null && typeof node === 'object') {
      const copy: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(node)) copy[key] = this.redactJson(value);
      return copy;
    }
    return node;
  }

  /** A copy of `attributes` with every string (and string array element) redacted, except identifier attributes. */
  redactAttributes(attributes: Attributes): Attributes {
    const result: Attributes = {};
    for (const [key, value] of Object.entries(attributes)) {
      result[key] = IDENTIFIER_ATTRIBUTES.has(key) ? value : this.redactAttributeValue(value);
    }
    return result;
  }

  private redactAttributeValue(value: AttributeValue): AttributeValue {
    if (typeof value === 'string') return this.redactValue(value);
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

const keyShapes = new Redactor(['api-key', 'bearer-token']);
const CREDENTIAL_FLAG = /(--?[A-Za-z0-9_-]*(?:api[-_]?key|token|secret|password|passwd)[A-Za-z0-9_-]*)(=|\s+)("[^"]*"|'[^']*'|\S+)/gi;

/**
 * Always-on scrub for free text that may carry a credential, such as a process command line
 * (`--api-key=...`, `--token ...`, `sk-...` values): flags named like credentials lose their value, key shapes are redacted.
 */
export function scrubCredentials(text: string): string {
  return keyShapes.redactText(text.replace(CREDENTIAL_FLAG, (_match, flag: string, separator: string) => `${flag}${separator}<redacted>`));
}

const HEADER_ATTRIBUTE = /^(?:http\.request\.header|http\.response\.header)\.(.+)$/i;
const URL_ATTRIBUTES = new Set(['url.full', 'http.url', 'url.original']);
const PATH_ATTRIBUTES = new Set(['http.target', 'url.path']);

/** True for attributes such as `http.request.header.authorization` or `http.request.header.x_api_key`. */
export function isCredentialAttribute(key: string): boolean {
  const header = HEADER_ATTRIBUTE.exec(key);
  return header !== null && isCredentialHeader(header[1].replace(/_/g, '-'));
}

function stripUrlCredentials(url: string): string {
  const schemeEnd = url.indexOf('://');
  if (schemeEnd < 0) return stripCredentialQuery(url);
  const authorityStart = schemeEnd + 3;
  const pathStart = url.slice(authorityStart).search(/[/?#]/);
  const authorityEnd = pathStart < 0 ? url.length : authorityStart + pathStart;
  const authority = stripCredentialAuthority(url.slice(authorityStart, authorityEnd));
  return `${url.slice(0, authorityStart)}${authority}${stripCredentialQuery(url.slice(authorityEnd))}`;
}

/**
 * A copy of `attributes` without credential-bearing HTTP header attributes and with credential query
 * parameters and URL user-info removed from URL attributes. Applied always, whatever the privacy config.
 */
export function dropCredentialAttributes(attributes: Attributes): Attributes {
  const result: Attributes = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (isCredentialAttribute(key)) continue;
    if (typeof value === 'string') {
      if (URL_ATTRIBUTES.has(key)) {
        result[key] = stripUrlCredentials(value);
        continue;
      }
      if (PATH_ATTRIBUTES.has(key)) {
        result[key] = stripCredentialQuery(value);
        continue;
      }
      if (key === 'url.query') {
        const stripped = stripCredentialQuery(`?${value}`);
        result[key] = stripped.startsWith('?') ? stripped.slice(1) : '';
        continue;
      }
    }
    result[key] = value;
  }
  return result;
}
