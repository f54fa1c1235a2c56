import * as zlib from 'node:zlib';
import { newHttpDecodeStats } from '../../sensor/http/connection-decoder';
import { decodeContentEncoding } from '../../sensor/http/content-encoding';

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
    // Peak resident memory only grows, so it also catches a transient allocation inside the synchronous call.
    const peakKiBBefore = process.resourceUsage().maxRSS;
    const stats = newHttpDecodeStats();
    const result = decodeContentEncoding(bomb, 'gzip', { maxDecompressedBytes: limit, stats });
    const peakGrowthBytes = (process.resourceUsage().maxRSS - peakKiBBefore) * 1024;
    expect(result.status).toBe('limit-hit');
    expect(result.truncated).toBe(true);
    expect(result.body.length).toBeLessThanOrEqual(limit);
    expect(result.body.length).toBeGreaterThan(limit / 2);
    expect(result.body.every((byte) => byte === 0)).toBe(true);
    expect(stats).toMatchObject({ decompressionLimitHits: 1, decompressionErrors: 0 });
    // Unbounded inflation would need 1 GiB; a few times the limit covers zlib's own working buffers.
    expect(peakGrowthBytes).toBeLessThan(8 * limit);
  });

  it('stops a 1 GiB brotli bomb nested in gzip at the limit', async () => {
    const brotliBomb = await zeroBomb(zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } }), 1024 * 1024 * 1024);
    const result = decode(zlib.gzipSync(brotliBomb), 'br, gzip', 1024 * 1024);
    expect(result.status).toBe('limit-hit');
    expect(result.body.length).toBeLessThanOrEqual(1024 * 1024);
    expect(result.stats.decompressionLimitHits).toBe(1);
  });
});
