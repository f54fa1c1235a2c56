/**
 * What a secret looks like in text that leaves the sensor (command lines, prompts and responses, attributes received
 * over OTLP), and its removal. Always on, whatever the privacy config:
 * - the value after a secret-named key, in the usual spellings: JSON `"awsSecret":"v"` (escaped inside a JSON string
 *   too), `'key': 'v'`, `KEY=v`, `--key=v`, `--key v`, `key: v`;
 * - URL user-info passwords (`scheme://user:password@host`) and `key` / `sig` query parameters;
 * - the shapes of well-known credentials: AWS access key ids and STS session tokens, JWTs, PEM private keys, and the
 *   API keys of OpenAI, Anthropic, GitHub, GitLab, Slack, Google, Stripe, Hugging Face, npm, PyPI, Groq, xAI,
 *   Replicate, Perplexity, SendGrid, DigitalOcean, Databricks, Shopify, and Slack webhook URLs.
 *
 * Hand-written rather than secretlint: that runs each rule as its own asynchronous pass over a file and reports
 * ranges, while the per-span path needs one synchronous pass over each string with one precompiled pattern, that
 * allocates nothing when the text holds no candidate.
 */
import { loadNativeAddon } from '../../common/native-addon';
import { remembered } from '../../common/remembered';
import type { AttributeValue, Attributes } from '../../span/gen-ai-span';

export const SECRET_MARKER = '<redacted>';

/** `secret` as a regex source that matches it in any letter case (the shapes around it stay case-sensitive). */
function anyCase(word: string): string {
  return word.replace(/[a-z]/g, (letter) => `[${letter}${letter.toUpperCase()}]`);
}

/**
 * Words that start a candidate key name (`author` is none). Any name holding one is a candidate; whether it names a
 * credential is decided in credentialNameStrength.
 */
const KEY_WORDS = ['secret', 'token', 'passw', 'passphrase', 'credential', 'cookie', 'bearer', 'signature', 'key', 'auth'];
const KEY_NAME_WORDS = [...KEY_WORDS.filter((word) => word !== 'auth').map(anyCase), `${anyCase('auth')}(?![oO][rR](?![iI][zZ]))`].join('|');

/**
 * Shapes that are credentials wherever they appear. Each starts at a word boundary that is not after a dash, so
 * `risk-free` holds no `sk-` key and neither does the `-sk-` a base64url blob may hold. Each also names the fixed
 * text it starts with (its anchor), which the native scan looks for.
 */
