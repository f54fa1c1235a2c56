import { mkdtempSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ProcessContextReader } from '../../sensor/pipeline/enrich/process';

const CONTAINER_ID = 'c0ffee'.padEnd(64, '1');

describe('ProcessContextReader', () => {
  let fixtureRoot: string;

  beforeAll(() => {
    fixtureRoot = mkdtempSync(path.join(tmpdir(), 'sightline-proc-'));
  });
  afterAll(() => rmSync(fixtureRoot, { recursive: true, force: true }));

  function writeProcess(pid: number, files: { exe?: string; cmdline?: string; comm?: string; cgroup?: string }): void {
    const dir = path.join(fixtureRoot, String(pid));
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    if (files.exe) symlinkSync(files.exe, path.join(dir, 'exe'));
    if (files.cmdline !== undefined) writeFileSync(path.join(dir, 'cmdline'), files.cmdline);
    if (files.comm !== undefined) writeFileSync(path.join(dir, 'comm'), files.comm);
    if (files.cgroup !== undefined) writeFileSync(path.join(dir, 'cgroup'), files.cgroup);
  }

  it('reads the test process itself from the real /proc', async () => {
    const context = await new ProcessContextReader().lookup(process.pid);
    const exe = readlinkSync(`/proc/${process.pid}/exe`);
    const argv = readFileSync(`/proc/${process.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    expect(context).toBeDefined();
    expect(context!.pid).toBe(process.pid);
    expect(context!.executablePath).toBe(exe);
    expect(context!.executableName).toBe(path.basename(exe));
    expect(context!.commandLine).toBe(argv.join(' '));
    expect(context!.comm).toBe(readFileSync(`/proc/${process.pid}/comm`, 'utf8').trim());
  });

  it('reads a fixture tree: executable, argv, comm and container id', async () => {
    writeProcess(4242, {
      exe: '/usr/local/bin/python3.12 (deleted)',
      cmdline: ['python3', '-m', 'app.main', '--port', '8080', ''].join('\0'),
      comm: 'python3\n',
      cgroup: `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod11111111_2222_3333_4444_555555555555.slice/cri-containerd-${CONTAINER_ID}.scope\n`,
    });
    const context = await new ProcessContextReader({ procRoot: fixtureRoot }).lookup(4242);
    expect(context).toEqual({
      pid: 4242,
      executableName: 'python3.12',
      executablePath: '/usr/local/bin/python3.12',
      commandLine: 'python3 -m app.main --port 8080',
      comm: 'python3',
      containerId: CONTAINER_ID,
      podUid: '11111111-2222-3333-4444-555555555555',
    });
  });

  it('falls back to comm when exe cannot be read (another user, no CAP_SYS_PTRACE)', async () => {
    writeProcess(4243, { comm: 'java\n', cmdline: '' });
    const context = await new ProcessContextReader({ procRoot: fixtureRoot }).lookup(4243);
    expect(context).toEqual({ pid: 4243, executableName: 'java', comm: 'java' });
  });

  it('returns undefined for a pid that does not exist, and for nonsense pids', async () => {
    const reader = new ProcessContextReader({ procRoot: fixtureRoot });
    await expect(reader.lookup(999999)).resolves.toBeUndefined();
    await expect(reader.lookup(-1)).resolves.toBeUndefined();
  });

  it('caches per pid until the entry expires', async () => {
    let nowMs = 1_000;
    const reader = new ProcessContextReader({ procRoot: fixtureRoot, ttlMs: 500, now: () => nowMs });
    writeProcess(4244, { exe: '/usr/bin/node', comm: 'node\n' });
    expect((await reader.lookup(4244))!.executableName).toBe('node');

    writeProcess(4244, { exe: '/usr/bin/ruby', comm: 'ruby\n' });
    nowMs += 499;
    expect((await reader.lookup(4244))!.executableName).toBe('node');
    nowMs += 1;
    expect((await reader.lookup(4244))!.executableName).toBe('ruby');
  });

  it('keeps at most maxEntries pids', async () => {
    const reader = new ProcessContextReader({ procRoot: fixtureRoot, maxEntries: 1 });
    writeProcess(4245, { exe: '/usr/bin/a' });
    writeProcess(4246, { exe: '/usr/bin/b' });
    await reader.lookup(4245);
    await reader.lookup(4246);
    writeProcess(4245, { exe: '/usr/bin/c' });
    expect((await reader.lookup(4245))!.executableName).toBe('c');
  });
});
