/** Malformed, truncated and random input never escapes the decoder as an exception, and limits still hold. */
import { gzipSync } from 'node:zlib';
import type { Direction } from '../../../sensor/capture/capture-event';
import { FrameFlag, FrameType, encodeFrame } from '../../../sensor/http/h2/frames';
import { HpackDecoder, HpackError } from '../../../sensor/http/h2/hpack';
import { HTTP2_CLIENT_PREFACE } from '../../../sensor/http/h2/http2-decoder';
import {
  clientStart,
  dataFrame,
  encodeHeaderBlock,
  goawayFrame,
  headersFrame,
  indexed,
  newHarness,
  requestBlock,
  responseBlock,
  rstStreamFrame,
  settingsFrame,
} from './h2-traffic';

/** mulberry32: small, seedable, good enough to spread test cases. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LIMITS = { maxBodyBytes: 4096, maxDecompressedBytes: 8192, maxHeaderBytes: 2048 };
const END_STREAM_HEADERS = FrameFlag.END_HEADERS | FrameFlag.END_STREAM;

/** A valid conversation using the dynamic tables, Huffman strings, CONTINUATION and a gzip body. */
function seedConversation(): Array<[Direction, Buffer]> {
  const block = Buffer.concat([
    requestBlock('POST', '/v1/chat/completions', 'api.openai.com'),
    encodeHeaderBlock([['x-tenant', 'acme']], { representation: 'incremental', huffman: true }),
  ]);
  return [
    ['out', clientStart()],
    ['in', settingsFrame([[1, 8192], [5, 32768]])],
    ['out', encodeFrame(FrameType.HEADERS, 0, 1, block.subarray(0, 12))],
    ['out', encodeFrame(FrameType.CONTINUATION, FrameFlag.END_HEADERS, 1, block.subarray(12))],
    ['out', dataFrame(1, '{"model":"gpt-4o","messages":[]}', true)],
    ['out', headersFrame(3, Buffer.concat([requestBlock('GET', '/v1/models', 'api.openai.com'), indexed(62)]), END_STREAM_HEADERS)],
    ['in', headersFrame(1, Buffer.concat([responseBlock(200, [['content-encoding', 'gzip']]), encodeHeaderBlock([['x-rid', 'r1']], { representation: 'incremental' })]))],
    ['in', dataFrame(1, gzipSync('{"id":"x","choices":[]}'))],
    ['in', dataFrame(1, '', true)],
    ['in', headersFrame(3, Buffer.concat([responseBlock(200), indexed(62)]))],
    ['in', rstStreamFrame(3)],
    ['in', goawayFrame(3)],
  ];
}

function mutate(bytes: Buffer, random: () => number): Buffer {
  const copy = Buffer.from(bytes);
  const edits = 1 + Math.floor(random() * 4);
  let result = copy;
  for (let i = 0; i < edits && result.length > 0; i++) {
    const at = Math.floor(random() * result.length);
    const kind = random();
    if (kind < 0.5) result[at] = Math.floor(random() * 256);
    else if (kind < 0.7) result = Buffer.concat([result.subarray(0, at), result.subarray(at + 1 + Math.floor(random() * 8))]);
    else if (kind < 0.9) result = Buffer.concat([result.subarray(0, at), Buffer.from([Math.floor(random() * 256)]), result.subarray(at)]);
    else result = result.subarray(0, at);
  }
  return result;
}

function randomFrame(random: () => number): Buffer {
  const types = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x42];
  const type = types[Math.floor(random() * types.length)];
  const length = random() < 0.3 ? Math.floor(random() * 10) : Math.floor(random() * 300);
  const payload = Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
  return encodeFrame(type, Math.floor(random() * 256), Math.floor(random() * 8), payload);
}

function feedInPieces(push: (data: Buffer) => void, bytes: Buffer, random: () => number): void {
  for (let at = 0; at < bytes.length; ) {
    const size = 1 + Math.floor(random() * 64);
    push(bytes.subarray(at, at + size));
    at += size;
  }
}

