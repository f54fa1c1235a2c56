/**
 * Content-Encoding decoding (gzip, deflate, br, stacked) of captured HTTP bodies, with a hard limit on the
 * decompressed size so a compression bomb costs at most `maxDecompressedBytes` of memory.
 */
import * as zlib from 'node:zlib';
import type { HttpDecodeStats } from './connection-decoder';

export type ContentDecodeStatus =
  /** No Content-Encoding, `identity`, or an empty body: nothing to do. */
  | 'identity'
  | 'decoded'
  /** Decoded, but the output was cut at `maxDecompressedBytes`. */
  | 'limit-hit'
  /** An encoding this sensor cannot decode; the body is returned exactly as captured. */
  | 'unknown-encoding'
  /** The compressed data is invalid; the body is returned exactly as captured. */
  | 'corrupt';

export interface ContentDecodeResult {
  body: Buffer;
  /** The returned body is a prefix of the real one (input already cut, or the decompression limit hit). */
  truncated: boolean;
  status: ContentDecodeStatus;
  /** What went wrong, for `unknown-encoding` and `corrupt`. */
  reason?: string;
}

export interface ContentDecodeOptions {
  maxDecompressedBytes: number;
  stats: HttpDecodeStats;
  /** The compressed input is itself a prefix (capture limit or gap): decode what is there without expecting an end. */
  inputTruncated?: boolean;
}

type Codec = 'gzip' | 'deflate' | 'br';

const CODEC_BY_TOKEN: Record<string, Codec | 'identity'> = {
  gzip: 'gzip',
  'x-gzip': 'gzip',
  deflate: 'deflate',
  br: 'br',
  identity: 'identity',
};

/**
 * Most codings undone for one body. Real servers apply one, rarely two; each coding costs a full decompression
 * up to the limit, so a header listing thousands of them (or a gzip quine under them) must not be followed.
 */
export const MAX_CONTENT_CODINGS = 5;

/** Binary-search steps when cutting a bomb to a prefix; bounds the CPU one oversized body can cost. */
const MAX_PREFIX_PROBES = 12;

class DecompressionLimitError extends Error {}

/** RFC 1950 header: CM = 8 (deflate), window ≤ 32 KiB, and the two header bytes a multiple of 31. */
function hasZlibHeader(data: Buffer): boolean {
  if (data.length < 2) return false;
  const cmf = data[0];
  const flg = data[1];
  return (cmf & 0x0f) === 8 && cmf >> 4 <= 7 && ((cmf << 8) | flg) % 31 === 0;
}

function decompressOnce(codec: Codec, input: Buffer, maxOutputLength: number, expectEnd: boolean): Buffer {
  try {
    if (codec === 'br') {
      const finishFlush = expectEnd ? zlib.constants.BROTLI_OPERATION_FINISH : zlib.constants.BROTLI_OPERATION_FLUSH;
      return zlib.brotliDecompressSync(input, { maxOutputLength, finishFlush });
    }
    const options: zlib.ZlibOptions = {
      maxOutputLength,
      finishFlush: expectEnd ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH,
    };
    if (codec === 'gzip') return zlib.gunzipSync(input, options);
    // Servers send both framings under the name `deflate` (RFC 9110 says zlib; many send raw).
    if (!hasZlibHeader(input)) return zlib.inflateRawSync(input, options);
    try {
      return zlib.inflateSync(input, options);
    } catch (zlibErr) {
      // A raw stream can start with bytes that pass the zlib header check (a stored block with a set padding bit).
      if (isOutputLimitError(zlibErr)) throw zlibErr;
      try {
        return zlib.inflateRawSync(input, options);
      } catch (rawErr) {
        throw isOutputLimitError(rawErr) ? rawErr : zlibErr;
      }
    }
  } catch (err) {
    if (isOutputLimitError(err)) throw new DecompressionLimitError();
    throw err;
  }
}

function isOutputLimitError(err: unknown): boolean {
  // Duck-typed: zlib's errors may come from another realm (jest's sandbox), where instanceof Error is false.
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
}

/**
 * The longest decodable output of an input prefix that stays within the limit. The one-shot zlib calls
 * discard everything once the limit is passed, so the cut point is found by probing input prefixes.
 */
function decompressPrefixWithinLimit(codec: Codec, input: Buffer, limit: number): Buffer {
  let best: Buffer = Buffer.alloc(0);
  let fits = 0;
  let tooBig = input.length;
  for (let probe = 0; probe < MAX_PREFIX_PROBES && tooBig - fits > 1; probe++) {
    const mid = fits + Math.floor((tooBig - fits) / 2);
    try {
      best = decompressOnce(codec, input.subarray(0, mid), limit, false);
      fits = mid;
    } catch (err) {
      if (!(err instanceof DecompressionLimitError)) break;
      tooBig = mid;
    }
  }
  return best;
}

function parseEncodings(contentEncoding: string): string[] {
  return contentEncoding
    .split(',')
    .map((token) => token.trim().toLowerCase())
    .filter((token) => token.length > 0);
}

/**
 * Decodes `body` by its Content-Encoding header value. Never throws: unknown or corrupt encodings return the
 * captured bytes unchanged and say why; a body that decodes beyond the limit is cut there and counted.
 */
export function decodeContentEncoding(
  body: Buffer,
  contentEncoding: string | undefined,
  options: ContentDecodeOptions,
): ContentDecodeResult {
  const inputTruncated = options.inputTruncated === true;
  const raw = (status: ContentDecodeStatus, reason?: string): ContentDecodeResult => ({ body, truncated: inputTruncated, status, reason });
  if (contentEncoding === undefined || body.length === 0) return raw('identity');

  const codecs: Codec[] = [];
  for (const token of parseEncodings(contentEncoding)) {
    const codec = CODEC_BY_TOKEN[token];
    if (codec === undefined) return raw('unknown-encoding', `content-encoding "${token}" is not supported; body kept as captured`);
    if (codec === 'identity') continue;
    if (codecs.length === MAX_CONTENT_CODINGS) {
      return raw('unknown-encoding', `content-encoding lists more than ${MAX_CONTENT_CODINGS} codings; body kept as captured`);
    }
    codecs.push(codec);
  }
  if (codecs.length === 0) return raw('identity');
  // Codings are listed in the order they were applied, so they are undone from last to first.
  codecs.reverse();

  const limit = Math.max(0, Math.floor(options.maxDecompressedBytes));
  let data = body;
  let truncated = inputTruncated;
  let limitHit = false;
  try {
    for (const codec of codecs) {
      try {
        data = decompressOnce(codec, data, limit, !truncated);
      } catch (err) {
        if (!(err instanceof DecompressionLimitError)) throw err;
        data = decompressPrefixWithinLimit(codec, data, limit);
        truncated = true;
        limitHit = true;
      }
    }
  } catch (err) {
    options.stats.decompressionErrors++;
    return raw('corrupt', `content-encoding "${contentEncoding}" could not be decoded (${(err as Error).message}); body kept as captured`);
  }
  if (limitHit) {
    options.stats.decompressionLimitHits++;
    return { body: data, truncated, status: 'limit-hit' };
  }
  return { body: data, truncated, status: 'decoded' };
}
