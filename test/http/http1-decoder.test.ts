import * as zlib from 'node:zlib';
import { Http1ConnectionDecoder } from '../../sensor/http/h1/http1-decoder';
import { chunked, feed, message, recorder, testConnection } from './h1-fixtures';

function decoderWith(rec: ReturnType<typeof recorder>): Http1ConnectionDecoder {
  return new Http1ConnectionDecoder(testConnection, rec.options);
}

describe('Http1ConnectionDecoder keep-alive', () => {
  it('decodes several exchanges on one connection with their framing and timestamps', () => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    const body1 = '{"model":"gpt-4o","messages":[]}';
    decoder.push('out', message(`POST /v1/chat/completions HTTP/1.1\nHost: api.openai.com\nContent-Type: application/json\nContent-Length: ${body1.length}`, body1), 1000);
    decoder.push('in', message('HTTP/1.1 200 OK\nContent-Type: application/json\nContent-Length: 11', '{"id":"a1"}'), 1200);
    decoder.push('out', message('GET /v1/models HTTP/1.1\nHost: api.openai.com'), 1300);
    decoder.push('in', message('HTTP/1.1 200 OK\nTransfer-Encoding: chunked', chunked(['{"data":', '[]}'])).subarray(0, 60), 1400);
    decoder.push('in', message('HTTP/1.1 200 OK\nTransfer-Encoding: chunked', chunked(['{"data":', '[]}'])).subarray(60), 1450);
    decoder.push('out', message('DELETE /v1/files/f1 HTTP/1.1\nHost: api.openai.com'), 1500);
    decoder.push('in', message('HTTP/1.1 204 No Content'), 1510);

    expect(rec.exchanges).toHaveLength(3);
    const [first, second, third] = rec.exchanges;
    expect(first.protocol).toBe('http/1.1');
    expect(first.connection).toBe(testConnection);
    expect(first.request).toMatchObject({ method: 'POST', path: '/v1/chat/completions', authority: 'api.openai.com', startTsMs: 1000, endTsMs: 1000 });
    expect(first.request.body.toString()).toBe(body1);
    expect(first.request.headers['content-type']).toBe('application/json');
    expect(first.response).toMatchObject({ status: 200, complete: true, bodyTruncated: false, startTsMs: 1200, firstBodyByteTsMs: 1200, endTsMs: 1200 });
    expect(first.response?.body.toString()).toBe('{"id":"a1"}');

    expect(second.request).toMatchObject({ method: 'GET', path: '/v1/models' });
    expect(second.request.body.length).toBe(0);
    expect(second.response).toMatchObject({ status: 200, complete: true, startTsMs: 1400, firstBodyByteTsMs: 1400, endTsMs: 1450 });
    expect(second.response?.body.toString()).toBe('{"data":[]}');

    expect(third.request.method).toBe('DELETE');
    expect(third.response).toMatchObject({ status: 204, complete: true, firstBodyByteTsMs: undefined });
    expect(third.response?.body.length).toBe(0);
    expect(rec.options.stats).toMatchObject({ exchanges: 3, malformed: 0, ignoredExchanges: 0, bodiesTruncated: 0 });
    expect(rec.errors).toEqual([]);
  });

  it('pairs pipelined requests with responses in order', () => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    decoder.push('out', Buffer.concat([message('GET /a HTTP/1.1\nHost: h'), message('GET /b HTTP/1.1\nHost: h'), message('GET /c HTTP/1.1\nHost: h')]), 1);
    decoder.push('in', Buffer.concat([
      message('HTTP/1.1 200 OK\nContent-Length: 1', 'A'),
      message('HTTP/1.1 404 Not Found\nContent-Length: 1', 'B'),
      message('HTTP/1.1 500 Oops\nContent-Length: 1', 'C'),
    ]), 2);
    expect(rec.exchanges.map((e) => [e.request.path, e.response?.status, e.response?.body.toString()])).toEqual([
      ['/a', 200, 'A'],
      ['/b', 404, 'B'],
      ['/c', 500, 'C'],
    ]);
  });

  it('skips 100 Continue and pairs the final response with the request', () => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    decoder.push('out', message('POST /upload HTTP/1.1\nHost: h\nExpect: 100-continue\nContent-Length: 5'), 10);
    decoder.push('in', message('HTTP/1.1 100 Continue'), 11);
    decoder.push('out', Buffer.from('hello'), 12);
    decoder.push('in', message('HTTP/1.1 201 Created\nContent-Length: 2', 'ok'), 13);
    expect(rec.exchanges).toHaveLength(1);
    expect(rec.exchanges[0].request).toMatchObject({ startTsMs: 10, endTsMs: 12 });
    expect(rec.exchanges[0].request.body.toString()).toBe('hello');
    expect(rec.exchanges[0].response).toMatchObject({ status: 201, startTsMs: 13, complete: true });
    expect(rec.exchanges[0].response?.body.toString()).toBe('ok');
  });

  it('reads no body after HEAD, 204 and 304 even when Content-Length is present', () => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    decoder.push('out', Buffer.concat([message('HEAD /x HTTP/1.1\nHost: h'), message('GET /y HTTP/1.1\nHost: h'), message('GET /z HTTP/1.1\nHost: h')]), 1);
    decoder.push('in', message('HTTP/1.1 200 OK\nContent-Length: 500'), 2);
    decoder.push('in', message('HTTP/1.1 304 Not Modified\nContent-Length: 500'), 3);
    decoder.push('in', message('HTTP/1.1 200 OK\nContent-Length: 3', 'zzz'), 4);
    expect(rec.exchanges.map((e) => [e.request.path, e.response?.status, e.response?.body.toString()])).toEqual([
      ['/x', 200, ''],
      ['/y', 304, ''],
      ['/z', 200, 'zzz'],
    ]);
  });

  it('completes a read-until-close body when the connection ends', () => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    decoder.push('out', message('GET /stream HTTP/1.1\nHost: h'), 1);
    decoder.push('in', message('HTTP/1.1 200 OK\nContent-Type: text/event-stream', 'data: 1\n\n'), 2);
    decoder.push('in', Buffer.from('data: 2\n\n'), 3);
    expect(rec.exchanges).toHaveLength(0);
    decoder.end(9, 'closed');
    expect(rec.exchanges).toHaveLength(1);
    expect(rec.exchanges[0].response).toMatchObject({ complete: true, bodyTruncated: false, endTsMs: 9, firstBodyByteTsMs: 2 });
    expect(rec.exchanges[0].response?.body.toString()).toBe('data: 1\n\ndata: 2\n\n');
  });

  it.each(['evicted', 'shutdown'] as const)('leaves a read-until-close body incomplete when the connection is %s, not closed', (reason) => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    decoder.push('out', message('GET /stream HTTP/1.1\nHost: h'), 1);
    decoder.push('in', message('HTTP/1.1 200 OK\nContent-Type: text/event-stream', 'data: 1\n\n'), 2);
    decoder.end(9, reason);
    expect(rec.exchanges).toHaveLength(1);
    expect(rec.exchanges[0].response).toMatchObject({ complete: false, bodyTruncated: true, endTsMs: 9 });
    expect(rec.exchanges[0].response?.body.toString()).toBe('data: 1\n\n');
  });

  it('accepts absolute-form targets and bare LF line ends', () => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    decoder.push('out', Buffer.from('GET http://proxy.example:8080/v1/models?limit=2 HTTP/1.1\nHost: ignored\n\n'), 1);
    decoder.push('in', Buffer.from('HTTP/1.1 200 OK\nContent-Length: 2\n\nok'), 2);
    expect(rec.exchanges[0].request).toMatchObject({ authority: 'proxy.example:8080', path: '/v1/models?limit=2' });
    expect(rec.exchanges[0].response?.body.toString()).toBe('ok');
  });

  it('emits the 101 exchange and stops decoding the switched protocol without counting it malformed', () => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    decoder.push('out', message('GET /ws HTTP/1.1\nHost: h\nUpgrade: websocket\nConnection: Upgrade'), 1);
    decoder.push('in', message('HTTP/1.1 101 Switching Protocols\nUpgrade: websocket'), 2);
    decoder.push('out', Buffer.from([0x81, 0x85, 1, 2, 3, 4, 5, 6, 7, 8, 9]), 3);
    decoder.push('in', Buffer.from([0x81, 0x02, 0x68, 0x69]), 4);
    decoder.end(5, 'closed');
    expect(rec.exchanges).toHaveLength(1);
    expect(rec.exchanges[0].response).toMatchObject({ status: 101, complete: true });
    expect(rec.options.stats.malformed).toBe(0);
  });
});

