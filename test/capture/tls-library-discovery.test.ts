import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TlsLibraryDiscovery, type SymbolFinder } from '../../sensor/capture/tls-library-discovery';

// A /proc stand-in: <pid>/maps files written by the test; the symbol finder answers by path instead of reading ELF.
let procRoot: string;
beforeEach(() => {
  procRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-proc-'));
});
afterEach(() => fs.rmSync(procRoot, { recursive: true, force: true }));

const TLS_OFFSETS = { SSL_write: 0x1000, SSL_read: 0x2000, SSL_write_ex: 0x1100, SSL_read_ex: 0x2100 };

function writeMaps(pid: number, lines: string[]): void {
  fs.mkdirSync(path.join(procRoot, String(pid)), { recursive: true });
  fs.writeFileSync(path.join(procRoot, String(pid), 'maps'), lines.join('\n') + '\n');
}

const mapping = (device: string, inode: number, file: string, perms = 'r-xp') => `7f0000000000-7f0000001000 ${perms} 00000000 ${device} ${inode}          ${file}`;

function recordingFinder(): { finder: SymbolFinder; asked: string[] } {
  const asked: string[] = [];
  const finder: SymbolFinder = (filePath) => {
    asked.push(filePath);
    if (filePath.includes('broken')) throw new Error('not an ELF file');
    // libssl, and the deleted node executable (reached only through map_files), define the TLS functions.
    if (/libssl\.so|map_files/.test(filePath)) return { ...TLS_OFFSETS };
    return {};
  };
  return { finder, asked };
}

describe('TlsLibraryDiscovery over /proc', () => {
  beforeEach(() => {
    writeMaps(100, [mapping('fd:01', 11, '/usr/lib/libssl.so.3'), mapping('fd:01', 12, '/usr/lib/libc.so.6'), mapping('fd:01', 11, '/usr/lib/libssl.so.3', 'r--p')]);
    // A container: the same path, another file (other device and inode), reached through its own root.
    writeMaps(200, [mapping('00:2a', 11, '/usr/lib/libssl.so.3'), mapping('fd:01', 12, '/usr/lib/libc.so.6')]);
    writeMaps(300, [mapping('fd:01', 13, '/usr/bin/node (deleted)')]);
    writeMaps(400, [mapping('fd:01', 14, '/opt/excluded/libssl.so.1.1'), mapping('fd:01', 15, '/opt/broken/libssl-like.so')]);
    fs.mkdirSync(path.join(procRoot, 'self'));
  });

  it('examines each file once, through the owning process, and keeps the ones with the TLS pair', () => {
    const { finder, asked } = recordingFinder();
    const errors: string[] = [];
    const discovery = new TlsLibraryDiscovery(finder, procRoot, (message) => errors.push(message), ['/opt/excluded']);
    const found = discovery.scanAllProcesses();
    expect(found.map((file) => [file.fileKey, file.attachPath, file.displayPath])).toEqual([
      ['fd:01:11', `${procRoot}/100/root/usr/lib/libssl.so.3`, '/usr/lib/libssl.so.3'],
      ['00:2a:11', `${procRoot}/200/root/usr/lib/libssl.so.3`, '/usr/lib/libssl.so.3'],
      // A deleted file is still reachable through map_files.
      ['fd:01:13', `${procRoot}/300/map_files/7f0000000000-7f0000001000`, '/usr/bin/node'],
    ]);
    expect(found[0].offsets).toEqual(TLS_OFFSETS);
    // libc once (it has no TLS functions, and that is remembered), the excluded file never.
    expect(asked.filter((p) => p.endsWith('libc.so.6'))).toHaveLength(1);
    expect(asked.some((p) => p.includes('/opt/excluded'))).toBe(false);
    expect(errors).toEqual([expect.stringContaining('cannot read symbols of /opt/broken/libssl-like.so: not an ELF file')]);

    // A second scan finds nothing new and reads no symbols again, except the file that failed (it may be readable now).
    asked.length = 0;
    expect(discovery.scanAllProcesses()).toEqual([]);
    expect(asked).toEqual([`${procRoot}/400/root/opt/broken/libssl-like.so`]);
  });

  it('finds the same files in the background scan, and a new process after it', async () => {
    const { finder } = recordingFinder();
    const discovery = new TlsLibraryDiscovery(finder, procRoot, undefined, ['/opt/excluded']);
    const found = await discovery.scanAllProcessesInBackground();
    expect(found.map((file) => file.fileKey).sort()).toEqual(['00:2a:11', 'fd:01:11', 'fd:01:13']);
    writeMaps(500, [mapping('fd:01', 16, '/usr/local/lib/libssl.so.3'), mapping('fd:01', 11, '/usr/lib/libssl.so.3')]);
    expect((await discovery.scanAllProcessesInBackground()).map((file) => file.fileKey)).toEqual(['fd:01:16']);
  });

  it('never hands out a file twice when a scan after exec runs while a background scan is reading', async () => {
    for (let pid = 1000; pid < 1100; pid++) writeMaps(pid, [mapping('fd:01', 20, '/usr/lib/libssl.so.3.0')]);
    const { finder, asked } = recordingFinder();
    const discovery = new TlsLibraryDiscovery(finder, procRoot);
    const background = discovery.scanAllProcessesInBackground();
    const afterExec = discovery.scanProcess(1050);
    const all = [...afterExec, ...(await background)];
    expect(all.filter((file) => file.fileKey === 'fd:01:20')).toHaveLength(1);
    expect(asked.filter((p) => p.endsWith('libssl.so.3.0'))).toHaveLength(1);
  });

  it('reports a /proc it cannot list and finds nothing, without throwing', async () => {
    const errors: string[] = [];
    const discovery = new TlsLibraryDiscovery(recordingFinder().finder, path.join(procRoot, 'missing'), (message) => errors.push(message));
    expect(discovery.scanAllProcesses()).toEqual([]);
    expect(await discovery.scanAllProcessesInBackground()).toEqual([]);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^cannot list .*missing: ENOENT/);
  });
});

