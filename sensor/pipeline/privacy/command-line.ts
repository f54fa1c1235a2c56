/**
 * Scrubbing of process command lines (`process.command_line`, `process.command_args`) before they leave the node.
 * Credentials go always: values of credential-named flags and `NAME=value` settings, credential headers
 * (`-H "api-key: ..."`, `Authorization: ...`), `user:password` values of `-u` / `--user`, URL user-info and
 * credential query parameters; then everything secrets.ts finds in the text (JSON arguments such as
 * `{"awsSecret":"..."}`, key shapes). Request bodies (`-d`, `--data*`, `--json`, `-F`) go too when request
 * prompts are obfuscated, since they carry the prompt.
 *
 * `process.command_line` is argv joined by spaces, so argument boundaries are lost: there a hidden value is taken to
 * run on until the next flag or URL, and a JSON body up to its closing bracket. That hides too much rather than leaks.
 */
import { remembered } from '../../common/remembered';
import { isCredentialHeader } from '../../http/credentials';
import type { Attributes } from '../../span/gen-ai-span';
import { stripUrlCredentials } from './redact';
import { credentialNameStrength, scrubSecrets, secretFollowsName, SECRET_MARKER } from './secrets';

const CREDENTIAL_MARKER = SECRET_MARKER;

export interface CommandLineScrubOptions {
  /** Hide request bodies given as arguments; set when request prompts are obfuscated. */
  hideRequestBodies?: boolean;
  /** Text that replaces a hidden request body. */
  bodyMarker?: string;
}

/**
 * Flag and setting names whose value is a credential: `--api-key`, `--db-password`, `OPENAI_API_KEY`,
 * `--oauth2-bearer`. Weaker names (`--wandb-key`) are left to secrets.ts, which looks at their value.
 */
