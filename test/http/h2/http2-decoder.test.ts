import { gzipSync } from 'node:zlib';
import type { Direction } from '../../../sensor/capture/capture-event';
import { FrameFlag, FrameType, encodeFrame } from '../../../sensor/http/h2/frames';
import { HTTP2_CLIENT_PREFACE } from '../../../sensor/http/h2/http2-decoder';
import {
  TEST_CONNECTION,
  clientStart,
  dataFrame,
  encodeHeaderBlock,
  encodeInteger,
  goawayFrame,
  headersFrame,
  indexed,
  newHarness,
  requestBlock,
  responseBlock,
  rstStreamFrame,
  settingsFrame,
  type DecoderHarness,
} from './h2-traffic';

const END_STREAM_HEADERS = FrameFlag.END_HEADERS | FrameFlag.END_STREAM;

type Step = [Direction, Buffer, number];

/** Two interleaved streams: a POST with a two-frame body and a GET whose response ends in its HEADERS. */
function twoStreamConversation(): Step[] {
  return [
    ['out', clientStart(), 1000],
    ['in', settingsFrame([[4, 65535]]), 1001],
    ['out', headersFrame(1, requestBlock('POST', '/v1/chat/completions', 'api.openai.com', [['content-type', 'application/json']])), 1002],
    ['out', headersFrame(3, requestBlock('GET', '/v1/models', 'api.openai.com'), END_STREAM_HEADERS), 1003],
    ['out', dataFrame(1, '{"model":'), 1004],
    ['out', dataFrame(1, '"gpt-4o"}', true), 1005],
    ['in', headersFrame(3, responseBlock(404), END_STREAM_HEADERS), 1010],
    ['in', headersFrame(1, responseBlock(200, [['content-type', 'application/json']])), 1020],
    ['in', dataFrame(1, '{"id":'), 1030],
    ['in', dataFrame(1, '"chatcmpl-1"}', true), 1040],
  ];
}

function run(steps: Step[], harness: DecoderHarness = newHarness()): DecoderHarness {
  for (const [dir, bytes, ts] of steps) harness.decoder.push(dir, bytes, ts);
  return harness;
}