describe('Http1ConnectionDecoder chunked bodies', () => {
  const request = message('POST /v1/messages HTTP/1.1\nHost: api.anthropic.com\nContent-Length: 2', '{}');
  const chunks = ['event: message_start\ndata: {}\n\n', 'event: ping\n', Buffer.alloc(300, 0x61), 'done'];
  const response = message('HTTP/1.1 200 OK\nTransfer-Encoding: chunked\nContent-Type: text/event-stream', chunked(chunks, ['X-Trailer-Checksum: abc', 'Set-Cookie: session=trailer-secret']));
  const expectedBody = Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));

  it('reassembles a chunked body split at every position into two pushes, with trailers merged', () => {
    for (let split = 1; split < response.length; split++) {
      const rec = recorder();
      const decoder = decoderWith(rec);
      decoder.push('out', request, 1);
      decoder.push('in', response.subarray(0, split), 2);
      decoder.push('in', response.subarray(split), 3);
      expect(rec.exchanges).toHaveLength(1);
      const got = rec.exchanges[0].response;
      expect(got?.body.equals(expectedBody)).toBe(true);
      expect(got?.headers['x-trailer-checksum']).toBe('abc');
      expect(got?.headers['set-cookie']).toBeUndefined();
      expect(got?.complete).toBe(true);
    }
  });

  it('accepts chunk extensions and upper-case hex sizes', () => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    decoder.push('out', request, 1);
    decoder.push('in', message('HTTP/1.1 200 OK\nTransfer-Encoding: gzip, chunked', ''), 2);
    const inner = zlib.gzipSync(Buffer.alloc(26, 0x7a));
    decoder.push('in', Buffer.concat([Buffer.from(`${inner.length.toString(16).toUpperCase()};name=value\r\n`), inner, Buffer.from('\r\n0\r\n\r\n')]), 3);
    // Transfer codings other than chunked are not undone by HTTP/1.1 framing; the body stays as sent.
    expect(rec.exchanges[0].response?.body.equals(inner)).toBe(true);
  });

  it('decodes a chunked request body', () => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    decoder.push('out', message('POST /v1/embeddings HTTP/1.1\nHost: h\nTransfer-Encoding: chunked', chunked(['{"input":', '"hi"}'])), 1);
    decoder.push('in', message('HTTP/1.1 200 OK\nContent-Length: 0'), 2);
    expect(rec.exchanges[0].request.body.toString()).toBe('{"input":"hi"}');
    expect(rec.exchanges[0].response?.body.length).toBe(0);
  });
});