const CREDENTIAL_SHAPES: Array<{ anchor: string; pattern: string }> = [
  // OpenAI (sk-, sk-proj-, sk-svcacct-, sk-admin-) and Anthropic (sk-ant-api03-...) keys.
  { anchor: 'sk-', pattern: 'sk-[A-Za-z0-9_-]{20,}' },
  // AWS access key ids: long-term (AKIA), temporary (ASIA), and the other access-key prefixes.
  { anchor: '(?:AKIA|ASIA|ABIA|ACCA)', pattern: '(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}(?![0-9A-Za-z])' },
  // AWS STS session tokens: base64 of a fixed binary header.
  { anchor: '(?:IQoJb3JpZ2lu|F[Qw]oGZXIvYXdz)', pattern: '(?:IQoJb3JpZ2lu|F[Qw]oGZXIvYXdz)[A-Za-z0-9/+=]{16,}' },
  // JWTs: base64url JSON header and payload (both start `{"`), and a signature.
  { anchor: 'eyJ', pattern: 'eyJ[A-Za-z0-9_-]{5,}\\.eyJ[A-Za-z0-9_-]{5,}\\.[A-Za-z0-9_-]*' },
  // GitHub tokens and fine-grained tokens; GitLab personal access tokens.
  { anchor: 'gh[pousr]_', pattern: 'gh[pousr]_[A-Za-z0-9]{36,}' },
  { anchor: 'github_pat_', pattern: 'github_pat_[A-Za-z0-9_]{22,}' },
  { anchor: 'glpat-', pattern: 'glpat-[A-Za-z0-9_-]{20,}' },
  // Slack tokens and incoming-webhook URLs.
  { anchor: 'xox[abposre]-', pattern: 'xox[abposre]-[A-Za-z0-9-]{10,}' },
  { anchor: 'xapp-', pattern: 'xapp-[0-9]-[A-Za-z0-9-]{10,}' },
  { anchor: 'hooks\\.slack\\.com/', pattern: 'hooks\\.slack\\.com/services/[A-Za-z0-9_]+/[A-Za-z0-9_]+/[A-Za-z0-9_]+' },
  // Google API keys and OAuth access tokens.
  { anchor: 'AIza', pattern: 'AIza[0-9A-Za-z_-]{35}' },
  { anchor: 'ya29\\.', pattern: 'ya29\\.[0-9A-Za-z_-]{20,}' },
  // Stripe secret and restricted keys, webhook secrets.
  { anchor: '[sr]k_(?:live|test)_', pattern: '[sr]k_(?:live|test)_[0-9A-Za-z]{16,}' },
  { anchor: 'whsec_', pattern: 'whsec_[A-Za-z0-9+/=]{24,}' },
  // Hugging Face, npm, PyPI, Groq, xAI, Replicate, Perplexity, SendGrid, DigitalOcean, Databricks, Shopify.
  { anchor: 'hf_', pattern: 'hf_[A-Za-z0-9]{30,}' },
  { anchor: 'npm_', pattern: 'npm_[A-Za-z0-9]{36}' },
  { anchor: 'pypi-', pattern: 'pypi-[A-Za-z0-9_-]{50,}' },
  { anchor: 'gsk_', pattern: 'gsk_[A-Za-z0-9]{40,}' },
  { anchor: 'xai-', pattern: 'xai-[A-Za-z0-9]{40,}' },
  { anchor: 'r8_', pattern: 'r8_[A-Za-z0-9]{30,}' },
  { anchor: 'pplx-', pattern: 'pplx-[A-Za-z0-9]{40,}' },
  { anchor: 'SG\\.', pattern: 'SG\\.[A-Za-z0-9_-]{16,}\\.[A-Za-z0-9_-]{16,}' },
  { anchor: 'do[opr]_v1_', pattern: 'do[opr]_v1_[a-f0-9]{64}' },
  { anchor: 'dapi', pattern: 'dapi[0-9a-f]{32}' },
  { anchor: 'shp(?:at|ca|pa|ss)_', pattern: 'shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}' },
];

/**
 * PEM private keys (RSA, EC, OPENSSH, ENCRYPTED, PGP ...) to their END line, or, cut short, to the end of the
 * enclosing (JSON) string. It starts with dashes, so it stands outside the word-boundary group.
 */
const PEM_PRIVATE_KEY = '-----BEGIN[A-Z ]*PRIVATE KEY(?: BLOCK)?-----[^"]*?(?:-----END[A-Z ]*PRIVATE KEY(?: BLOCK)?-----|(?=\\\\?"|$))';

/** Credential shapes as one pattern source, for the optional `api-key` redaction pattern as well. */
export const CREDENTIAL_SHAPE_SOURCE = `\\b(?<!-)(?:${CREDENTIAL_SHAPES.map((shape) => shape.pattern).join('|')})|${PEM_PRIVATE_KEY}`;

/** An HTTP auth scheme before the credential in an unquoted value (`Authorization: Bearer abc`). */
const AUTH_SCHEME = `(?:(?:${['bearer', 'basic', 'digest', 'token', 'bot', 'negotiate'].map(anyCase).join('|')}|AWS4-HMAC-SHA256)[ \\t]+)?`;

/**
 * A key word and the rest of its name, at most 64 characters, taken whole: the lookahead-and-backreference pair is an
 * atomic group, so the engine never retries shorter tails (none could be followed by a separator anyway), and a name
 * full of key words (`key-key-key...`, a base64url blob) costs little.
 */
const KEY_NAME = `(?:${KEY_NAME_WORDS})(?=([A-Za-z0-9_.-]{0,64}))\\1`;
/** Characters that end an unquoted value: white space, quotes, separators and brackets. */
const UNQUOTED_VALUE = `[^\\s"'\\\\&,;<>()[\\]{}]+`;
/** A value that looks like a key rather than a word: 16 or more characters with digits and letters. */
const RANDOM_VALUE = `(?=[^\\s"'\\\\]*[0-9])(?=[^\\s"'\\\\]*[A-Za-z])[^\\s"'\\\\&,;<>()[\\]{}]{16,}`;

