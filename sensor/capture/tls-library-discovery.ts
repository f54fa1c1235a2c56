/**
 * Finds the files that contain TLS functions the probes know: OpenSSL's (libssl.so*, executables that export them
 * like node, and static executables that carry them in their symbol table) and Go's crypto/tls (Go executables,
 * stripped or not). Uprobes attach to a file (device+inode), so each file is examined once, whichever process maps
 * it, and reached through /proc/PID/root so files inside containers are covered too.
 */
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { GoTlsProbes } from './go-executable';
import type { ProbeSites } from './openssl-probe-sites';
import { parseExecutableMappings } from './proc-maps';

/** The functions the TLS probes need; a file must export the read and write pair to be worth attaching. */
export const TLS_FUNCTIONS = ['SSL_write', 'SSL_write_ex', 'SSL_read', 'SSL_read_ex', 'SSL_free', 'SSL_set_fd'] as const;
export type TlsFunction = (typeof TLS_FUNCTIONS)[number];

export interface TlsLibraryFile {
  fileKey: string;
  /** A path the sensor can open and attach to (through /proc/PID/root for other mount namespaces). */
  attachPath: string;
  /** The path as the owning process sees it, for logs. */
  displayPath: string;
  /** File offsets of the OpenSSL functions this file defines (empty for a Go executable without them). */
  offsets: Partial<Record<TlsFunction, number>>;
  /**
   * Where the probes go when not on those functions' own entries (openssl-probe-sites.ts): a wrapper's probe on the
   * internal function it calls, and no probe for a function that calls it too.
   */
  probeSites?: Partial<Record<TlsFunction, number>>;
  /** The functions whose probes moved to the internal function they wrap. */
  internalSites?: TlsFunction[];
  /** A Go executable using crypto/tls: where its probes go. */
  go?: GoTlsProbes;
}

/** Maps files read at once by a background rescan: enough to keep libuv's threads busy, few enough to stay light. */
const CONCURRENT_MAPS_READS = 16;

export type SymbolFinder = (filePath: string, names: string[]) => Record<string, number>;

/** The Go probes of a file, null when it is no Go executable using crypto/tls; throws when it is one that cannot be probed. */
export type GoInspector = (filePath: string) => GoTlsProbes | null;

/** Where the OpenSSL probes of a file go, given its functions' offsets. */
export type ProbeSitePlanner = (filePath: string, offsets: Partial<Record<TlsFunction, number>>) => ProbeSites;

/** Host library folders scanned at start, so the first process that loads libssl is already covered. */
export const DEFAULT_LIBRARY_DIRS = ['/lib', '/lib64', '/usr/lib', '/usr/lib64', '/usr/local/lib', '/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu'];

export class TlsLibraryDiscovery {
  /** fileKey -> the file, or null when it was examined and has no TLS functions. */
  private readonly examined = new Map<string, TlsLibraryFile | null>();

  constructor(
    private readonly findSymbols: SymbolFinder,
    private readonly procRoot = '/proc',
    private readonly onError: (message: string) => void = () => undefined,
    /** Files under these path prefixes are never attached (as the owning process sees the path). */
    private readonly excludedPrefixes: string[] = [],
    private readonly inspectGo?: GoInspector,
    /** A file that has TLS functions but cannot be probed (e.g. a Go executable too old): said once per file. */
    private readonly onUnsupported: (message: string) => void = onError,
    private readonly planProbeSites?: ProbeSitePlanner,
  ) {}

  private excluded(filePath: string): boolean {
    return this.excludedPrefixes.some((prefix) => filePath.startsWith(prefix));
  }

  /** Every process on the host, synchronously (at start, before the sensor reports ready). Returns the TLS files not seen before. */
  scanAllProcesses(): TlsLibraryFile[] {
    let entries: string[];
    try {
      entries = fs.readdirSync(this.procRoot);
    } catch (error) {
      this.onError(`cannot list ${this.procRoot}: ${(error as Error).message}`);
      return [];
    }
    const found: TlsLibraryFile[] = [];
    for (const pid of pidsIn(entries)) found.push(...this.scanProcess(pid));
    return found;
  }