describe('Http1ConnectionDecoder byte-at-a-time input', () => {
  it('yields the same exchange when fed one byte per push as when fed whole', () => {
    const requestBody = JSON.stringify({ model: 'claude-3-5-sonnet', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
    const responseBody = Buffer.from('{"type":"message","usage":{"input_tokens":3,"output_tokens":5}}');
    const request = message(`POST /v1/messages?beta=true HTTP/1.1\nHost: api.anthropic.com\nContent-Length: ${requestBody.length}\nx-api-key: sk-ant-secret-1`, requestBody);
    const response = message('HTTP/1.1 200 OK\nContent-Encoding: gzip\nTransfer-Encoding: chunked', chunked([zlib.gzipSync(responseBody)], ['X-Done: 1']));

    const whole = recorder();
    const wholeDecoder = decoderWith(whole);
    wholeDecoder.push('out', request, 1);
    wholeDecoder.push('in', response, 2);

    const split = recorder();
    const splitDecoder = decoderWith(split);
    const next = feed(splitDecoder, 'out', request, 100, 1);
    const last = feed(splitDecoder, 'in', response, next + 10, 1) - 1;
    splitDecoder.end(last + 5, 'closed');

    expect(split.exchanges).toHaveLength(1);
    const a = whole.exchanges[0];
    const b = split.exchanges[0];
    expect(b.request.body.toString()).toBe(requestBody);
    expect(b.response?.body.equals(responseBody)).toBe(true);
    expect(b.request.headers).toEqual(a.request.headers);
    expect(b.response?.headers).toEqual(a.response?.headers);
    expect(b.request).toMatchObject({ startTsMs: 100, endTsMs: next - 1, path: '/v1/messages?beta=true' });
    expect(b.response).toMatchObject({ status: 200, complete: true, startTsMs: next + 10, endTsMs: last });
    // The first body byte is the first chunk-data byte, after the head and the chunk-size line.
    const headLength = response.indexOf('\r\n\r\n') + 4;
    const chunkLineLength = response.indexOf('\r\n', headLength) + 2 - headLength;
    expect(b.response?.firstBodyByteTsMs).toBe(next + 10 + headLength + chunkLineLength);
  });
});

describe('Http1ConnectionDecoder content encodings', () => {
  const plain = Buffer.from(JSON.stringify({ choices: [{ message: { content: 'x'.repeat(2000) } }] }));
  const cases: [string, Buffer][] = [
    ['gzip', zlib.gzipSync(plain)],
    ['x-gzip', zlib.gzipSync(plain)],
    ['deflate', zlib.deflateSync(plain)],
    ['deflate', zlib.deflateRawSync(plain)],
    ['br', zlib.brotliCompressSync(plain)],
    ['gzip, br', zlib.brotliCompressSync(zlib.gzipSync(plain))],
    ['identity', plain],
  ];
  it.each(cases)('decodes a %s response body', (encoding, body) => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    decoder.push('out', message('POST /v1/chat/completions HTTP/1.1\nHost: h\nContent-Length: 0'), 1);
    decoder.push('in', message(`HTTP/1.1 200 OK\nContent-Encoding: ${encoding}\nContent-Length: ${body.length}`, body), 2);
    expect(rec.exchanges[0].response?.body.equals(plain)).toBe(true);
    expect(rec.exchanges[0].response?.bodyTruncated).toBe(false);
  });

  it('keeps an unknown encoding raw and reports it', () => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    decoder.push('out', message('GET / HTTP/1.1\nHost: h'), 1);
    decoder.push('in', message('HTTP/1.1 200 OK\nContent-Encoding: zstd\nContent-Length: 4', 'abcd'), 2);
    expect(rec.exchanges[0].response?.body.toString()).toBe('abcd');
    expect(rec.errors.some((e) => e.includes('zstd'))).toBe(true);
  });

  it('cuts a gzip bomb at maxDecompressedBytes and counts it', () => {
    const rec = recorder({ limits: { maxDecompressedBytes: 64 * 1024 } });
    const decoder = decoderWith(rec);
    const bomb = zlib.gzipSync(Buffer.alloc(16 * 1024 * 1024));
    decoder.push('out', message('GET / HTTP/1.1\nHost: h'), 1);
    decoder.push('in', message(`HTTP/1.1 200 OK\nContent-Encoding: gzip\nContent-Length: ${bomb.length}`, bomb), 2);
    const response = rec.exchanges[0].response;
    expect(response?.bodyTruncated).toBe(true);
    expect(response?.body.length).toBeLessThanOrEqual(64 * 1024);
    expect(response?.body.length).toBeGreaterThan(0);
    expect(rec.options.stats).toMatchObject({ decompressionLimitHits: 1, bodiesTruncated: 1 });
  });
});