function isCredentialName(name: string): boolean {
  return credentialNameStrength(name.replace(/^-+/, '')) === 'strong';
}
const FLAG = /^--?[A-Za-z]/;
/** A flag alone, nothing attached: only then does its name decide what the next word is. */
const BARE_FLAG = /^--?[A-Za-z][A-Za-z0-9._-]*$/;
/** An argument that may be a key name before its value: `--wandb-key`, `aws_secret_access_key`. */
const KEY_NAME_WORD = /^-{0,2}[A-Za-z][A-Za-z0-9_.-]*$/;
const ASSIGNMENT = /^(-{0,2}[A-Za-z][A-Za-z0-9._-]*)=(.*)$/s;
/** curl's (and most HTTP clients') basic-auth flags, whose value is `user:password`. */
const USER_FLAGS = new Set(['-u', '-U', '--user', '--proxy-user']);
const BODY_FLAGS = new Set(['-d', '--data', '--data-raw', '--data-binary', '--data-ascii', '--data-urlencode', '--json', '-F', '--form', '--form-string']);
/** `name: value` (curl `-H`, wget `--header=`, httpie `Name:value`); an attached `-H` or `--header=` and a quote may lead. */
const HEADER = /^((?:-H|--(?:proxy-)?header=)?['"]?)([A-Za-z][A-Za-z0-9_-]*):(\s*)(.*)$/s;
const ATTACHED_USER = /^(-[uU])(.*:.*)$/s;
const ATTACHED_JSON_BODY = /^(-d)(['"]?[{[].*)$/s;

type ExpectedValue = 'credential' | 'header-value' | 'user' | 'body';

interface WordScrub {
  text: string;
  /** What the next word is the value of. */
  expects?: ExpectedValue;
  /** The value hidden in this word may continue into the next words (joined command lines only). */
  runsOn?: boolean;
  /** Offset in the word where a hidden request body starts, to find the end of a JSON body. */
  bodyStart?: number;
}

function isFlagOrUrl(word: string): boolean {
  return FLAG.test(word) || word.includes('://');
}

function isCredentialHeaderName(name: string): boolean {
  return isCredentialHeader(name.replace(/_/g, '-'));
}

/** Index just past the JSON value that starts at `from` (an opening bracket, possibly after a quote), or the text's end. */
function jsonValueEnd(text: string, from: number): number {
  let depth = 0;
  let inString = false;
  for (let index = from; index < text.length; index++) {
    const char = text[index];
    if (inString) {
      if (char === '\\') index++;
      else if (char === '"') inString = false;
    } else if (char === '"') {
      inString = true;
    } else if (char === '{' || char === '[') {
      depth++;
    } else if (char === '}' || char === ']') {
      depth--;
      if (depth === 0) return index + 1;
    }
  }
  return text.length;
}

class CommandScrubber {
  private readonly hideRequestBodies: boolean;
  private readonly bodyMarker: string;

  constructor(options: CommandLineScrubOptions) {
    this.hideRequestBodies = options.hideRequestBodies ?? false;
    this.bodyMarker = options.bodyMarker ?? '<obfuscated>';
  }

  /** One word (an argument, or a space-separated piece of a joined command line) on its own. */
  scrubWord(word: string, joined: boolean): WordScrub {
    if (word.includes('://')) return { text: stripUrlCredentials(word) };
    const header = HEADER.exec(word);
    if (header && isCredentialHeaderName(header[2])) {
      const [, prefix, name, space, value] = header;
      if (value === '') return { text: `${prefix}${name}:${space}`, expects: joined ? 'header-value' : undefined };
      return { text: `${prefix}${name}:${space}${CREDENTIAL_MARKER}`, runsOn: joined };
    }
    const assignment = ASSIGNMENT.exec(word);
    if (assignment) {
      const [, name, value] = assignment;
      if (isCredentialName(name)) return { text: `${name}=${CREDENTIAL_MARKER}` };
      if (USER_FLAGS.has(name) && value.includes(':')) return { text: `${name}=${CREDENTIAL_MARKER}`, runsOn: joined };
      if (BODY_FLAGS.has(name) && this.hideRequestBodies) return { text: `${name}=${this.bodyMarker}`, bodyStart: name.length + 1 };
      return { text: word };
    }
    if (BARE_FLAG.test(word)) {
      if (isCredentialName(word)) return { text: word, expects: 'credential' };
      if (USER_FLAGS.has(word)) return { text: word, expects: 'user' };
      if (BODY_FLAGS.has(word) && this.hideRequestBodies) return { text: word, expects: 'body' };
    } else if (FLAG.test(word)) {
      const attachedUser = ATTACHED_USER.exec(word);
      if (attachedUser) return { text: `${attachedUser[1]}${CREDENTIAL_MARKER}`, runsOn: joined };
      const attachedBody = this.hideRequestBodies ? ATTACHED_JSON_BODY.exec(word) : null;
      if (attachedBody) return { text: `${attachedBody[1]}${this.bodyMarker}`, bodyStart: attachedBody[1].length };
    }
    return { text: word };
  }

  /** The value word after a flag that takes one, or undefined when the word is not such a value after all. */
  scrubValue(word: string, expected: ExpectedValue, joined: boolean): WordScrub | undefined {
    if (isFlagOrUrl(word)) return undefined;
    switch (expected) {
      case 'credential':
        return { text: CREDENTIAL_MARKER };
      case 'header-value':
        return { text: CREDENTIAL_MARKER, runsOn: joined };
      case 'user':
        // A bare user name is no secret; `user:password` (or `AKIA...:secret` with --aws-sigv4) is.
        return word.includes(':') ? { text: CREDENTIAL_MARKER, runsOn: joined } : undefined;
      case 'body':
        return { text: this.bodyMarker, bodyStart: 0 };
    }
  }

  /** argv: each argument is one word, so values never run on. */
  scrubArgs(args: readonly string[]): string[] {
    let expected: ExpectedValue | undefined;
    return args.map((arg, index) => {
      const asValue = expected ? this.scrubValue(arg, expected, false) : undefined;
      const scrub = asValue ?? this.scrubWord(arg, false);
      expected = scrub.expects;
      // `aws configure set aws_secret_access_key KEY`, `--wandb-key KEY`: seen together only in the joined line.
      const name = args[index - 1];
      if (asValue === undefined && name !== undefined && KEY_NAME_WORD.test(name) && secretFollowsName(name, arg, 'spaced')) return CREDENTIAL_MARKER;
      return scrubSecrets(scrub.text);
    });
  }

  /** A command line joined by spaces; whitespace between the words that stay is kept as it was. */
  scrubJoined(commandLine: string): string {
    let result = '';
    let copiedUpTo = 0;
    let expected: ExpectedValue | undefined;
    let runsOn = false;
    let hiddenUpTo = 0;
    for (const match of commandLine.matchAll(/\S+/g)) {
      const word = match[0];
      const start = match.index;
      const end = start + word.length;
      // Words inside a hidden JSON body, or continuing a hidden value, are dropped with the space before them.
      if (start < hiddenUpTo || (runsOn && !isFlagOrUrl(word))) {
        copiedUpTo = end;
        continue;
      }
      runsOn = false;
      const asValue = expected ? this.scrubValue(word, expected, true) : undefined;
      const scrub = asValue ?? this.scrubWord(word, true);
      expected = scrub.expects;
      runsOn = scrub.runsOn ?? false;
      if (scrub.bodyStart !== undefined) {
        const opening = word.slice(scrub.bodyStart).search(/[^'"]/);
        if (opening >= 0 && '{['.includes(word[scrub.bodyStart + opening])) {
          const jsonEnd = jsonValueEnd(commandLine, start + scrub.bodyStart + opening);
          const nextSpace = commandLine.slice(jsonEnd).search(/\s/);
          hiddenUpTo = nextSpace < 0 ? commandLine.length : jsonEnd + nextSpace;
        } else {
          runsOn = true;
        }
      }
      result += commandLine.slice(copiedUpTo, start) + scrub.text;
      copiedUpTo = end;
    }
    return scrubSecrets(result + commandLine.slice(copiedUpTo));
  }
}

/** A command line (argv joined by spaces) without credentials, and without request bodies when asked. */
export function scrubCommandLine(commandLine: string, options: CommandLineScrubOptions = {}): string {
  return new CommandScrubber(options).scrubJoined(commandLine);
}

/** An argument vector without credentials, and without request bodies when asked; one entry per argument. */
export function scrubCommandArgs(args: readonly string[], options: CommandLineScrubOptions = {}): string[] {
  return new CommandScrubber(options).scrubArgs(args);
}

/** Scrubbed command lines remembered per stage: one per process on the node, or per service sending OTLP. */
const MAX_REMEMBERED_COMMAND_LINES = 1024;

/**
 * Scrubs `process.command_line` and `process.command_args` span after span. A process's command line comes back
 * on every span it makes, so each distinct line is scrubbed once and remembered (a bounded number of them).
 */
export class CommandAttributeScrubber {
  private readonly scrubber: CommandScrubber;
  private readonly scrubLine: (commandLine: string) => string;

  constructor(options: CommandLineScrubOptions = {}) {
    this.scrubber = new CommandScrubber(options);
    this.scrubLine = remembered((commandLine) => this.scrubber.scrubJoined(commandLine), MAX_REMEMBERED_COMMAND_LINES);
  }

  /** `attributes` with both scrubbed; the same object when it has neither. */
  scrub(attributes: Attributes): Attributes {
    const commandLine = attributes['process.command_line'];
    const commandArgs = attributes['process.command_args'];
    const hasArgs = Array.isArray(commandArgs) && commandArgs.every((arg) => typeof arg === 'string');
    if (typeof commandLine !== 'string' && !hasArgs) return attributes;
    const line = typeof commandLine === 'string' ? this.scrubLine(commandLine) : commandLine;
    const args = hasArgs ? this.scrubber.scrubArgs(commandArgs as string[]) : commandArgs;
    const argsChanged = hasArgs && (args as string[]).some((arg, index) => arg !== (commandArgs as string[])[index]);
    // A copy only when something changed: the same command line comes back on every span of its process.
    if (line === commandLine && !argsChanged) return attributes;
    const result: Attributes = { ...attributes };
    if (line !== undefined) result['process.command_line'] = line;
    if (hasArgs) result['process.command_args'] = args as string[];
    return result;
  }
}
