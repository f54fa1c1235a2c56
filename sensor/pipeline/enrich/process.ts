/** Process context (executable, command line, container) read from /proc/PID and cached per pid. */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { scrubCommandLine } from '../privacy/command-line';
import { parseCgroupIdentity } from './cgroup';

export interface ProcessContext {
  pid: number;
  /** Basename of the executable (`node`, `python3.12`), else the kernel's `comm`. */
  executableName: string;
  executablePath?: string;
  /** argv joined by spaces, as `process.command_line` expects, without credentials (scrubbed once per process). */
  commandLine?: string;
  comm?: string;
  containerId?: string;
  podUid?: string;
}

export interface ProcessContextReaderOptions {
  /** Root of the proc filesystem; a fixture tree in tests, `/host/proc` when the host's is mounted elsewhere. */
  procRoot?: string;
  /** How long one pid's context is trusted; bounds staleness after pid reuse. */
  ttlMs?: number;
  /** Upper bound on cached pids; the oldest entries go first. */
  maxEntries?: number;
  now?: () => number;
}

interface CacheEntry {
  expiresAtMs: number;
  context: Promise<ProcessContext | undefined>;
  /** The context once read, for callers that must not wait (see `known`). */
  settled?: { context: ProcessContext | undefined };
}

const DELETED_SUFFIX = ' (deleted)';

async function readOptional(read: () => Promise<string>): Promise<string | undefined> {
  try {
    return await read();
  } catch {
    // Exited processes and processes of other users (without CAP_SYS_PTRACE) are expected; the field is just unknown.
    return undefined;
  }
}

export class ProcessContextReader {
  private readonly procRoot: string;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly cache = new Map<number, CacheEntry>();

  constructor(options: ProcessContextReaderOptions = {}) {
    this.procRoot = options.procRoot ?? '/proc';
    this.ttlMs = options.ttlMs ?? 30_000;
    this.maxEntries = options.maxEntries ?? 8192;
    this.now = options.now ?? Date.now;
  }

  /** The process's context, or undefined when /proc/PID does not exist (the process has exited). Never rejects. */
  lookup(pid: number): Promise<ProcessContext | undefined> {
    const nowMs = this.now();
    const cached = this.cache.get(pid);
    if (cached && cached.expiresAtMs > nowMs) return cached.context;
    if (cached) this.cache.delete(pid);
    const context = this.read(pid);
    const entry: CacheEntry = { expiresAtMs: nowMs + this.ttlMs, context };
    void context.then((value) => (entry.settled = { context: value }));
    this.cache.set(pid, entry);
    if (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    return context;
  }

  /**
   * The context `lookup` would give, when it is already read and still fresh: no promise, no wait. Undefined when
   * the pid must be looked up (first sight, expired, or its read still under way).
   */
  known(pid: number): { context: ProcessContext | undefined } | undefined {
    const cached = this.cache.get(pid);
    return cached && cached.expiresAtMs > this.now() ? cached.settled : undefined;
  }

  /** Drops a pid from the cache, e.g. when the capture stage reports the process exited. */
  forget(pid: number): void {
    this.cache.delete(pid);
  }

  private async read(pid: number): Promise<ProcessContext | undefined> {
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    const dir = path.join(this.procRoot, String(pid));
    const [exeLink, cmdline, comm, cgroup] = await Promise.all([
      readOptional(() => fs.readlink(path.join(dir, 'exe'))),
      readOptional(() => fs.readFile(path.join(dir, 'cmdline'), 'utf8')),
      readOptional(() => fs.readFile(path.join(dir, 'comm'), 'utf8')),
      readOptional(() => fs.readFile(path.join(dir, 'cgroup'), 'utf8')),
    ]);
    if (exeLink === undefined && cmdline === undefined && comm === undefined && cgroup === undefined) return undefined;

    const executablePath = exeLink?.endsWith(DELETED_SUFFIX) ? exeLink.slice(0, -DELETED_SUFFIX.length) : exeLink;
    const commName = comm?.replace(/\n$/, '') || undefined;
    // cmdline is NUL-separated argv with a trailing NUL; kernel threads have an empty one.
    const argv = cmdline?.split('\0').filter((arg, index, all) => !(arg === '' && index === all.length - 1)) ?? [];
    const identity = cgroup === undefined ? {} : parseCgroupIdentity(cgroup);
    const context: ProcessContext = {
      pid,
      executableName: executablePath ? path.basename(executablePath) : (commName ?? String(pid)),
    };
    if (executablePath) context.executablePath = executablePath;
    // Command lines can carry keys (`--api-key=...`, `-H "api-key: ..."`, a JSON argument); credentials never leave the sensor.
    if (argv.length > 0) context.commandLine = scrubCommandLine(argv.join(' '));
    if (commName) context.comm = commName;
    if (identity.containerId) context.containerId = identity.containerId;
    if (identity.podUid) context.podUid = identity.podUid;
    return context;
  }
}