describe('HTTP/2 decoder fuzzing', () => {
  it('survives thousands of mutated, random and truncated conversations', () => {
    const random = prng(0x5eed);
    const seed = seedConversation();
    let exchangesSeen = 0;
    let cleanRounds = 0;
    for (let round = 0; round < 3000; round++) {
      const harness = newHarness({ limits: LIMITS });
      const { decoder, options } = harness;
      const mode = round % 3;
      let mutated = mode !== 0;
      const steps: Array<[Direction, Buffer]> =
        mode === 0
          ? seed.map(([dir, bytes]) => {
              if (random() >= 0.3) return [dir, bytes];
              mutated = true;
              return [dir, mutate(bytes, random)];
            })
          : mode === 1
            ? [
                ['out', HTTP2_CLIENT_PREFACE],
                ...Array.from({ length: 1 + Math.floor(random() * 12) }, (): [Direction, Buffer] => [random() < 0.5 ? 'out' : 'in', randomFrame(random)]),
              ]
            : [
                ['out', mutate(Buffer.concat(seed.filter((s) => s[0] === 'out').map((s) => s[1])), random)],
                ['in', Buffer.from(Array.from({ length: Math.floor(random() * 200) }, () => Math.floor(random() * 256)))],
              ];
      let gapped = false;
      let malformedAtEnd = 0;
      const run = () => {
        let ts = 1000;
        for (const [dir, bytes] of steps) {
          feedInPieces((piece) => decoder.push(dir, piece, ts++), bytes, random);
          if (random() < 0.05) {
            gapped = true;
            decoder.gap(dir, Math.floor(random() * 100), ts++);
          }
        }
        decoder.end(ts);
        malformedAtEnd = options.stats.malformed;
        decoder.push('in', Buffer.from([1, 2, 3]), ts + 1);
      };
      expect(run).not.toThrow();
      for (const exchange of harness.exchanges) {
        expect(exchange.protocol).toBe('h2');
        expect(exchange.request.body.length).toBeLessThanOrEqual(Math.max(LIMITS.maxBodyBytes, LIMITS.maxDecompressedBytes));
        if (exchange.response) expect(exchange.response.body.length).toBeLessThanOrEqual(Math.max(LIMITS.maxBodyBytes, LIMITS.maxDecompressedBytes));
      }
      // Bytes after end() are counted; undecodable bytes are never counted silently; clean traffic counts none.
      expect(options.stats.malformed).toBe(malformedAtEnd + 3);
      if (malformedAtEnd > 0) expect(harness.errors.length).toBeGreaterThan(0);
      if (!mutated && !gapped) {
        cleanRounds++;
        expect(malformedAtEnd).toBe(0);
        expect(harness.errors).toEqual([]);
        expect(harness.exchanges.map((exchange) => exchange.streamId)).toEqual([1, 3]);
      }
      expect(harness.errors.filter((reason) => /internal decoder error/.test(reason))).toEqual([]);
      exchangesSeen += harness.exchanges.length;
    }
    // Most mutated conversations still yield exchanges: the fuzzer reaches deep paths, not just the preface check.
    expect(exchangesSeen).toBeGreaterThan(1000);
    expect(cleanRounds).toBeGreaterThan(0);
  });

  it('the HPACK decoder only ever throws HpackError on random blocks', () => {
    const random = prng(42);
    for (let round = 0; round < 5000; round++) {
      const decoder = new HpackDecoder();
      const block = Buffer.from(Array.from({ length: Math.floor(random() * 40) }, () => Math.floor(random() * 256)));
      try {
        decoder.decode(block, 1024);
      } catch (err) {
        expect(err).toBeInstanceOf(HpackError);
      }
      expect(decoder.tableSize).toBeLessThanOrEqual(decoder.maxTableSize);
    }
  });
});
