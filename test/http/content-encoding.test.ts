import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { newHttpDecodeStats } from '../../sensor/http/connection-decoder';
import { MAX_CONTENT_CODINGS, decodeContentEncoding } from '../../sensor/http/content-encoding';

const plain = Buffer.from('{"choices":[{"delta":{"content":"hello"}}]}\n'.repeat(200));

function decode(body: Buffer, encoding: string | undefined, maxDecompressedBytes = 1024 * 1024, inputTruncated = false) {
  const stats = newHttpDecodeStats();
  return { ...decodeContentEncoding(body, encoding, { maxDecompressedBytes, stats, inputTruncated }), stats };
}

/** Compresses `totalBytes` of zeros through a zlib stream, so the plain data never exists in memory at once. */
async function zeroBomb(compressor: zlib.Gzip | zlib.BrotliCompress, totalBytes: number): Promise<Buffer> {
  const output: Buffer[] = [];
  compressor.on('data', (chunk: Buffer) => output.push(chunk));
  const done = new Promise((resolve) => compressor.on('end', resolve));
  const block = Buffer.alloc(1024 * 1024);
  for (let written = 0; written < totalBytes; written += block.length) {
    if (!compressor.write(block)) await new Promise((resolve) => compressor.once('drain', resolve));
  }
  compressor.end();
  await done;
  return Buffer.concat(output);
}

const CONTENT_ENCODING_MODULE = path.resolve(__dirname, '../../sensor/http/content-encoding.ts');

/** Runs the child's script, which prints JSON, in a fresh Node process that loads TypeScript through tsx. */
function runInChildProcess(script: string, args: string[]): Record<string, unknown> {
  const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', script, ...args], { encoding: 'utf8', timeout: 60_000 });
  if (child.status !== 0) throw new Error(`child process failed (${child.status ?? child.signal}): ${child.stderr}`);
  return JSON.parse(child.stdout) as Record<string, unknown>;
}

/**
 * Decodes `body` in a fresh process and reports how much its peak resident memory grew during the call. Peak
 * RSS only ever rises, so it is measured where nothing before the call (this test's own bomb building) set it.
 */