  /**
   * Every process on the host, for the periodic rescan: the maps files are read a few at a time by libuv's
   * threads, so a node with a thousand processes (tens of milliseconds of /proc reads) never stalls the event loop
   * that drains the capture ring. Returns the TLS files not seen before.
   */
  async scanAllProcessesInBackground(): Promise<TlsLibraryFile[]> {
    let pids: number[];
    try {
      pids = pidsIn(await fsp.readdir(this.procRoot));
    } catch (error) {
      this.onError(`cannot list ${this.procRoot}: ${(error as Error).message}`);
      return [];
    }
    const found: TlsLibraryFile[] = [];
    for (let i = 0; i < pids.length; i += CONCURRENT_MAPS_READS) {
      const slice = pids.slice(i, i + CONCURRENT_MAPS_READS);
      const maps = await Promise.all(slice.map((pid) => fsp.readFile(`${this.procRoot}/${pid}/maps`, 'utf8').catch(() => undefined)));
      // Checking and recording examined files happens synchronously after the read, so a scan after exec that
      // runs in between never examines (and attaches) the same file twice.
      maps.forEach((text, j) => {
        if (text !== undefined) found.push(...this.scanMaps(slice[j], text));
      });
    }
    return found;
  }

  /** One process (after exec, or on a rescan). Returns the TLS files not seen before. */
  scanProcess(pid: number): TlsLibraryFile[] {
    let maps: string;
    try {
      maps = fs.readFileSync(`${this.procRoot}/${pid}/maps`, 'utf8');
    } catch {
      return []; // the process is gone, or a kernel thread: nothing to attach
    }
    return this.scanMaps(pid, maps);
  }

  private scanMaps(pid: number, maps: string): TlsLibraryFile[] {
    const found: TlsLibraryFile[] = [];
    for (const mapping of parseExecutableMappings(maps)) {
      if (this.examined.has(mapping.fileKey) || this.excluded(mapping.path)) continue;
      // The process's root shows containers' files; map_files still reaches a file deleted since it was mapped.
      const attachPath = mapping.deleted
        ? `${this.procRoot}/${pid}/map_files/${mapping.range}`
        : `${this.procRoot}/${pid}/root${mapping.path}`;
      const file = this.examine(mapping.fileKey, attachPath, mapping.path);
      if (file) found.push(file);
    }
    return found;
  }

  /** Files in host folders (libssl.so*) and named executables, whether or not a process uses them yet. */
  scanPaths(dirs: string[], executables: string[] = []): TlsLibraryFile[] {
    const candidates: string[] = [...executables];
    for (const dir of dirs) {
      let names: string[];
      try {
        names = fs.readdirSync(dir);
      } catch {
        continue;
      }
      for (const name of names) if (/^libssl\.so(\.|$)/.test(name)) candidates.push(path.join(dir, name));
    }
    const found: TlsLibraryFile[] = [];
    for (const candidate of candidates) {
      let stat: fs.Stats;
      try {
        stat = fs.statSync(candidate);
      } catch {
        continue;
      }
      if (!stat.isFile() || this.excluded(candidate)) continue;
      const fileKey = fileKeyOf(stat);
      if (this.examined.has(fileKey)) continue;
      const file = this.examine(fileKey, candidate, candidate);
      if (file) found.push(file);
    }
    return found;
  }

  private examine(fileKey: string, attachPath: string, displayPath: string): TlsLibraryFile | null {
    let offsets: Record<string, number>;
    try {
      offsets = this.findSymbols(attachPath, [...TLS_FUNCTIONS]);
    } catch (error) {
      // Not cached: the file may be readable on the next scan (e.g. a process that was still starting).
      this.onError(`cannot read symbols of ${displayPath}: ${(error as Error).message}`);
      return null;
    }
    const hasPair = offsets.SSL_write !== undefined && offsets.SSL_read !== undefined;
    let go: GoTlsProbes | null = null;
    try {
      go = this.inspectGo?.(attachPath) ?? null;
    } catch (error) {
      this.onUnsupported(`Go executable ${displayPath} is not probed: ${(error as Error).message}`);
    }
    const sites = hasPair && this.planProbeSites ? this.planProbeSites(attachPath, offsets) : { offsets, internal: [] };
    const moved = sites.internal.length > 0 ? { probeSites: sites.offsets, internalSites: sites.internal } : {};
    const file: TlsLibraryFile | null = hasPair || go ? { fileKey, attachPath, displayPath, offsets: hasPair ? offsets : {}, ...moved, ...(go ? { go } : {}) } : null;
    this.examined.set(fileKey, file);
    return file;
  }

}

function pidsIn(procEntries: string[]): number[] {
  return procEntries.filter((entry) => /^\d+$/.test(entry)).map(Number);
}

/** The same identity /proc/PID/maps prints: major:minor in hex, then the inode. */
export function fileKeyOf(stat: fs.Stats): string {
  const major = (stat.dev >> 8) & 0xfff;
  const minor = (stat.dev & 0xff) | ((stat.dev >> 12) & 0xfff00);
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${stat.ino}`;
}