/**
 * One pattern, one pass. A key name candidate, then its value in one of three forms:
 * - after `:` or `=`: in double or single quotes (JSON escapes inside), in escaped quotes (`\"v\"`, a JSON document
 *   inside a JSON string, at any depth: a quote or backslash ends the value), or unquoted (after an auth scheme);
 * - after spaces, for an option (`--api-key v`: a dash in the name);
 * - after spaces, for any name, when the value looks like a key (`aws_secret_access_key wJalr...`), not prose.
 * Then key query parameters, URL passwords and credential shapes. No backreferences, one alternative per key name,
 * and every look back bounded and tried only after a blank: V8's regex engine spends a few nanoseconds a character on
 * text that holds nothing, and a long blob (base64url images) costs no more than prose.
 */
const SECRET_PATTERN = new RegExp(
  [
    `${KEY_NAME}(?:\\\\*["']?[ \\t]*[:=][ \\t]*`
      + `(?:"((?:[^"\\\\\\r\\n]|\\\\[^\\r\\n])+)"|'((?:[^'\\\\\\r\\n]|\\\\[^\\r\\n])+)'|\\\\+["']([^"'\\\\\\r\\n]+)\\\\+["']`
      + `|(${AUTH_SCHEME}${UNQUOTED_VALUE}))`
      + `|[ \\t]+(?<=-[A-Za-z0-9_.-]{0,100}[ \\t]+)(?!-)(${UNQUOTED_VALUE})`
      + `|[ \\t]+(${RANDOM_VALUE}))`,
    `[?&](?:key|sig)=([^\\s&#"'\\\\]+)`,
    `://[^\\s/?#@:"'\\\\]+:([^\\s/?#@"'\\\\]+)@`,
    `(${CREDENTIAL_SHAPE_SOURCE})`,
  ].join('|'),
  'g',
);

/** Group numbers in SECRET_PATTERN. */
const Group = {
  doubleQuotedValue: 2,
  singleQuotedValue: 3,
  escapedQuotedValue: 4,
  unquotedValue: 5,
  optionValue: 6,
  randomValue: 7,
  queryValue: 8,
  urlPassword: 9,
  shape: 10,
} as const;

/**
 * What every match of SECRET_PATTERN starts with, as fixed-width patterns for the native scan: the key words (any
 * letter case), the query and URL forms, the shape anchors and the PEM header. A test holds the two in step.
 */
export const SECRET_ANCHORS: ReadonlyArray<{ source: string; caseless: boolean }> = [
  ...KEY_WORDS.map((word) => ({ source: word, caseless: true })),
  { source: '[?&](?:key|sig)=', caseless: false },
  { source: '://', caseless: false },
  ...CREDENTIAL_SHAPES.map((shape) => ({ source: shape.anchor, caseless: false })),
  { source: '-----BEGIN', caseless: false },
];

interface CandidateScanner {
  /** Where the anchors start, or null when no anchor occurs. */
  find(text: string, limit: number): Uint32Array | null;
}

/** Past this many candidates in one text, one regex pass over it is cheaper than a check at each. */
const MAX_CANDIDATES = 512;

let candidateScanner: CandidateScanner | null | undefined;

/**
 * The native scan for SECRET_ANCHORS (Vectorscan, in the package's addon), or null where the addon cannot load (a
 * checkout not built yet): scrubbing then runs the one regex over the whole text, slower and just as complete.
 */
function scanner(): CandidateScanner | null {
  if (candidateScanner === undefined) {
    try {
      const { TextScanner } = loadNativeAddon<{ TextScanner: new (patterns: typeof SECRET_ANCHORS) => CandidateScanner }>();
      candidateScanner = new TextScanner(SECRET_ANCHORS);
    } catch {
      candidateScanner = null;
    }
  }
  return candidateScanner;
}

/** Whether scrubbing uses the native scan (false only where the addon cannot load). */
export function secretScanIsNative(): boolean {
  return scanner() !== null;
}

/** SECRET_PATTERN tried at one position only (sticky): at a candidate the native scan found. */
const SECRET_AT = new RegExp(SECRET_PATTERN.source, 'y');

/** Characters of a key name (`aws_secret_access_key`, `x-api-key`, `spring.datasource.password`, `awsSecret`). */
function isNameChar(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95 || code === 45 || code === 46;
}