describe('Http1ConnectionDecoder credentials', () => {
  it('drops credential headers and query parameters before anything sees them', () => {
    const secrets = ['sk-proj-SECRET0001', 'sk-ant-SECRET0002', 'azure-SECRET0003', 'goog-SECRET0004', 'session=SECRET0005',
      'FwoGZXIvYXdzSECRET0006', '20250101T000000Z', 'e3b0c44298fc1c149afbSECRET0008', 'qs-SECRET0009', 'qs-SECRET0010',
      'AKIAEXAMPLE%2F20250101SECRET0011', 'respcookie-SECRET0012', 'proxy-SECRET0013', 'qs-SECRET0014', 'user:pw-SECRET0015'];
    const rec = recorder();
    const decoder = decoderWith(rec);
    decoder.push('out', message([
      `POST /model/invoke?api-version=2024-06-01&API-KEY=${secrets[8]}&key=${secrets[9]}&X-Amz-Credential=${secrets[10]}&access_token=${secrets[13]} HTTP/1.1`,
      `Host: ${secrets[14]}@bedrock-runtime.us-east-1.amazonaws.com`,
      `Authorization: Bearer ${secrets[0]}`,
      `X-Api-Key: ${secrets[1]}`,
      `api-key: ${secrets[2]}`,
      `x-goog-api-key: ${secrets[3]}`,
      `Cookie: ${secrets[4]}`,
      `X-Amz-Security-Token: ${secrets[5]}`,
      `X-Amz-Date: ${secrets[6]}`,
      `X-Amz-Content-Sha256: ${secrets[7]}`,
      `Proxy-Authorization: Basic ${secrets[12]}`,
      'X-Amz-Target: BedrockRuntime.InvokeModel',
      'Content-Length: 2',
    ].join('\n'), '{}'), 1);
    decoder.push('in', message(`HTTP/1.1 200 OK\nSet-Cookie: ${secrets[11]}\nx-amzn-RequestId: req-1\nContent-Length: 2`, '{}'), 2);

    const [exchange] = rec.exchanges;
    expect(exchange.request.path).toBe('/model/invoke?api-version=2024-06-01');
    expect(exchange.request.authority).toBe('bedrock-runtime.us-east-1.amazonaws.com');
    expect(exchange.request.headers['x-amz-target']).toBe('BedrockRuntime.InvokeModel');
    expect(exchange.response?.headers['x-amzn-requestid']).toBe('req-1');
    const everything = JSON.stringify({ exchange, heads: rec.heads, errors: rec.errors }, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });
});

describe('Http1ConnectionDecoder field names met before', () => {
  it('tells apart names that share the remembered hash: a credential is dropped after a harmless name with its hash, and the other way round', () => {
    // `x-bQi-key` and `x-api-key` have the same polynomial hash (31 * 'a' + 'p' = 31 * 'b' + 'Q'), as `Aa` and `BB`.
    const rec = recorder();
    const decoder = decoderWith(rec);
    const requests = [
      ['x-bQi-key: visible-1', 'x-api-key: sk-ant-SECRET-1'],
      ['x-api-key: sk-ant-SECRET-2', 'x-bQi-key: visible-2'],
      ['Aa: first', 'BB: second'],
    ];
    for (const [index, fields] of requests.entries()) {
      for (const field of fields) {
        decoder.push('out', message(`POST /v1/messages HTTP/1.1\nHost: api.anthropic.com\n${field}\nContent-Length: 2`, '{}'), index * 10 + 1);
        decoder.push('in', message('HTTP/1.1 200 OK\nContent-Length: 2', '{}'), index * 10 + 2);
      }
    }
    const heads = rec.exchanges.map((exchange) => exchange.request.headers);
    expect(heads).toHaveLength(6);
    expect(heads[0]['x-bqi-key']).toBe('visible-1');
    expect(heads[1]).not.toHaveProperty('x-api-key');
    expect(heads[1]).not.toHaveProperty('x-bqi-key');
    expect(heads[2]).not.toHaveProperty('x-api-key');
    expect(heads[3]['x-bqi-key']).toBe('visible-2');
    expect(heads[4]).toMatchObject({ aa: 'first' });
    expect(heads[4]).not.toHaveProperty('bb');
    expect(heads[5]).toMatchObject({ bb: 'second' });
    expect(heads[5]).not.toHaveProperty('aa');
    expect(JSON.stringify({ exchanges: rec.exchanges, heads: rec.heads }, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain('SECRET');
  });
});

describe('Http1ConnectionDecoder credentials, continued', () => {
  it('drops a credential field whatever its spelling, a folded continuation of it, and a repeated one, on every message of a connection', () => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    for (let call = 0; call < 3; call++) {
      decoder.push('out', message([
        'POST /v1/chat/completions HTTP/1.1',
        `Host: k${call}:SECRET-HOST-${call}@api.openai.com`,
        `AUTHORIZATION: Bearer SECRET-A-${call}`,
        `  SECRET-FOLDED-${call}`,
        `authorization: Bearer SECRET-B-${call}`,
        'X-Trace: t',
        '  continued',
        'Content-Length: 2',
      ].join('\n'), '{}'), 10 * call + 1);
      decoder.push('in', message(`HTTP/1.1 200 OK\nset-COOKIE: SECRET-C-${call}\nContent-Length: 2`, '{}'), 10 * call + 2);
    }
    expect(rec.exchanges).toHaveLength(3);
    for (const exchange of rec.exchanges) {
      expect(exchange.request.authority).toBe('api.openai.com');
      expect(exchange.request.headers).toEqual({ host: 'api.openai.com', 'x-trace': 't continued', 'content-length': '2' });
      expect(exchange.response?.headers).toEqual({ 'content-length': '2' });
    }
    expect(JSON.stringify({ exchanges: rec.exchanges, heads: rec.heads, errors: rec.errors }, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain('SECRET');
  });
});

describe('Http1ConnectionDecoder start lines', () => {
  const requestLines: Array<[string, boolean]> = [
    ['POST /v1/chat/completions HTTP/1.1', true],
    ['GET / HTTP/1.0', true],
    ['M-SEARCH * HTTP/1.1', true],
    ['GET  / HTTP/1.1', false],
    ['GET / HTTP/1.1 ', false],
    [' GET / HTTP/1.1', false],
    ['G@T / HTTP/1.1', false],
    ['/ HTTP/1.1', false],
    ['GET / HTTP/1.2', false],
    ['GET / http/1.1', false],
    ['GET / HTTP/1.10', false],
    ['GET /\tx HTTP/1.1', true],
  ];
  /** One request head and one response head through a new decoder. */
  const decodeHeads = (requestHead: string, responseHead: string) => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    decoder.push('out', message(requestHead), 1);
    decoder.push('in', message(responseHead), 2);
    return rec;
  };

  it.each(requestLines)('request line %j is %s', (line, valid) => {
    const rec = decodeHeads(`${line}\nHost: h`, 'HTTP/1.1 204 No Content');
    expect(rec.exchanges).toHaveLength(valid ? 1 : 0);
    expect(rec.errors.some((error) => error.includes('malformed request line'))).toBe(!valid);
  });

  const statusLines: Array<[string, number | undefined]> = [
    ['HTTP/1.1 200 OK', 200],
    ['HTTP/1.0 404 Not Found', 404],
    ['HTTP/1.1 204', 204],
    ['HTTP/1.1 200 ', 200],
    ['HTTP/1.1 599 a reason with  spaces', 599],
    ['HTTP/1.1 20 OK', undefined],
    ['HTTP/1.1 2000 OK', undefined],
    ['HTTP/1.1 2x0 OK', undefined],
    ['HTTP/1.2 200 OK', undefined],
    ['HTTP/1.1  200 OK', undefined],
    ['HTTP/1.1 200\tOK', undefined],
    ['HTTP/1.1 200 O\rK', undefined],
    ['http/1.1 200 OK', undefined],
  ];
  it.each(statusLines)('status line %j gives status %s', (line, status) => {
    const rec = decodeHeads('GET /v1/models HTTP/1.1\nHost: h', `${line}\nContent-Length: 0`);
    expect(rec.exchanges.map((exchange) => exchange.response?.status)).toEqual(status === undefined ? [] : [status]);
    expect(rec.errors.some((error) => error.includes('malformed status line'))).toBe(status === undefined);
  });
});

describe('Http1ConnectionDecoder malformed input', () => {
  const badInputs: [string, string, string][] = [
    ['garbage instead of a request', 'out', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n'],
    ['a bad chunk size', 'in', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n'],
    ['an absurd Content-Length', 'in', 'HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n'],
    ['a negative Content-Length', 'in', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'],
    ['conflicting Content-Lengths', 'in', 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd'],
    ['a header line without colon', 'in', 'HTTP/1.1 200 OK\r\nthis is not a header\r\n\r\n'],
    ['a bad status line', 'in', 'HTTP/1.1 abc OK\r\n\r\n'],
    ['a missing CRLF after chunk data', 'in', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY'],
  ];
  it.each(badInputs)('survives %s, counts the undecodable bytes and reports why', (_name, dir, bytes) => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    if (dir === 'in') decoder.push('out', message('GET /v1/models HTTP/1.1\nHost: h'), 1);
    expect(() => decoder.push(dir as 'in' | 'out', Buffer.from(bytes, 'latin1'), 2)).not.toThrow();
    expect(() => decoder.push('in', Buffer.from('HTTP/1.1 200 OK\r\n\r\n'), 3)).not.toThrow();
    expect(() => decoder.end(4, 'closed')).not.toThrow();
    // The failing push and every later one are counted as undecodable bytes.
    expect(rec.options.stats.malformed).toBe(Buffer.byteLength(bytes, 'latin1') + 'HTTP/1.1 200 OK\r\n\r\n'.length);
    expect(rec.errors.length).toBeGreaterThanOrEqual(1);
    expect(rec.errors[0]).toMatch(/^conn-1: /);
    // What was decoded before the bad bytes is still delivered, marked incomplete.
    if (dir === 'in') {
      expect(rec.exchanges).toHaveLength(1);
      expect(rec.exchanges[0].response?.complete ?? false).toBe(false);
    }
  });

  it('rejects a head larger than maxHeaderBytes', () => {
    const rec = recorder({ limits: { maxHeaderBytes: 1024 } });
    const decoder = decoderWith(rec);
    const head = `GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(4000)}\r\n\r\n`;
    feed(decoder, 'out', head, 1, 100);
    // Pushes up to 1024 bytes were held as a partial head; from the one that crossed the limit on, bytes are malformed.
    expect(rec.options.stats.malformed).toBe(head.length - 1000);
    expect(rec.errors[0]).toContain('maxHeaderBytes');
  });

  it('gives up on a response that has no request', () => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    const response = message('HTTP/1.1 200 OK\nContent-Length: 0');
    decoder.push('in', response, 1);
    expect(rec.options.stats.malformed).toBe(response.length);
    expect(rec.errors[0]).toContain('without a pending request');
  });
});

describe('Http1ConnectionDecoder limits, gaps and truncation', () => {
  it('flushes a stream cut mid-body at end() with complete=false', () => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    decoder.push('out', Buffer.concat([message('GET /a HTTP/1.1\nHost: h'), message('GET /b HTTP/1.1\nHost: h')]), 1);
    decoder.push('in', message('HTTP/1.1 200 OK\nContent-Length: 100', 'partial'), 2);
    decoder.end(50, 'closed');
    expect(rec.exchanges).toHaveLength(2);
    expect(rec.exchanges[0].response).toMatchObject({ complete: false, bodyTruncated: true, endTsMs: 50 });
    expect(rec.exchanges[0].response?.body.toString()).toBe('partial');
    expect(rec.exchanges[1].request.path).toBe('/b');
    expect(rec.exchanges[1].response).toBeUndefined();
    decoder.push('in', Buffer.from('more'), 60);
    expect(rec.exchanges).toHaveLength(2);
  });

  it('keeps at most maxBodyBytes and marks the body truncated, then frames the next message', () => {
    const rec = recorder({ limits: { maxBodyBytes: 10 } });
    const decoder = decoderWith(rec);
    decoder.push('out', Buffer.concat([message('GET /a HTTP/1.1\nHost: h'), message('GET /b HTTP/1.1\nHost: h')]), 1);
    decoder.push('in', message('HTTP/1.1 200 OK\nContent-Length: 26', 'abcdefghijklmnopqrstuvwxyz'), 2);
    decoder.push('in', message('HTTP/1.1 200 OK\nContent-Length: 3', 'xyz'), 3);
    expect(rec.exchanges[0].response).toMatchObject({ complete: true, bodyTruncated: true });
    expect(rec.exchanges[0].response?.body.toString()).toBe('abcdefghij');
    expect(rec.exchanges[1].response).toMatchObject({ complete: true, bodyTruncated: false });
    expect(rec.exchanges[1].response?.body.toString()).toBe('xyz');
    expect(rec.options.stats.bodiesTruncated).toBe(1);
  });

  it('marks a body with a capture gap truncated and keeps framing when the length is known', () => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    decoder.push('out', Buffer.concat([message('GET /a HTTP/1.1\nHost: h'), message('GET /b HTTP/1.1\nHost: h')]), 1);
    decoder.push('in', message('HTTP/1.1 200 OK\nContent-Length: 20', 'first'), 2);
    decoder.gap('in', 10, 3);
    decoder.push('in', Buffer.concat([Buffer.from('last5'), message('HTTP/1.1 200 OK\nContent-Length: 2', 'ok')]), 4);
    expect(rec.exchanges).toHaveLength(2);
    expect(rec.exchanges[0].response).toMatchObject({ complete: true, bodyTruncated: true });
    expect(rec.exchanges[0].response?.body.toString()).toBe('first');
    expect(rec.exchanges[1].response?.body.toString()).toBe('ok');
    expect(rec.options.stats.malformed).toBe(0);
  });

  it('survives a gap inside a chunk and continues with the next chunk', () => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    decoder.push('out', message('GET /a HTTP/1.1\nHost: h'), 1);
    decoder.push('in', Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n01234'), 2);
    decoder.gap('in', 3, 3);
    decoder.push('in', Buffer.from('89\r\n2\r\nzz\r\n0\r\n\r\n'), 4);
    expect(rec.exchanges[0].response).toMatchObject({ complete: true, bodyTruncated: true });
    expect(rec.exchanges[0].response?.body.toString()).toBe('01234');
  });

  it('gives up on a gap between messages, counts it and flushes what it has', () => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    decoder.push('out', message('GET /a HTTP/1.1\nHost: h'), 1);
    decoder.gap('in', 100, 2);
    expect(rec.options.stats.malformed).toBe(100);
    expect(rec.errors[0]).toContain('capture gap');
    expect(rec.exchanges).toHaveLength(1);
    expect(rec.exchanges[0].response).toBeUndefined();
  });

  it('gives up when a gap is longer than what is left of a chunk', () => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    decoder.push('out', message('GET /a HTTP/1.1\nHost: h'), 1);
    decoder.push('in', Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab'), 2);
    decoder.gap('in', 50, 3);
    expect(rec.options.stats.malformed).toBe(50);
    expect(rec.exchanges[0].response).toMatchObject({ complete: false, bodyTruncated: true });
    expect(rec.exchanges[0].response?.body.toString()).toBe('ab');
  });
});

describe('Http1ConnectionDecoder one-sided capture', () => {
  it('flushes the oldest unanswered request once too many are pending', () => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    for (let i = 0; i < 130; i++) decoder.push('out', message(`GET /r${i} HTTP/1.1\nHost: h`), i);
    expect(rec.exchanges.map((e) => e.request.path)).toEqual(['/r0', '/r1']);
    expect(rec.exchanges.every((e) => e.response === undefined)).toBe(true);
    expect(rec.errors[0]).toContain('without a response');
    // Responses come in request order: the first two answer the flushed /r0 and /r1 and are skipped.
    decoder.push('in', message('HTTP/1.1 200 OK\nContent-Length: 2', 'r0'), 200);
    decoder.push('in', message('HTTP/1.1 200 OK\nContent-Length: 2', 'r1'), 201);
    expect(rec.exchanges).toHaveLength(2);
    decoder.push('in', message('HTTP/1.1 200 OK\nContent-Length: 2', 'r2'), 202);
    expect(rec.exchanges[2]).toMatchObject({ request: { path: '/r2' }, response: { status: 200 } });
    expect(rec.exchanges[2].response?.body.toString()).toBe('r2');
    expect(rec.options.stats.malformed).toBe(0);
  });

  it('frames the skipped response of a flushed HEAD request by its method', () => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    decoder.push('out', message('HEAD /r0 HTTP/1.1\nHost: h'), 0);
    for (let i = 1; i < 130; i++) decoder.push('out', message(`GET /r${i} HTTP/1.1\nHost: h`), i);
    expect(rec.exchanges.map((e) => e.request.path)).toEqual(['/r0', '/r1']);
    // A HEAD response announces a length but has no body; read as a GET's it would swallow the next response.
    decoder.push('in', message('HTTP/1.1 200 OK\nContent-Length: 12'), 200);
    decoder.push('in', message('HTTP/1.1 200 OK\nContent-Length: 2', 'r1'), 201);
    decoder.push('in', message('HTTP/1.1 200 OK\nContent-Length: 2', 'r2'), 202);
    expect(rec.exchanges[2].request.path).toBe('/r2');
    expect(rec.exchanges[2].response?.body.toString()).toBe('r2');
    expect(rec.errors.filter((reason) => !reason.includes('without a response'))).toEqual([]);
  });

  it('stops decoding, counted, once too many flushed requests still await their responses', () => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    // 128 pending plus 128 flushed unanswered; the next request cannot be kept without losing the pairing.
    for (let i = 0; i < 256; i++) decoder.push('out', message(`GET /r${i} HTTP/1.1\nHost: h`), i);
    expect(rec.options.stats.malformed).toBe(0);
    const last = message('GET /r256 HTTP/1.1\nHost: h');
    decoder.push('out', last, 256);
    expect(rec.errors.at(-1)).toContain('can no longer be paired');
    expect(rec.exchanges).toHaveLength(257);
    expect(rec.exchanges.every((e) => e.response === undefined)).toBe(true);
    expect(rec.options.stats.malformed).toBe(last.length);
    decoder.push('in', message('HTTP/1.1 200 OK\nContent-Length: 0'), 300);
    expect(rec.exchanges).toHaveLength(257);
  });
});