describe('Http2ConnectionDecoder', () => {
  it('turns interleaved streams into one exchange each, in completion order', () => {
    const { exchanges, errors, options } = run(twoStreamConversation());
    expect(errors).toEqual([]);
    expect(exchanges.map((e) => e.streamId)).toEqual([3, 1]);
    const [models, chat] = exchanges;
    expect(models).toMatchObject({
      connection: TEST_CONNECTION,
      protocol: 'h2',
      request: { method: 'GET', path: '/v1/models', authority: 'api.openai.com', bodyTruncated: false, startTsMs: 1003, endTsMs: 1003 },
      response: { status: 404, complete: true, startTsMs: 1010, endTsMs: 1010, bodyTruncated: false },
    });
    expect(models.response!.firstBodyByteTsMs).toBeUndefined();
    expect(chat.request.body.toString()).toBe('{"model":"gpt-4o"}');
    expect(chat.request.headers).toEqual({ 'content-type': 'application/json' });
    expect(chat.request).toMatchObject({ startTsMs: 1002, endTsMs: 1005 });
    expect(chat.response).toMatchObject({ status: 200, startTsMs: 1020, firstBodyByteTsMs: 1030, endTsMs: 1040, complete: true });
    expect(chat.response!.body.toString()).toBe('{"id":"chatcmpl-1"}');
    expect(options.stats.exchanges).toBe(2);
  });

  it('gives the same exchanges when every direction is fed one byte at a time', () => {
    const whole = run(twoStreamConversation()).exchanges;
    const harness = newHarness();
    for (const [dir, bytes, ts] of twoStreamConversation()) {
      for (let i = 0; i < bytes.length; i++) harness.decoder.push(dir, bytes.subarray(i, i + 1), ts);
    }
    expect(harness.errors).toEqual([]);
    expect(harness.exchanges).toEqual(whole);
  });

  it('gives the same exchanges for every single split point of the whole conversation', () => {
    const whole = run(twoStreamConversation()).exchanges;
    const steps = twoStreamConversation();
    const out = Buffer.concat(steps.filter((s) => s[0] === 'out').map((s) => s[1]));
    const incoming = Buffer.concat(steps.filter((s) => s[0] === 'in').map((s) => s[1]));
    const normalise = (list: typeof whole) => list.map((e) => ({ id: e.streamId, req: e.request.body, res: e.response?.body, status: e.response?.status }));
    for (let cut = 0; cut <= out.length; cut += 1) {
      const harness = newHarness();
      harness.decoder.push('out', out.subarray(0, cut), 1);
      harness.decoder.push('out', out.subarray(cut), 2);
      const inCut = cut % (incoming.length + 1);
      harness.decoder.push('in', incoming.subarray(0, inCut), 3);
      harness.decoder.push('in', incoming.subarray(inCut), 4);
      expect(normalise(harness.exchanges)).toEqual(normalise(whole));
    }
  });

  it('keeps separate HPACK tables per direction', () => {
    // Both sides put one entry in their dynamic table; index 62 must resolve differently in each direction.
    const harness = run([
      ['out', clientStart(), 1],
      ['out', headersFrame(1, Buffer.concat([requestBlock('GET', '/a', 'h'), encodeHeaderBlock([['x-side', 'client']], { representation: 'incremental', huffman: true })]), END_STREAM_HEADERS), 2],
      ['in', headersFrame(1, Buffer.concat([responseBlock(200), encodeHeaderBlock([['x-side', 'server']], { representation: 'incremental' })]), END_STREAM_HEADERS), 3],
      ['out', headersFrame(3, Buffer.concat([requestBlock('GET', '/b', 'h'), indexed(62)]), END_STREAM_HEADERS), 4],
      ['in', headersFrame(3, Buffer.concat([responseBlock(200), indexed(62)]), END_STREAM_HEADERS), 5],
    ]);
    expect(harness.errors).toEqual([]);
    const second = harness.exchanges[1];
    expect(second.request.headers['x-side']).toBe('client');
    expect(second.response!.headers['x-side']).toBe('server');
  });

  it('reassembles a header block split over HEADERS and CONTINUATION frames, with padding and priority', () => {
    const block = requestBlock('POST', '/v1/messages', 'api.anthropic.com', [['anthropic-version', '2023-06-01']]);
    const padded = Buffer.concat([Buffer.from([4]), Buffer.from([0, 0, 0, 0, 16]), block.subarray(0, 10), Buffer.alloc(4)]);
    const harness = run([
      ['out', clientStart(), 1],
      ['out', encodeFrame(FrameType.HEADERS, FrameFlag.PADDED | FrameFlag.PRIORITY, 1, padded), 2],
      ['out', encodeFrame(FrameType.CONTINUATION, 0, 1, block.subarray(10, 20)), 3],
      ['out', encodeFrame(FrameType.CONTINUATION, FrameFlag.END_HEADERS, 1, block.subarray(20)), 4],
      ['out', dataFrame(1, '{}', true), 5],
      ['in', headersFrame(1, responseBlock(200)), 6],
      ['in', dataFrame(1, 'ok', true), 7],
    ]);
    expect(harness.exchanges[0].request).toMatchObject({ method: 'POST', path: '/v1/messages', startTsMs: 2, headers: { 'anthropic-version': '2023-06-01' } });
  });

  it('drops credential headers, credential query parameters and authority userinfo before anyone sees them', () => {
    const harness = run([
      ['out', clientStart(), 1],
      [
        'out',
        headersFrame(
          1,
          Buffer.concat([
            requestBlock('POST', '/openai/deployments/gpt/chat/completions?api-version=2024-02-01&api-key=sk-secret', 'user:pw@example.openai.azure.com', [
              ['authorization', 'Bearer sk-secret'],
              ['api-key', 'sk-secret'],
              ['x-amz-security-token', 'tok'],
            ]),
            encodeHeaderBlock([['cookie', 'session=secret']], { representation: 'never-indexed' }),
          ]),
          END_STREAM_HEADERS,
        ),
        2,
      ],
      ['in', headersFrame(1, responseBlock(200, [['set-cookie', 'a=b'], ['x-request-id', 'r1']]), END_STREAM_HEADERS), 3],
    ]);
    const { request, response } = harness.exchanges[0];
    expect(request.path).toBe('/openai/deployments/gpt/chat/completions?api-version=2024-02-01');
    expect(request.authority).toBe('example.openai.azure.com');
    expect(request.headers).toEqual({});
    expect(response!.headers).toEqual({ 'x-request-id': 'r1' });
    expect(harness.heads[0].headers).toEqual({});
    expect(JSON.stringify(harness.exchanges, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).not.toMatch(/secret|tok"|a=b/);
  });

  it('asks isInteresting once per stream and skips the bodies of uninteresting ones', () => {
    const harness = newHarness({ isInteresting: (head) => head.path !== '/health' });
    run(
      [
        ['out', clientStart(), 1],
        ['out', headersFrame(1, requestBlock('POST', '/health', 'h')), 2],
        ['out', dataFrame(1, 'x'.repeat(1000), true), 3],
        ['out', headersFrame(3, requestBlock('GET', '/v1/models', 'h'), END_STREAM_HEADERS), 4],
        ['in', headersFrame(1, responseBlock(200)), 5],
        ['in', dataFrame(1, 'y'.repeat(1000), true), 6],
        ['in', headersFrame(3, responseBlock(200)), 7],
        ['in', dataFrame(3, 'models', true), 8],
      ],
      harness,
    );
    expect(harness.heads.map((h) => h.path)).toEqual(['/health', '/v1/models']);
    expect(harness.exchanges.map((e) => e.request.path)).toEqual(['/v1/models']);
    expect(harness.options.stats).toMatchObject({ ignoredExchanges: 1, exchanges: 1 });
  });

  it('cuts bodies at maxBodyBytes and flags them', () => {
    const harness = newHarness({ limits: { maxBodyBytes: 10 } });
    run(
      [
        ['out', clientStart(), 1],
        ['out', headersFrame(1, requestBlock('POST', '/p', 'h')), 2],
        ['out', dataFrame(1, '0123456789abcdef', true), 3],
        ['in', headersFrame(1, responseBlock(200)), 4],
        ['in', dataFrame(1, 'short'), 5],
        ['in', dataFrame(1, ' and long', true), 6],
      ],
      harness,
    );
    const { request, response } = harness.exchanges[0];
    expect(request.body.toString()).toBe('0123456789');
    expect(request.bodyTruncated).toBe(true);
    expect(response!.body.toString()).toBe('short and ');
    expect(response!.bodyTruncated).toBe(true);
    expect(response!.complete).toBe(true);
    expect(harness.options.stats.bodiesTruncated).toBe(2);
  });

  it('decodes a gzip Content-Encoding body', () => {
    const text = JSON.stringify({ choices: [{ message: { content: 'hello '.repeat(50) } }] });
    const gz = gzipSync(text);
    const harness = run([
      ['out', clientStart(), 1],
      ['out', headersFrame(1, requestBlock('GET', '/g', 'h'), END_STREAM_HEADERS), 2],
      ['in', headersFrame(1, responseBlock(200, [['content-encoding', 'gzip']])), 3],
      ['in', dataFrame(1, gz.subarray(0, 20)), 4],
      ['in', dataFrame(1, gz.subarray(20), true), 5],
    ]);
    expect(harness.exchanges[0].response!.body.toString()).toBe(text);
    expect(harness.exchanges[0].response!.bodyTruncated).toBe(false);
  });

  it('skips informational responses and merges trailers', () => {
    const harness = run([
      ['out', clientStart(), 1],
      ['out', headersFrame(1, requestBlock('POST', '/p', 'h', [['expect', '100-continue']])), 2],
      ['in', headersFrame(1, responseBlock(100)), 3],
      ['out', dataFrame(1, 'body', true), 4],
      ['in', headersFrame(1, responseBlock(200)), 5],
      ['in', dataFrame(1, 'streamed'), 6],
      ['in', headersFrame(1, encodeHeaderBlock([['x-trailer', 'done']]), END_STREAM_HEADERS), 7],
    ]);
    expect(harness.exchanges[0].response).toMatchObject({ status: 200, complete: true, endTsMs: 7, headers: { 'x-trailer': 'done' } });
  });

  it('flushes a stream reset by RST_STREAM as incomplete, keeping what arrived', () => {
    const harness = run([
      ['out', clientStart(), 1],
      ['out', headersFrame(1, requestBlock('GET', '/stream', 'h'), END_STREAM_HEADERS), 2],
      ['in', headersFrame(1, responseBlock(200)), 3],
      ['in', dataFrame(1, 'data: 1\n\n'), 4],
      ['out', rstStreamFrame(1, 8), 9],
      ['in', dataFrame(1, 'late', true), 10],
    ]);
    expect(harness.exchanges).toHaveLength(1);
    expect(harness.exchanges[0].response).toMatchObject({ complete: false, bodyTruncated: true, endTsMs: 9 });
    expect(harness.exchanges[0].response!.body.toString()).toBe('data: 1\n\n');
  });

  it('flushes streams above the GOAWAY last-stream id and keeps the others running', () => {
    const harness = run([
      ['out', clientStart(), 1],
      ['out', headersFrame(1, requestBlock('GET', '/one', 'h'), END_STREAM_HEADERS), 2],
      ['out', headersFrame(3, requestBlock('GET', '/two', 'h'), END_STREAM_HEADERS), 3],
      ['in', goawayFrame(1), 4],
    ]);
    expect(harness.exchanges.map((e) => [e.streamId, e.response])).toEqual([[3, undefined]]);
    harness.decoder.push('in', Buffer.concat([headersFrame(1, responseBlock(200)), dataFrame(1, 'ok', true)]), 5);
    expect(harness.exchanges.map((e) => e.streamId)).toEqual([3, 1]);
    expect(harness.exchanges[1].response!.complete).toBe(true);
  });

  it('flushes open streams at end() as incomplete', () => {
    const harness = run([
      ['out', clientStart(), 1],
      ['out', headersFrame(1, requestBlock('POST', '/p', 'h')), 2],
      ['out', dataFrame(1, 'half'), 3],
      ['out', headersFrame(3, requestBlock('GET', '/q', 'h'), END_STREAM_HEADERS), 4],
      ['in', headersFrame(3, responseBlock(200)), 5],
      ['in', dataFrame(3, 'partial'), 6],
    ]);
    harness.decoder.end(50);
    expect(harness.exchanges.map((e) => e.streamId)).toEqual([1, 3]);
    expect(harness.exchanges[0].request).toMatchObject({ bodyTruncated: true, endTsMs: 3 });
    expect(harness.exchanges[0].response).toBeUndefined();
    expect(harness.exchanges[1].response).toMatchObject({ complete: false, bodyTruncated: true, endTsMs: 50 });
    harness.decoder.end(60);
    expect(harness.exchanges).toHaveLength(2);
  });

  it('after a gap in the server direction flushes every open stream as truncated and stops decoding it', () => {
    const harness = run([
      ['out', clientStart(), 1],
      ['out', headersFrame(1, requestBlock('GET', '/a', 'h'), END_STREAM_HEADERS), 2],
      ['in', headersFrame(1, responseBlock(200)), 3],
      ['in', dataFrame(1, 'abc').subarray(0, 11), 4],
    ]);
    harness.decoder.gap('in', 500, 5);
    expect(harness.exchanges).toHaveLength(1);
    expect(harness.exchanges[0].response).toMatchObject({ complete: false, bodyTruncated: true });
    expect(harness.errors.join('\n')).toMatch(/lost 500 bytes in the in direction/);
    expect(harness.options.stats.malformed).toBe(511); // 11 buffered bytes of an unfinished frame + 500 lost
    harness.decoder.push('in', dataFrame(1, 'more', true), 6);
    expect(harness.options.stats.malformed).toBe(511 + 13);
    // The client direction still decodes; with no response possible its streams flush at end().
    harness.decoder.push('out', headersFrame(3, requestBlock('GET', '/b', 'h'), END_STREAM_HEADERS), 7);
    harness.decoder.end(8);
    expect(harness.exchanges.map((e) => [e.request.path, e.response])).toEqual([
      ['/a', expect.anything()],
      ['/b', undefined],
    ]);
  });

  it('after a gap in the client direction flushes only streams whose request was still open', () => {
    const harness = run([
      ['out', clientStart(), 1],
      ['out', headersFrame(1, requestBlock('GET', '/done', 'h'), END_STREAM_HEADERS), 2],
      ['out', headersFrame(3, requestBlock('POST', '/open', 'h')), 3],
      ['out', dataFrame(3, 'part'), 4],
    ]);
    harness.decoder.gap('out', 100, 5);
    expect(harness.exchanges.map((e) => [e.request.path, e.request.bodyTruncated])).toEqual([['/open', true]]);
    harness.decoder.push('in', Buffer.concat([settingsFrame(), headersFrame(1, responseBlock(200)), dataFrame(1, 'fine', true)]), 6);
    expect(harness.exchanges[1].response!.body.toString()).toBe('fine');
  });

  it('gives up on a direction whose header block cannot be decoded, without throwing', () => {
    const harness = run([
      ['out', clientStart(), 1],
      ['out', headersFrame(1, requestBlock('GET', '/ok', 'h'), END_STREAM_HEADERS), 2],
      ['in', headersFrame(1, Buffer.from([0xbf])), 3], // dynamic index 2 of an empty table
    ]);
    expect(harness.errors.join('\n')).toMatch(/in direction .* no longer decodable: hpack: index 63 is beyond the tables/);
    expect(harness.exchanges[0].response).toBeUndefined();
    expect(harness.exchanges[0].request.path).toBe('/ok');
  });

  it('honours SETTINGS_HEADER_TABLE_SIZE from the peer for size updates', () => {
    const sizeUpdate = encodeInteger(8192, 5, 0x20);
    const rejected = run([
      ['out', clientStart(), 1],
      ['out', headersFrame(1, Buffer.concat([sizeUpdate, requestBlock('GET', '/x', 'h')]), END_STREAM_HEADERS), 2],
    ]);
    expect(rejected.errors.join('\n')).toMatch(/exceeds the announced limit of 4096/);
    const accepted = run([
      ['in', settingsFrame([[1, 8192]]), 0],
      ['out', clientStart(), 1],
      ['out', headersFrame(1, Buffer.concat([sizeUpdate, requestBlock('GET', '/x', 'h')]), END_STREAM_HEADERS), 2],
    ]);
    expect(accepted.errors).toEqual([]);
    accepted.decoder.end(3);
    expect(accepted.exchanges[0].request.path).toBe('/x');
  });

  it('rejects traffic without the client preface and counts it as malformed', () => {
    const harness = newHarness();
    const bytes = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    harness.decoder.push('out', bytes, 1);
    expect(harness.errors.join('\n')).toMatch(/client connection preface/);
    expect(harness.options.stats.malformed).toBe(bytes.length);
  });

  it('accepts a preface split across pushes', () => {
    const harness = newHarness();
    harness.decoder.push('out', HTTP2_CLIENT_PREFACE.subarray(0, 5), 1);
    harness.decoder.push('out', Buffer.concat([HTTP2_CLIENT_PREFACE.subarray(5), headersFrame(1, requestBlock('GET', '/', 'h'), END_STREAM_HEADERS)]), 2);
    harness.decoder.end(3);
    expect(harness.errors).toEqual([]);
    expect(harness.exchanges).toHaveLength(1);
  });

  it('decodes and ignores PUSH_PROMISE and pushed streams, keeping the HPACK table in step', () => {
    const promised = Buffer.concat([Buffer.from([0, 0, 0, 2]), encodeHeaderBlock([[':path', '/pushed']], { representation: 'incremental' })]);
    const harness = run([
      ['out', clientStart(), 1],
      ['out', headersFrame(1, requestBlock('GET', '/', 'h'), END_STREAM_HEADERS), 2],
      ['in', encodeFrame(FrameType.PUSH_PROMISE, FrameFlag.END_HEADERS, 1, promised), 3],
      ['in', headersFrame(2, responseBlock(200), FrameFlag.END_HEADERS), 4],
      ['in', dataFrame(2, 'pushed body', true), 5],
      ['in', headersFrame(1, Buffer.concat([responseBlock(200), indexed(62)]), END_STREAM_HEADERS), 6],
    ]);
    expect(harness.errors).toEqual([]);
    expect(harness.exchanges).toHaveLength(1);
    expect(harness.exchanges[0].response!.headers).toEqual({});
  });

  it('counts a malformed control frame and carries on', () => {
    const harness = run([
      ['out', clientStart(), 1],
      ['out', encodeFrame(FrameType.PING, 0, 0, Buffer.alloc(3)), 2],
      ['out', headersFrame(1, requestBlock('GET', '/', 'h'), END_STREAM_HEADERS), 3],
      ['in', headersFrame(1, responseBlock(204), END_STREAM_HEADERS), 4],
    ]);
    expect(harness.options.stats.malformed).toBe(12);
    expect(harness.exchanges).toHaveLength(1);
  });

  it('survives callbacks that throw', () => {
    const harness = newHarness();
    harness.options.onExchange = () => {
      throw new Error('sink down');
    };
    harness.options.isInteresting = () => {
      throw new Error('classifier bug');
    };
    expect(() => run(twoStreamConversation(), harness)).not.toThrow();
    expect(harness.errors.some((e) => /sink down/.test(e))).toBe(true);
    expect(harness.options.stats.exchanges).toBe(2);
  });
});

describe('Http2ConnectionDecoder resource bounds on hostile input', () => {
  /** The body collector of an open stream, read through the decoder's private state to see what it holds. */
  function heldChunks(harness: DecoderHarness, streamId: number, side: 'request' | 'response'): Buffer[] {
    const streams = (harness.decoder as unknown as { streams: Map<number, Record<'request' | 'response', { body: { chunks: Buffer[] } }>> }).streams;
    return streams.get(streamId)![side].body.chunks;
  }

  it('stops an endless run of empty CONTINUATION frames at maxHeaderBytes (CVE-2024-27316)', () => {
    const harness = newHarness({ limits: { maxHeaderBytes: 1024 } });
    harness.decoder.push('out', clientStart(), 1);
    harness.decoder.push('out', headersFrame(1, requestBlock('GET', '/', 'h'), 0), 2);
    const emptyContinuation = encodeFrame(FrameType.CONTINUATION, 0, 1, Buffer.alloc(0));
    for (let i = 0; i < 1000; i++) harness.decoder.push('out', emptyContinuation, 3 + i);
    expect(harness.errors.join('\n')).toMatch(/out direction .* no longer decodable: header block of stream 1 exceeds limits\.maxHeaderBytes \(1024, counting 9 bytes per CONTINUATION frame\)/);
    // Every frame after the one that crossed the limit is counted, not buffered.
    expect(harness.options.stats.malformed).toBeGreaterThan(800 * emptyContinuation.length);
  });

  it('keeps nothing for empty DATA frames', () => {
    const harness = run([
      ['out', clientStart(), 1],
      ['out', headersFrame(1, requestBlock('POST', '/p', 'h')), 2],
      ['in', headersFrame(1, responseBlock(200)), 3],
    ]);
    for (let i = 0; i < 1000; i++) {
      harness.decoder.push('out', dataFrame(1, ''), 4);
      harness.decoder.push('in', dataFrame(1, ''), 4);
    }
    expect(heldChunks(harness, 1, 'request')).toHaveLength(0);
    expect(heldChunks(harness, 1, 'response')).toHaveLength(0);
    harness.decoder.push('out', dataFrame(1, 'body', true), 5);
    harness.decoder.push('in', dataFrame(1, 'ok', true), 6);
    expect(harness.exchanges[0].request.body.toString()).toBe('body');
    expect(harness.exchanges[0].response).toMatchObject({ complete: true, bodyTruncated: false, firstBodyByteTsMs: 6 });
  });

  it('after a gap in the server direction emits each new stream as soon as its request ends', () => {
    const harness = run([
      ['out', clientStart(), 1],
      ['in', settingsFrame(), 2],
    ]);
    harness.decoder.gap('in', 100, 3);
    harness.decoder.push('out', headersFrame(1, requestBlock('POST', '/v1/messages', 'h')), 4);
    harness.decoder.push('out', dataFrame(1, '{"a":1}', true), 5);
    harness.decoder.push('out', headersFrame(3, requestBlock('GET', '/v1/models', 'h'), END_STREAM_HEADERS), 6);
    expect(harness.exchanges.map((e) => [e.request.path, e.request.body.toString(), e.request.bodyTruncated, e.response])).toEqual([
      ['/v1/messages', '{"a":1}', false, undefined],
      ['/v1/models', '', false, undefined],
    ]);
    harness.decoder.end(7);
    expect(harness.exchanges).toHaveLength(2);
  });

  it('bounds the body bytes one connection holds across its open streams, and frees them as streams finish', () => {
    const harness = newHarness({ limits: { maxBodyBytes: 100 } });
    run([['out', clientStart(), 1]], harness);
    // Five streams each send a full body and stay open: only four bodies' worth is held.
    for (let id = 1; id <= 9; id += 2) {
      harness.decoder.push('out', headersFrame(id, requestBlock('POST', `/s${id}`, 'h')), 2);
      harness.decoder.push('out', dataFrame(id, 'x'.repeat(100)), 3);
    }
    for (let id = 1; id <= 9; id += 2) harness.decoder.push('out', dataFrame(id, '', true), 4);
    harness.decoder.push('in', Buffer.concat([1, 3, 5, 7, 9].map((id) => headersFrame(id, responseBlock(204), END_STREAM_HEADERS))), 5);
    expect(harness.exchanges.map((e) => [e.request.path, e.request.body.length, e.request.bodyTruncated])).toEqual([
      ['/s1', 100, false],
      ['/s3', 100, false],
      ['/s5', 100, false],
      ['/s7', 100, false],
      ['/s9', 0, true],
    ]);
    expect(harness.errors.filter((reason) => /hold 400 body bytes/.test(reason))).toHaveLength(1);
    // Finished streams gave their bytes back.
    run([
      ['out', headersFrame(11, requestBlock('POST', '/s11', 'h')), 6],
      ['out', dataFrame(11, 'y'.repeat(100), true), 7],
      ['in', headersFrame(11, responseBlock(204), END_STREAM_HEADERS), 8],
    ], harness);
    expect(harness.exchanges[5].request).toMatchObject({ path: '/s11', bodyTruncated: false });
    expect(harness.exchanges[5].request.body.length).toBe(100);
  });

  it('ignores and counts DATA sent on a request stream after its END_STREAM', () => {
    const harness = run([
      ['out', clientStart(), 1],
      ['out', headersFrame(1, requestBlock('POST', '/p', 'h')), 2],
      ['out', dataFrame(1, 'body', true), 3],
      ['out', dataFrame(1, 'smuggled'), 4],
      ['in', headersFrame(1, responseBlock(200)), 5],
      ['in', dataFrame(1, 'ok', true), 6],
    ]);
    expect(harness.exchanges[0].request).toMatchObject({ bodyTruncated: false, endTsMs: 3 });
    expect(harness.exchanges[0].request.body.toString()).toBe('body');
    expect(harness.options.stats.malformed).toBe(9 + 'smuggled'.length);
    expect(harness.errors.join('\n')).toMatch(/DATA after END_STREAM on request stream 1/);
  });
});