describe('Go executables', () => {
  const goProbes = { goVersion: 'go1.19.8', functionsFrom: 'pclntab' as const, connLayoutRow: 1, writeBody: 0x100, readBody: 0x200, readReturns: [0x280, 0x2c0], readArgumentsSpilled: true };

  it('keeps a Go executable using crypto/tls (no OpenSSL functions), says once why an unprobeable one is left out, and asks about each file once', () => {
    writeMaps(600, [mapping('fd:01', 30, '/usr/local/bin/llm-gateway'), mapping('fd:01', 31, '/opt/old-go-service'), mapping('fd:01', 12, '/usr/lib/libc.so.6')]);
    writeMaps(601, [mapping('00:2b', 30, '/app/agent'), mapping('fd:01', 31, '/opt/old-go-service')]);
    const inspected: string[] = [];
    const unsupported: string[] = [];
    const inspectGo = (filePath: string) => {
      inspected.push(filePath);
      if (filePath.endsWith('old-go-service')) throw new Error('built by go1.16.15: Go before 1.17 has no register ABI, which the Go probes read');
      return /llm-gateway|agent/.test(filePath) ? goProbes : null;
    };
    const discovery = new TlsLibraryDiscovery(recordingFinder().finder, procRoot, undefined, [], inspectGo, (message) => unsupported.push(message));
    const found = discovery.scanAllProcesses();
    // The container's executable is another file (its own device), reached through its process's root.
    expect(found.map((file) => [file.fileKey, file.attachPath, file.go?.goVersion, file.offsets])).toEqual([
      ['fd:01:30', `${procRoot}/600/root/usr/local/bin/llm-gateway`, 'go1.19.8', {}],
      ['00:2b:30', `${procRoot}/601/root/app/agent`, 'go1.19.8', {}],
    ]);
    expect(unsupported).toEqual(['Go executable /opt/old-go-service is not probed: built by go1.16.15: Go before 1.17 has no register ABI, which the Go probes read']);
    expect(inspected.filter((p) => p.endsWith('old-go-service'))).toHaveLength(1);
    expect(discovery.scanAllProcesses()).toEqual([]);
    expect(unsupported).toHaveLength(1);
  });

  it('keeps both sets of functions of a file that has OpenSSL and Go crypto/tls', () => {
    writeMaps(700, [mapping('fd:01', 40, '/usr/lib/libssl.so.3')]);
    const discovery = new TlsLibraryDiscovery(recordingFinder().finder, procRoot, undefined, [], () => goProbes);
    const [file] = discovery.scanAllProcesses();
    expect(file.offsets).toEqual(TLS_OFFSETS);
    expect(file.go).toEqual(goProbes);
  });
});
