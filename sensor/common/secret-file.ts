/**
 * Credentials (bearer tokens, TLS keys) come from files that the configuration names, never from the configuration
 * itself, so no config dump, ConfigMap or log line carries them. The files are mounted Kubernetes Secrets or what an
 * init container fetched; a file is read again when it changes on disk (the kubelet swaps a rotated Secret in), so a
 * rotation needs no restart. Nothing here ever puts a file's content into a message.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A credential file that is missing, unreadable or malformed; the message names the config key and the path. */
export class SecretFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretFileError';
  }
}

/** Shortest bearer token accepted: anything shorter is guessable, not a secret. */
export const MIN_TOKEN_LENGTH = 16;

/** How often a watched file is looked at again (one stat per file), at most. */
const DEFAULT_RECHECK_MS = 10_000;

function describeError(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}

/** The file's bytes; `key` is the config key that named it, for the message. */
export function readSecretBytes(filePath: string, key: string): Buffer {
  try {
    return fs.readFileSync(filePath);
  } catch (error) {
    throw new SecretFileError(`${key}: cannot read ${filePath} (${describeError(error)}); mount the secret there or fix the path`);
  }
}

/** A bearer token from a file: surrounding whitespace (a trailing newline) removed, then checked for shape. */
export function readToken(filePath: string, key: string): string {
  const token = readSecretBytes(filePath, key).toString('utf8').trim();
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new SecretFileError(
      `${key}: ${filePath} holds a token of ${token.length} characters; use at least ${MIN_TOKEN_LENGTH} random characters (e.g. openssl rand -hex 32)`,
    );
  }
  // A token travels in an HTTP header: control characters or blanks inside would be refused or cut there.
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new SecretFileError(`${key}: ${filePath} holds a token with blanks or non-ASCII characters; a token is one line of printable ASCII`);
  }
  return token;
}

/** What identifies one version of a file: a swapped-in Secret has a new inode, an edited file a new mtime or size. */
function fingerprintOf(filePath: string): string {
  try {
    const stat = fs.statSync(filePath);
    return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
  } catch (error) {
    return `missing:${describeError(error)}`;
  }
}

/**
 * The client tokens of a directory: every regular file is one token, named after the file (`payments` for the
 * cluster payments, `payments.previous` for the token it replaces). Dot files are skipped: a Kubernetes Secret volume
 * keeps its real files under `..data`, and each key is a symlink next to it.
 */
export function readTokenDirectory(dir: string, key: string): Map<string, string> {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (error) {
    throw new SecretFileError(`${key}: cannot list ${dir} (${describeError(error)}); mount the token Secret there or fix the path`);
  }
  const tokens = new Map<string, string>();
  for (const name of names.sort()) {
    if (name.startsWith('.')) continue;
    const file = path.join(dir, name);
    if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) continue;
    tokens.set(name, readToken(file, key));
  }
  // An empty directory is a deployment with no client yet: every request is refused until a token file appears.
  return tokens;
}

function directoryFingerprint(dir: string): string {
  try {
    return fs
      .readdirSync(dir)
      .filter((name) => !name.startsWith('.'))
      .sort()
      .map((name) => `${name}=${fingerprintOf(path.join(dir, name))}`)
      .join(';');
  } catch (error) {
    return `missing:${describeError(error)}`;
  }
}

export interface WatchOptions {
  /** @default 10_000 */
  recheckMs?: number;
  /** Told when a changed file could not be used; the last good value stays in use. */
  onReloadError?: (error: SecretFileError) => void;
  /** Told when a changed file was taken. */
  onReload?: () => void;
  now?: () => number;
}

/**
 * A value read from files at start (errors thrown: the process must not start without its credentials) and read
 * again when the files change. A change that cannot be read keeps the last good value and is reported, so a
 * half-written rotation never leaves a process without credentials.
 */
export class WatchedSecret<T> {
  private value: T;
  private fingerprint: string;
  private checkedAtMs: number;
  private readonly recheckMs: number;
  private readonly now: () => number;

  constructor(
    private readonly read: () => T,
    private readonly fingerprintNow: () => string,
    private readonly options: WatchOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.recheckMs = options.recheckMs ?? DEFAULT_RECHECK_MS;
    this.fingerprint = fingerprintNow();
    this.value = read();
    this.checkedAtMs = this.now();
  }

  /** The current value; looks at the files again once `recheckMs` has passed since the last look. */
  current(): T {
    if (this.now() - this.checkedAtMs >= this.recheckMs) this.reloadIfChanged();
    return this.value;
  }

  /** Looks at the files now; true when a changed value was taken. */
  reloadIfChanged(): boolean {
    this.checkedAtMs = this.now();
    const fingerprint = this.fingerprintNow();
    if (fingerprint === this.fingerprint) return false;
    try {
      this.value = this.read();
      this.fingerprint = fingerprint;
      this.options.onReload?.();
      return true;
    } catch (error) {
      // Not remembered as seen: the next look tries again, when the writer may have finished.
      if (error instanceof SecretFileError) this.options.onReloadError?.(error);
      else throw error;
      return false;
    }
  }
}

export function watchToken(filePath: string, key: string, options?: WatchOptions): WatchedSecret<string> {
  return new WatchedSecret(() => readToken(filePath, key), () => fingerprintOf(filePath), options);
}

export function watchTokenDirectory(dir: string, key: string, options?: WatchOptions): WatchedSecret<Map<string, string>> {
  return new WatchedSecret(() => readTokenDirectory(dir, key), () => directoryFingerprint(dir), options);
}

/** Several files read together (a certificate and its key), re-read when any of them changes. */
export function watchFiles<T>(files: Array<{ path: string; key: string }>, parse: (contents: Buffer[]) => T, options?: WatchOptions): WatchedSecret<T> {
  return new WatchedSecret(
    () => parse(files.map((file) => readSecretBytes(file.path, file.key))),
    () => files.map((file) => fingerprintOf(file.path)).join('|'),
    options,
  );
}