/** Words that make a key name a credential on their own. */
const CREDENTIAL_WORDS = new Set([
  'secret', 'secrets', 'password', 'passwd', 'passphrase', 'token', 'credential', 'credentials', 'cookie',
  'bearer', 'auth', 'authorization', 'signature', 'apikey', 'accesskey', 'privatekey', 'secretkey',
]);
/** Words run together end with one (`PGPASSWORD`, `accesstoken`, `clientsecret`, `xapikey`). */
const CREDENTIAL_WORD_ENDINGS = ['password', 'passwd', 'passphrase', 'secret', 'token', 'credentials', 'apikey', 'accesskey', 'privatekey', 'secretkey'];

function isCredentialWord(word: string): boolean {
  return CREDENTIAL_WORDS.has(word) || CREDENTIAL_WORD_ENDINGS.some((ending) => word.endsWith(ending));
}

/** `<word> key` names that are credentials: `api key`, `access key`, `private key`, `AccountKey`, `SharedAccessKey`. */
const KEY_QUALIFIERS = new Set(['api', 'access', 'private', 'secret', 'account', 'session', 'master', 'encryption', 'signing', 'subscription', 'auth', 'client', 'app', 'license']);
/**
 * A credential word followed by one of these names something about the credential, not the credential:
 * `max_tokens`, `token_count`, `gen_ai.token.type`, `--token-file`, `secret_name`, `--password-stdin`.
 */
const ABOUT_A_CREDENTIAL = new Set([
  'type', 'types', 'count', 'counts', 'limit', 'limits', 'budget', 'usage', 'id', 'ids', 'index', 'method', 'mode',
  'url', 'uri', 'endpoint', 'file', 'files', 'path', 'dir', 'name', 'names', 'provider', 'enabled', 'required',
  'length', 'len', 'ttl', 'expiry', 'expires', 'expiration', 'header', 'location', 'ref', 'arn', 'stdin', 'env',
  'prompt', 'manager', 'store', 'version',
]);

/** Splits `awsSecretAccessKey`, `AWS_SECRET_ACCESS_KEY`, `x-api-key` and `spring.datasource.password` into lower-case words. */
function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

export type CredentialNameStrength = 'strong' | 'weak';

/**
 * Whether a key name says its value is a credential: `strong` for names that always are (`password`, `awsSecret`,
 * `X-Api-Key`, `AWS_SESSION_TOKEN`, `awsKeyId`), `weak` for `<something> key` names that may be (`WANDB_KEY`, but also
 * `sort_key`), judged by their value; undefined for names about a credential or about tokens as text units.
 */
export function credentialNameStrength(name: string): CredentialNameStrength | undefined {
  const words = nameWords(name);
  let strength: CredentialNameStrength | undefined;
  for (let index = 0; index < words.length; index++) {
    const word = words[index];
    const next = words[index + 1];
    if (next !== undefined && ABOUT_A_CREDENTIAL.has(next) && !(word === 'key' && next === 'id')) {
      // `token_id`, `secret_name` ...: a later word may still make the name a credential.
      if (isCredentialWord(word) || word === 'key') strength = undefined;
      continue;
    }
    if (isCredentialWord(word)) strength = 'strong';
    else if (word === 'key' && index > 0) {
      if (KEY_QUALIFIERS.has(words[index - 1]) || next === 'id') strength = 'strong';
      else strength ??= 'weak';
    } else if (word === 'key' && next === 'id') strength = 'strong';
  }
  return strength;
}

/** Names judged so far: key names and attribute names repeat endlessly, and judging one splits it into words. */
const judgedNameStrength = remembered(credentialNameStrength, 4096);

/** A value after a weakly named key counts as a credential when it looks random: long, with letters and digits. */
function looksRandom(value: string): boolean {
  return value.length >= 16 && /[0-9]/.test(value) && /[A-Za-z]/.test(value);
}

