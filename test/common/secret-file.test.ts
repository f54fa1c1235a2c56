import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readToken, readTokenDirectory, SecretFileError, watchToken, watchTokenDirectory } from '../../sensor/common/secret-file';

const TOKEN_A = 'a'.repeat(24);
const TOKEN_B = 'b'.repeat(24);

describe('credential files', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-secret-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads a token without its trailing newline', () => {
    fs.writeFileSync(path.join(dir, 'token'), `${TOKEN_A}\n`);
    expect(readToken(path.join(dir, 'token'), 'exporters.otlp.auth.tokenFile')).toBe(TOKEN_A);
  });

  it('names the key and the path, never the content, when a token is unusable', () => {
    const file = path.join(dir, 'token');
    expect(() => readToken(file, 'exporters.otlp.auth.tokenFile')).toThrow(new SecretFileError(`exporters.otlp.auth.tokenFile: cannot read ${file} (ENOENT); mount the secret there or fix the path`));
    fs.writeFileSync(file, 'short-secret\n');
    expect(() => readToken(file, 'exporters.otlp.auth.tokenFile')).toThrow(/exporters\.otlp\.auth\.tokenFile: .* holds a token of 12 characters; use at least 16/);
    fs.writeFileSync(file, 'two words that are long enough');
    let error: Error | undefined;
    try {
      readToken(file, 'k');
    } catch (caught) {
      error = caught as Error;
    }
    expect(error?.message).toMatch(/printable ASCII/);
    expect(error?.message).not.toContain('two words');
  });

  it('reads one token per file of a Kubernetes Secret volume, skipping its ..data links', () => {
    // The layout the kubelet writes: real files under a timestamped folder, `..data` pointing at it, keys linking through it.
    const version = path.join(dir, '..2026_01_01_00_00_00.1');
    fs.mkdirSync(version);
    fs.writeFileSync(path.join(version, 'payments'), TOKEN_A);
    fs.writeFileSync(path.join(version, 'payments.previous'), TOKEN_B);
    fs.symlinkSync(path.basename(version), path.join(dir, '..data'));
    fs.symlinkSync('..data/payments', path.join(dir, 'payments'));
    fs.symlinkSync('..data/payments.previous', path.join(dir, 'payments.previous'));
    expect(readTokenDirectory(dir, 'receiver.auth.tokensDir')).toEqual(new Map([['payments', TOKEN_A], ['payments.previous', TOKEN_B]]));
  });

  it('reads an empty directory as no accepted token, and a missing one as an error', () => {
    expect(readTokenDirectory(dir, 'receiver.auth.tokensDir')).toEqual(new Map());
    expect(() => readTokenDirectory(path.join(dir, 'nope'), 'receiver.auth.tokensDir')).toThrow(`receiver.auth.tokensDir: cannot list ${path.join(dir, 'nope')} (ENOENT)`);
  });

  it('takes a rotated token once it changed on disk, and keeps the last good one through a bad write', () => {
    const file = path.join(dir, 'token');
    fs.writeFileSync(file, TOKEN_A);
    let nowMs = 0;
    const reloadErrors: string[] = [];
    const token = watchToken(file, 'exporters.otlp.auth.tokenFile', { recheckMs: 1000, now: () => nowMs, onReloadError: (error) => reloadErrors.push(error.message) });
    expect(token.current()).toBe(TOKEN_A);

    fs.writeFileSync(file, TOKEN_B);
    expect(token.current()).toBe(TOKEN_A); // not looked at again yet
    nowMs = 1000;
    expect(token.current()).toBe(TOKEN_B);

    fs.writeFileSync(file, 'half');
    nowMs = 2000;
    expect(token.current()).toBe(TOKEN_B);
    expect(reloadErrors).toEqual([expect.stringMatching(/holds a token of 4 characters/)]);

    fs.writeFileSync(file, `${TOKEN_A}\n`);
    nowMs = 3000;
    expect(token.current()).toBe(TOKEN_A);
  });

  it('follows a Secret volume when the kubelet swaps ..data to a new version', () => {
    const first = path.join(dir, '..v1');
    fs.mkdirSync(first);
    fs.writeFileSync(path.join(first, 'payments'), TOKEN_A);
    fs.symlinkSync('..v1', path.join(dir, '..data'));
    fs.symlinkSync('..data/payments', path.join(dir, 'payments'));
    const tokens = watchTokenDirectory(dir, 'receiver.auth.tokensDir', { recheckMs: 0 });
    expect([...tokens.current()]).toEqual([['payments', TOKEN_A]]);

    const second = path.join(dir, '..v2');
    fs.mkdirSync(second);
    fs.writeFileSync(path.join(second, 'payments'), TOKEN_B);
    fs.writeFileSync(path.join(second, 'payments.previous'), TOKEN_A);
    fs.symlinkSync('..v2', path.join(dir, '..data_tmp'));
    fs.renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    fs.symlinkSync('..data/payments.previous', path.join(dir, 'payments.previous'));
    expect([...tokens.current()]).toEqual([['payments', TOKEN_B], ['payments.previous', TOKEN_A]]);
  });
});