describe('Http1ConnectionDecoder uninteresting traffic', () => {
  it('frames but does not buffer or emit ignored exchanges, and the next interesting one decodes correctly', () => {
    const rec = recorder({ isInteresting: (head) => head.path.startsWith('/v1/') });
    const decoder = decoderWith(rec);
    const bigChunks = Array.from({ length: 20 }, (_, i) => Buffer.alloc(1000 + i, 0x30 + (i % 10)));
    decoder.push('out', message('GET /static/app.js HTTP/1.1\nHost: h'), 1);
    feed(decoder, 'in', message('HTTP/1.1 200 OK\nTransfer-Encoding: chunked\nContent-Encoding: gzip', chunked(bigChunks)), 2, 333);
    decoder.push('out', message('POST /health HTTP/1.1\nHost: h\nContent-Length: 4', 'ping'), 200);
    decoder.push('in', message('HTTP/1.1 200 OK\nContent-Length: 4', 'pong'), 201);
    decoder.push('out', message('POST /v1/chat/completions HTTP/1.1\nHost: h\nContent-Length: 2', '{}'), 300);
    decoder.push('in', message('HTTP/1.1 200 OK\nContent-Length: 7', '{"a":1}'), 301);
    expect(rec.exchanges).toHaveLength(1);
    expect(rec.exchanges[0].request.path).toBe('/v1/chat/completions');
    expect(rec.exchanges[0].response?.body.toString()).toBe('{"a":1}');
    expect(rec.options.stats).toMatchObject({ ignoredExchanges: 2, exchanges: 1, malformed: 0, decompressionErrors: 0 });
  });
});

describe('Http1ConnectionDecoder header fields', () => {
  it('trims values as String.prototype.trim does, joins repeated and folded fields, and refuses a line with no colon even when a later line has one', () => {
    const rec = recorder();
    const decoder = decoderWith(rec);
    const raw = (text: string) => Buffer.from(text, 'latin1');
    decoder.push('out', raw('GET /a HTTP/1.1\r\nHost: h\r\nX-Odd: \t\u000b\u000cvalue one\u00a0 \t\r\nX-Odd:  second\r\nX-Folded: start\r\n \t continued  \r\n\r\n'), 1);
    decoder.push('in', raw('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), 2);
    expect(rec.exchanges).toHaveLength(1);
    const headers = rec.exchanges[0].request.headers;
    expect(headers['x-odd']).toBe(' \t\u000b\u000cvalue one\u00a0 \t'.trim() + ', second');
    expect(headers['x-folded']).toBe('start continued');

    const broken = recorder();
    decoderWith(broken).push('out', raw('GET /b HTTP/1.1\r\nno colon here\r\nHost: h\r\n\r\n'), 3);
    expect(broken.exchanges).toHaveLength(0);
    expect(broken.errors.join(' ')).toMatch(/without a field name and colon/);
  });
});
