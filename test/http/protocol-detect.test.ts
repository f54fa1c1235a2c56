import { detectProtocol, createConnectionDecoder } from '../../sensor/http/protocol-detect';
import { message, recorder, testConnection } from './h1-fixtures';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/** HPACK "literal header field without indexing, new name", no Huffman (RFC 7541 §6.2.2); short strings only. */
function hpackLiterals(fields: [string, string][]): Buffer {
  return Buffer.concat(fields.map(([name, value]) => Buffer.concat([Buffer.from([0x00, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)])));
}

describe('detectProtocol', () => {
  it.each([
    [PREFACE, 'h2'],
    [PREFACE.subarray(0, 10), 'undecided'],
    [Buffer.from('PRI'), 'undecided'],
    [Buffer.from('GET / HTTP/1.1\r\n'), 'http/1.1'],
    [Buffer.from('POST '), 'http/1.1'],
    [Buffer.from('PROPFIND /'), 'http/1.1'],
    [Buffer.from('POS'), 'undecided'],
    [Buffer.from([0x16, 0x03, 0x01]), 'not-http'],
    [Buffer.from(' GET /'), 'not-http'],
    [Buffer.from('get / HTTP/1.1'), 'not-http'],
    [Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'), 'not-http'],
    [Buffer.from('A'.repeat(30)), 'not-http'],
  ])('%j -> %s', (bytes, expected) => {
    expect(detectProtocol(bytes)).toBe(expected);
  });
});

describe('createConnectionDecoder', () => {
  it('selects HTTP/1.1 for a request line, even when it arrives a byte at a time', () => {
    const rec = recorder();
    const decoder = createConnectionDecoder(testConnection, rec.options);
    const request = message('POST /v1/chat/completions HTTP/1.1\nHost: api.openai.com\nContent-Length: 2', '{}');
    for (let i = 0; i < 4; i++) decoder.push('out', request.subarray(i, i + 1), 10 + i);
    decoder.push('out', request.subarray(4), 20);
    decoder.push('in', message('HTTP/1.1 200 OK\nContent-Length: 2', '{}'), 30);
    expect(rec.exchanges).toHaveLength(1);
    expect(rec.exchanges[0]).toMatchObject({ protocol: 'http/1.1', request: { method: 'POST', path: '/v1/chat/completions', startTsMs: 10, endTsMs: 20 } });
  });

  it('ignores a non-HTTP connection cheaply and reports it once', () => {
    const rec = recorder();
    const decoder = createConnectionDecoder(testConnection, rec.options);
    const first = Buffer.from('\x00\x00\x00\x08\x04\xd2\x16\x2f', 'latin1');
    decoder.push('out', first, 1);
    for (let i = 0; i < 100; i++) decoder.push(i % 2 === 0 ? 'in' : 'out', Buffer.alloc(4096, i), 2 + i);
    decoder.gap('in', 10, 200);
    decoder.end(300, 'closed');
    expect(rec.exchanges).toEqual([]);
    expect(rec.heads).toEqual([]);
    expect(rec.errors).toHaveLength(1);
    expect(rec.errors[0]).toContain('connection ignored');
    expect(rec.options.stats.malformed).toBe(first.length);
  });

  it('ignores a connection whose server talks first at length', () => {
    const rec = recorder();
    const decoder = createConnectionDecoder(testConnection, rec.options);
    for (let i = 0; i < 20; i++) decoder.push('in', Buffer.alloc(4096, 0x41), i);
    decoder.push('out', message('GET / HTTP/1.1\nHost: h'), 30);
    decoder.push('in', message('HTTP/1.1 200 OK\nContent-Length: 0'), 31);
    expect(rec.exchanges).toEqual([]);
    expect(rec.errors).toHaveLength(1);
  });

  it('ignores a connection with a capture gap before its protocol is known', () => {
    const rec = recorder();
    const decoder = createConnectionDecoder(testConnection, rec.options);
    decoder.push('out', Buffer.from('GE'), 1);
    decoder.gap('out', 100, 2);
    decoder.push('out', message('GET / HTTP/1.1\nHost: h'), 3);
    decoder.push('in', message('HTTP/1.1 200 OK\nContent-Length: 0'), 4);
    expect(rec.exchanges).toEqual([]);
    expect(rec.errors[0]).toContain('capture gap');
  });

  it('selects HTTP/2 for the client preface and replays server bytes that came first', () => {
    const rec = recorder();
    const decoder = createConnectionDecoder(testConnection, rec.options);
    const serverSettings = frame(0x4, 0, 0, Buffer.alloc(0));
    decoder.push('in', serverSettings, 1);
    decoder.push('out', PREFACE.subarray(0, 5), 2);
    const requestHeaders = hpackLiterals([[':method', 'GET'], [':scheme', 'https'], [':authority', 'api.openai.com'], [':path', '/v1/models']]);
    decoder.push('out', Buffer.concat([PREFACE.subarray(5), frame(0x4, 0, 0, Buffer.alloc(0)), frame(0x1, 0x4 | 0x1, 1, requestHeaders)]), 3);
    decoder.push('in', Buffer.concat([frame(0x4, 0x1, 0, Buffer.alloc(0)), frame(0x1, 0x4, 1, hpackLiterals([[':status', '200']])), frame(0x0, 0x1, 1, Buffer.from('{"data":[]}'))]), 4);
    decoder.end(5, 'closed');
    expect(rec.exchanges).toHaveLength(1);
    expect(rec.exchanges[0]).toMatchObject({ protocol: 'h2', streamId: 1, request: { method: 'GET', path: '/v1/models' }, response: { status: 200 } });
    expect(rec.exchanges[0].response?.body.toString()).toBe('{"data":[]}');
    expect(rec.options.stats.malformed).toBe(0);
  });
});
