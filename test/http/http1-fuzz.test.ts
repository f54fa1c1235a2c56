import * as zlib from 'node:zlib';
import type { Direction } from '../../sensor/capture/capture-event';
import { newHttpDecodeStats } from '../../sensor/http/connection-decoder';
import { decodeContentEncoding } from '../../sensor/http/content-encoding';
import { Http1ConnectionDecoder } from '../../sensor/http/h1/http1-decoder';
import { createConnectionDecoder } from '../../sensor/http/protocol-detect';
import { chunked, message, recorder, seededRandom, testConnection } from './h1-fixtures';

type Random = () => number;
const int = (random: Random, below: number) => Math.floor(random() * below);

const plain = Buffer.from('{"id":"x","choices":[{"message":{"content":"hello world"}}],"usage":{"total_tokens":9}}');
const traffic: [Direction, Buffer][] = [
  ['out', message('POST /v1/chat/completions?api-key=k HTTP/1.1\nHost: api.openai.com\nAuthorization: Bearer sk-1\nContent-Length: 2', '{}')],
  ['in', message(`HTTP/1.1 200 OK\nContent-Encoding: gzip\nContent-Length: ${zlib.gzipSync(plain).length}`, zlib.gzipSync(plain))],
  ['out', message('POST /v1/messages HTTP/1.1\nHost: h\nExpect: 100-continue\nTransfer-Encoding: chunked', chunked(['{"a":', '1}']))],
  ['in', message('HTTP/1.1 100 Continue')],
  ['in', message('HTTP/1.1 200 OK\nTransfer-Encoding: chunked\nContent-Encoding: br', chunked([zlib.brotliCompressSync(plain).subarray(0, 10), zlib.brotliCompressSync(plain).subarray(10)], ['X-T: 1']))],
  ['out', message('HEAD /x HTTP/1.1\nHost: h')],
  ['in', message('HTTP/1.1 200 OK\nContent-Length: 99')],
  ['out', message('GET /stream HTTP/1.1\nHost: h')],
  ['in', message('HTTP/1.1 200 OK\nContent-Type: text/event-stream', 'data: 1\n\ndata: 2\n\n')],
];

function mutate(random: Random, bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  const edits = 1 + int(random, 4);
  let out = copy;
  for (let i = 0; i < edits && out.length > 0; i++) {
    const at = int(random, out.length);
    switch (int(random, 5)) {
      case 0:
        out[at] = int(random, 256);
        break;
      case 1:
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + int(random, 8))]);
        break;
      case 2:
        out = Buffer.concat([out.subarray(0, at), Buffer.from(['\r\n', '0', 'ffffffff', ':', ' ', '\n\n', 'Content-Length: 5\r\n'][int(random, 7)]), out.subarray(at)]);
        break;
      case 3:
        out = out.subarray(0, at);
        break;
      default:
        out[at] ^= 1 << int(random, 8);
    }
  }
  return out;
}

function randomBytes(random: Random, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = int(random, 256);
  return out;
}

describe('HTTP/1.1 decoding under random and mutated input', () => {
  it('never fails internally in push, gap or end and keeps bodies within limits', () => {
    const random = seededRandom(0x5eed);
    for (let run = 0; run < 3000; run++) {
      const maxBodyBytes = 1 + int(random, 200);
      const maxDecompressedBytes = 1 + int(random, 200);
      const rec = recorder({ limits: { maxBodyBytes, maxDecompressedBytes, maxHeaderBytes: 64 + int(random, 400) }, isInteresting: () => random() < 0.7 });
      const decoder = random() < 0.5 ? new Http1ConnectionDecoder(testConnection, rec.options) : createConnectionDecoder(testConnection, rec.options);
      let ts = 0;
      const mode = int(random, 3);
      for (const [dir, bytes] of traffic) {
        const data = mode === 0 ? randomBytes(random, int(random, 64)) : mode === 1 ? mutate(random, bytes) : bytes;
        let offset = 0;
        while (offset < data.length) {
          const piece = 1 + int(random, 40);
          decoder.push(dir, data.subarray(offset, offset + piece), ts++);
          offset += piece;
          if (random() < 0.02) decoder.gap(random() < 0.5 ? 'in' : 'out', int(random, 30), ts++);
        }
      }
      decoder.end(ts, random() < 0.5 ? 'closed' : 'evicted');
      // The decoder catches everything it throws itself, so a bug shows as an internal-error report, not an exception.
      expect(rec.errors.filter((reason) => /internal error/.test(reason))).toEqual([]);
      for (const exchange of rec.exchanges) {
        const bound = Math.max(maxBodyBytes, maxDecompressedBytes);
        expect(exchange.request.body.length).toBeLessThanOrEqual(bound);
        expect(exchange.response?.body.length ?? 0).toBeLessThanOrEqual(bound);
        // Mutation can turn a credential header name into an ordinary one, so only intact traffic is checked here.
        if (mode === 2) expect(JSON.stringify(exchange, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain('sk-1');
      }
      // A clean run through the whole fixture loses nothing.
      if (mode === 2 && rec.options.stats.malformed === 0) expect(rec.exchanges.length + rec.options.stats.ignoredExchanges).toBe(4);
    }
  });
});

describe('decodeContentEncoding under random and mutated input', () => {
  const encodings = ['gzip', 'deflate', 'br', 'gzip, br', 'x-gzip', 'identity', 'compress', ',', ' gzip ,, deflate', 'br, br'];
  const samples = [zlib.gzipSync(plain), zlib.deflateSync(plain), zlib.deflateRawSync(plain), zlib.brotliCompressSync(plain), zlib.brotliCompressSync(zlib.gzipSync(plain))];

  it('never throws and never returns more than the limit when it decodes', () => {
    const random = seededRandom(0xc0de);
    for (let run = 0; run < 3000; run++) {
      const stats = newHttpDecodeStats();
      const limit = int(random, 300);
      const source = samples[int(random, samples.length)];
      const body = random() < 0.3 ? randomBytes(random, int(random, 100)) : mutate(random, source);
      const encoding = encodings[int(random, encodings.length)];
      let result: ReturnType<typeof decodeContentEncoding> | undefined;
      expect(() => {
        result = decodeContentEncoding(body, encoding, { maxDecompressedBytes: limit, stats, inputTruncated: random() < 0.3 });
      }).not.toThrow();
      if (result?.status === 'decoded' || result?.status === 'limit-hit') expect(result.body.length).toBeLessThanOrEqual(limit);
      else expect(result?.body).toBe(body);
    }
  });
});