function decodeMeasuringPeakMemory(body: Buffer, encoding: string, maxDecompressedBytes: number): Record<string, unknown> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-bomb-'));
  try {
    const bodyFile = path.join(dir, 'body');
    fs.writeFileSync(bodyFile, body);
    const script = `
      const fs = require('node:fs');
      const { decodeContentEncoding } = require(process.argv[1]);
      const body = fs.readFileSync(process.argv[2]);
      const stats = { exchanges: 0, ignoredExchanges: 0, malformed: 0, bodiesTruncated: 0, decompressionLimitHits: 0, decompressionErrors: 0 };
      const peakKiBBefore = process.resourceUsage().maxRSS;
      const result = decodeContentEncoding(body, process.argv[3], { maxDecompressedBytes: Number(process.argv[4]), stats });
      const peakGrowthBytes = (process.resourceUsage().maxRSS - peakKiBBefore) * 1024;
      process.stdout.write(JSON.stringify({
        status: result.status, truncated: result.truncated, length: result.body.length,
        allZero: result.body.every((byte) => byte === 0), stats, peakGrowthBytes,
      }));`;
    return runInChildProcess(script, [CONTENT_ENCODING_MODULE, bodyFile, encoding, String(maxDecompressedBytes)]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('decodeContentEncoding', () => {
  it.each([
    ['gzip', zlib.gzipSync(plain)],
    ['x-gzip', zlib.gzipSync(plain)],
    ['GZIP', zlib.gzipSync(plain)],
    ['deflate', zlib.deflateSync(plain)],
    ['deflate', zlib.deflateRawSync(plain)],
    ['br', zlib.brotliCompressSync(plain)],
    ['gzip, br', zlib.brotliCompressSync(zlib.gzipSync(plain))],
    ['deflate,gzip', zlib.gzipSync(zlib.deflateSync(plain))],
    ['identity, gzip', zlib.gzipSync(plain)],
  ])('decodes %s', (encoding, body) => {
    const result = decode(body, encoding);
    expect(result.status).toBe('decoded');
    expect(result.truncated).toBe(false);
    expect(result.body.equals(plain)).toBe(true);
  });

  it(`undoes up to ${MAX_CONTENT_CODINGS} stacked codings and keeps a body with more as captured`, () => {
    let stacked = plain;
    for (let i = 0; i < MAX_CONTENT_CODINGS; i++) stacked = zlib.gzipSync(stacked);
    const atLimit = decode(stacked, Array(MAX_CONTENT_CODINGS).fill('gzip').join(', '));
    expect(atLimit.status).toBe('decoded');
    expect(atLimit.body.equals(plain)).toBe(true);

    const overLimit = zlib.gzipSync(stacked);
    const result = decode(overLimit, Array(MAX_CONTENT_CODINGS + 1).fill('gzip').join(', '));
    expect(result).toMatchObject({ status: 'unknown-encoding', truncated: false });
    expect(result.body).toBe(overLimit);
    expect(result.reason).toContain(`more than ${MAX_CONTENT_CODINGS} codings`);
    // identity is not a coding to undo and does not count.
    expect(decode(stacked, ['identity', ...Array(MAX_CONTENT_CODINGS).fill('gzip'), 'identity'].join(',')).status).toBe('decoded');
  });

  it('turns a header listing tens of thousands of codings away at once', () => {
    const body = zlib.brotliCompressSync(plain);
    const header = Array(87_000).fill('br').join(',');
    const started = process.hrtime.bigint();
    const result = decode(body, header);
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    expect(result.status).toBe('unknown-encoding');
    expect(result.reason!.length).toBeLessThan(200);
    expect(result.stats.decompressionErrors).toBe(0);
    expect(elapsedMs).toBeLessThan(250);
  });

  it('decodes raw deflate whose first bytes happen to form a valid zlib header', () => {
    // A stored block that is not the last, with a padding bit set: 0x78 0x01 is also a zlib header (RFC 1950).
    const storedBlock = Buffer.from([0x78, 0x01, 0x00, 0xfe, 0xff, 'h'.charCodeAt(0)]);
    const body = Buffer.concat([storedBlock, zlib.deflateRawSync(Buffer.from('ello, raw deflate'))]);
    expect(zlib.inflateRawSync(body).toString()).toBe('hello, raw deflate');
    const result = decode(body, 'deflate');
    expect(result.status).toBe('decoded');
    expect(result.body.toString()).toBe('hello, raw deflate');
  });

  it('decodes concatenated gzip members', () => {
    const result = decode(Buffer.concat([zlib.gzipSync(plain), zlib.gzipSync(Buffer.from('tail'))]), 'gzip');
    expect(result.body.toString()).toBe(`${plain.toString()}tail`);
  });

  it('returns bodies without a coding unchanged', () => {
    for (const encoding of [undefined, 'identity', '']) {
      const result = decode(plain, encoding);
      expect(result.status).toBe('identity');
      expect(result.body).toBe(plain);
    }
  });

  it('keeps an unknown coding as captured and says which', () => {
    const body = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3]);
    const result = decode(body, 'gzip, zstd');
    expect(result).toMatchObject({ status: 'unknown-encoding', truncated: false });
    expect(result.body).toBe(body);
    expect(result.reason).toContain('"zstd"');
    expect(result.stats.decompressionErrors).toBe(0);
  });

  it('keeps corrupt data as captured and counts it', () => {
    const corrupt = zlib.gzipSync(plain);
    corrupt[20] ^= 0xff;
    corrupt[21] ^= 0xff;
    for (const [body, encoding] of [[corrupt, 'gzip'], [Buffer.from('not compressed at all'), 'br'], [Buffer.from('plain'), 'deflate']] as const) {
      const result = decode(body, encoding);
      expect(result.status).toBe('corrupt');
      expect(result.body).toBe(body);
      expect(result.stats.decompressionErrors).toBe(1);
    }
  });

  it('treats a gzip stream without its end as corrupt unless the input is known to be cut', () => {
    const whole = zlib.gzipSync(plain);
    const cut = whole.subarray(0, Math.floor(whole.length / 2));
    expect(decode(cut, 'gzip').status).toBe('corrupt');
    const partial = decode(cut, 'gzip', 1024 * 1024, true);
    expect(partial.status).toBe('decoded');
    expect(partial.truncated).toBe(true);
    expect(partial.body.length).toBeGreaterThan(0);
    expect(plain.subarray(0, partial.body.length).equals(partial.body)).toBe(true);
  });

  it('cuts a small body at a tiny limit, keeping a prefix of the real content', () => {
    const result = decode(zlib.gzipSync(plain), 'gzip', 1000);
    expect(result).toMatchObject({ status: 'limit-hit', truncated: true });
    expect(result.body.length).toBeLessThanOrEqual(1000);
    expect(result.body.length).toBeGreaterThan(0);
    expect(plain.subarray(0, result.body.length).equals(result.body)).toBe(true);
    expect(result.stats.decompressionLimitHits).toBe(1);
  });

  it('stops a 1 GiB gzip bomb at the limit without allocating beyond it', async () => {
    const bomb = await zeroBomb(zlib.createGzip({ level: 1 }), 1024 * 1024 * 1024);
    const limit = 4 * 1024 * 1024;
    const result = decodeMeasuringPeakMemory(bomb, 'gzip', limit);
    expect(result).toMatchObject({ status: 'limit-hit', truncated: true, allZero: true, stats: { decompressionLimitHits: 1, decompressionErrors: 0 } });
    expect(result.length).toBeLessThanOrEqual(limit);
    expect(result.length).toBeGreaterThan(limit / 2);
    // Unbounded inflation would need 1 GiB. Bounded, the cut is found by up to 12 prefix probes, each of which may
    // leave a limit-sized output for the garbage collector: 13 limits at worst, plus zlib's working buffers.
    expect(result.peakGrowthBytes).toBeLessThan(16 * limit);
  });

  it('measures peak memory in a way that catches an unbounded decompression', async () => {
    // The same measurement around a plain gunzip of a 256 MiB bomb must see the growth.
    const bomb = await zeroBomb(zlib.createGzip({ level: 1 }), 256 * 1024 * 1024);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-bomb-'));
    try {
      const bodyFile = path.join(dir, 'body');
      fs.writeFileSync(bodyFile, bomb);
      const script = `
        const body = require('node:fs').readFileSync(process.argv[1]);
        const peakKiBBefore = process.resourceUsage().maxRSS;
        const length = require('node:zlib').gunzipSync(body).length;
        process.stdout.write(JSON.stringify({ length, peakGrowthBytes: (process.resourceUsage().maxRSS - peakKiBBefore) * 1024 }));`;
      const result = runInChildProcess(script, [bodyFile]);
      expect(result.length).toBe(256 * 1024 * 1024);
      expect(result.peakGrowthBytes).toBeGreaterThan(16 * 4 * 1024 * 1024);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops a 1 GiB brotli bomb nested in gzip at the limit', async () => {
    const brotliBomb = await zeroBomb(zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } }), 1024 * 1024 * 1024);
    const result = decode(zlib.gzipSync(brotliBomb), 'br, gzip', 1024 * 1024);
    expect(result.status).toBe('limit-hit');
    expect(result.body.length).toBeLessThanOrEqual(1024 * 1024);
    expect(result.stats.decompressionLimitHits).toBe(1);
  });
});