/** Unquoted values that are no secret: empty-ish literals and references to one (`$TOKEN`, `${TOKEN}`). */
const EMPTY_LITERAL = /^(?:null|none|nil|undefined|true|false)$/i;
const SECRET_REFERENCE = /^\$(?:[{(]|[A-Z_][A-Z0-9_]*$)/;
/** Code that reads a secret from somewhere (`token = self.token`, `api_key = os.environ`): a dotted reference. */
const DOTTED_REFERENCE = /^[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)+$/;

/** How a value follows its key name: after `:` or `=`, or after spaces only. */
export type ValueForm = 'assigned' | 'spaced';

/**
 * Whether `value`, written after the key name `name` (dashes of an option included), is a credential. Not for
 * `max_tokens=512`, `--max-tokens 512`, `password = input(`, `--token $GITHUB_TOKEN`, `sort_key=name`,
 * `the token is`.
 */
export function secretFollowsName(name: string, value: string, form: ValueForm, quoted = false): boolean {
  const isOption = name.startsWith('-');
  const strength = judgedNameStrength(isOption ? name.replace(/^-+/, '') : name);
  // A value of punctuation only is no secret (`token==` is base64 padding after a word that ends in `token`).
  if (strength === undefined || !/[A-Za-z0-9]/.test(value)) return false;
  // A name followed by a word after spaces is an option (`--api-key v`), or prose unless the word looks like a key.
  if (form === 'spaced' && (!isOption || strength === 'weak')) return looksRandom(value);
  if (!quoted && (EMPTY_LITERAL.test(value) || SECRET_REFERENCE.test(value) || DOTTED_REFERENCE.test(value))) return false;
  return strength === 'strong' || looksRandom(value);
}

/** Whether the key-value candidate `match` in `text` holds a credential. */
function judgeKeyValue(text: string, match: RegExpExecArray, value: string, quoted: boolean): boolean {
  let nameStart = match.index;
  while (nameStart > 0 && isNameChar(text.charCodeAt(nameStart - 1))) nameStart--;
  let nameEnd = match.index;
  while (nameEnd < text.length && isNameChar(text.charCodeAt(nameEnd))) nameEnd++;
  const spaced = match[Group.optionValue] !== undefined || match[Group.randomValue] !== undefined;
  if (!quoted && !spaced) {
    // Code that reads a secret (`password = input(`, `key = keys[0]`) is no secret.
    const after = text.charCodeAt(match.index + match[0].length);
    if (after === 40 /* ( */ || after === 91 /* [ */) return false;
  }
  return secretFollowsName(text.slice(nameStart, nameEnd), value, spaced ? 'spaced' : 'assigned', quoted);
}

/** Where the value of a match ends, and the value; undefined when a key-value candidate holds no credential. */
function secretIn(text: string, match: RegExpExecArray): { valueStart: number; valueEnd: number } | undefined {
  const matchEnd = match.index + match[0].length;
  let value: string | undefined = match[Group.shape] ?? match[Group.urlPassword] ?? match[Group.queryValue];
  // Where the value ends: at the match's end, or before its closing quote or the `@` of a URL password.
  let valueEnd = matchEnd;
  if (value === undefined) {
    const quotedValue = match[Group.doubleQuotedValue] ?? match[Group.singleQuotedValue] ?? match[Group.escapedQuotedValue];
    if (quotedValue !== undefined) {
      valueEnd--;
      while (text.charCodeAt(valueEnd - 1) === 92 /* \ */) valueEnd--;
    }
    value = quotedValue ?? match[Group.unquotedValue] ?? match[Group.optionValue] ?? match[Group.randomValue];
    if (!judgeKeyValue(text, match, value, quotedValue !== undefined)) return undefined;
  } else if (match[Group.urlPassword] !== undefined) {
    valueEnd--;
  }
  return { valueStart: valueEnd - value.length, valueEnd };
}

/** The whole text through the one regex: the fallback, and the way for texts full of candidates. */
export function scrubByRegex(text: string, marker: string): string {
  SECRET_PATTERN.lastIndex = 0;
  let match = SECRET_PATTERN.exec(text);
  if (match === null) return text;
  let result = '';
  let copiedUpTo = 0;
  for (; match !== null; match = SECRET_PATTERN.exec(text)) {
    const secret = secretIn(text, match);
    if (!secret) {
      // The search goes on one character later, so a key inside what was looked at (`--max-tokens sk-...`) is found.
      SECRET_PATTERN.lastIndex = match.index + 1;
      continue;
    }
    result += text.slice(copiedUpTo, secret.valueStart) + marker;
    copiedUpTo = secret.valueEnd;
  }
  return copiedUpTo === 0 ? text : result + text.slice(copiedUpTo);
}

/**
 * `text` with every secret replaced by `marker`; the very same string when it holds none. JSON stays valid JSON:
 * values are replaced inside their quotes and a quote or backslash always ends a value.
 *
 * Every match starts with an anchor, so the native scan finds where matches can start and the regex is tried only
 * there, in the order a global search would meet them: the same result as scrubByRegex, at a fraction of its cost
 * on ordinary text.
 */
export function scrubSecrets(text: string, marker: string = SECRET_MARKER): string {
  const native = text.length >= MIN_NATIVE_SCAN_LENGTH ? scanner() : null;
  if (!native) return scrubByRegex(text, marker);
  const starts = native.find(text, MAX_CANDIDATES);
  if (starts === null) return text;
  if (starts.length >= MAX_CANDIDATES) return scrubByRegex(text, marker);
  starts.sort();
  let result = '';
  let copiedUpTo = 0;
  let resumeAt = 0;
  for (let index = 0; index < starts.length; index++) {
    const start = starts[index];
    if (start < resumeAt || (index > 0 && start === starts[index - 1])) continue;
    SECRET_AT.lastIndex = start;
    const match = SECRET_AT.exec(text);
    if (match === null) continue;
    const secret = secretIn(text, match);
    if (!secret) continue;
    result += text.slice(copiedUpTo, secret.valueStart) + marker;
    copiedUpTo = secret.valueEnd;
    resumeAt = match.index + match[0].length;
  }
  return copiedUpTo === 0 ? text : result + text.slice(copiedUpTo);
}

/** Below this, one regex pass costs less than crossing into native code. */
const MIN_NATIVE_SCAN_LENGTH = 64;

/**
 * Short texts found to hold no secret, remembered: a span's short values (model, provider, operation, finish
 * reason, addresses, its name) come back on every call, and the regex pass over each was a third of this stage.
 * The answer depends on the text alone, so a remembered one is always right. Only clean texts are kept (not
 * `remembered`, which would keep every text it was asked about, secrets included).
 */
const cleanShortTexts = new Set<string>();
const MAX_CLEAN_SHORT_TEXTS = 4096;

/** scrubSecrets with the default marker, answering repeated short texts from memory. */
export function scrubSecretsRemembered(text: string): string {
  if (text.length >= MIN_NATIVE_SCAN_LENGTH) return scrubSecrets(text);
  if (cleanShortTexts.has(text)) return text;
  const scrubbed = scrubSecrets(text);
  if (scrubbed === text) {
    if (cleanShortTexts.size >= MAX_CLEAN_SHORT_TEXTS) cleanShortTexts.clear();
    cleanShortTexts.add(text);
  }
  return scrubbed;
}

function scrubString(value: string, keyStrength: CredentialNameStrength | undefined): string {
  if (keyStrength === 'strong' || (keyStrength === 'weak' && looksRandom(value))) return value === '' ? value : SECRET_MARKER;
  return scrubSecretsRemembered(value);
}

function scrubAttributeValue(key: string, value: AttributeValue): AttributeValue {
  if (typeof value === 'string') return scrubString(value, judgedNameStrength(key));
  if (Array.isArray(value) && typeof value[0] === 'string') {
    const strength = judgedNameStrength(key);
    let scrubbed: string[] | undefined;
    (value as string[]).forEach((item, index) => {
      const clean = scrubString(item, strength);
      if (clean !== item) (scrubbed ??= [...(value as string[])])[index] = clean;
    });
    return scrubbed ?? value;
  }
  return value;
}

/**
 * `attributes` with secrets scrubbed from every string value, and the whole value of an attribute named like a
 * credential (`app.openai_api_key`, `db.password`); the very same object when there was nothing to scrub. Keys in
 * `alreadyScrubbed` are passed over (command lines, scrubbed once per distinct line by their own scrubber).
 */
export function scrubSecretAttributes(attributes: Attributes, alreadyScrubbed?: ReadonlySet<string>): Attributes {
  let result: Attributes | undefined;
  for (const key in attributes) {
    if (alreadyScrubbed?.has(key)) continue;
    const value = attributes[key];
    const scrubbed = scrubAttributeValue(key, value);
    if (scrubbed !== value) (result ??= { ...attributes })[key] = scrubbed;
  }
  return result ?? attributes;
}
