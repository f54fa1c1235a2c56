/**
 * Finds the files that contain OpenSSL's TLS functions: libssl.so* and executables that export them (node).
 * Uprobes attach to a file (device+inode), so each file is examined once, whichever process maps it,
 * and reached through /proc/PID/root so files inside containers are covered too.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
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
  /** File offsets of the TLS functions this file defines. */
  offsets: Partial<Record<TlsFunction, number>>;
}

export type SymbolFinder = (filePath: string, names: string[]) => Record<string, number>;

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
  ) {}

  private excluded(filePath: string): boolean {
    return this.excludedPrefixes.some((prefix) => filePath.startsWith(prefix));
  }

  /** Every process on the host. Returns the TLS files not seen before. */
  scanAllProcesses(): TlsLibraryFile[] {
    const found: TlsLibraryFile[] = [];
    let entries: string[];
    try {
      entries = fs.readdirSync(this.procRoot);
    } catch (error) {
      this.onError(`cannot list ${this.procRoot}: ${(error as Error).message}`);
      return found;
    }
    for (const entry of entries) {
      if (/^\d+$/.test(entry)) found.push(...this.scanProcess(Number(entry)));
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
    const file = hasPair ? { fileKey, attachPath, displayPath, offsets } : null;
    this.examined.set(fileKey, file);
    return file;
  }

}

/** The same identity /proc/PID/maps prints: major:minor in hex, then the inode. */
export function fileKeyOf(stat: fs.Stats): string {
  const major = (stat.dev >> 8) & 0xfff;
  const minor = (stat.dev & 0xff) | ((stat.dev >> 12) & 0xfff00);
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${stat.ino}`;
}
