/**
 * Real HTTP/2 traffic: Node's own http2 client and server (h2c on loopback) talk through a TCP proxy that
 * records both directions; the recording is then replayed into the decoder.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { gzipSync } from 'node:zlib';
import type { Direction } from '../../../sensor/capture/capture-event';
import type { HttpExchange } from '../../../sensor/http/http-exchange';
import { newHarness } from './h2-traffic';

interface RecordedChunk {
  dir: Direction;
  data: Buffer;
  tsMs: number;
}

const CHAT_REQUEST = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hi. '.repeat(3000) }] });
const CHAT_RESPONSE = JSON.stringify({ id: 'chatcmpl-42', choices: [{ message: { role: 'assistant', content: 'hi' } }], usage: { prompt_tokens: 3, completion_tokens: 1 } });
const GZIP_JSON = JSON.stringify({ data: Array.from({ length: 200 }, (_, i) => ({ id: `model-${i}`, object: 'model' })) });
const SSE_EVENTS = ['data: {"delta":"Hel"}\n\n', 'data: {"delta":"lo"}\n\n', 'data: [DONE]\n\n'];
const EVENT_GAP_MS = 25;

function handleStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
  const chunks: Buffer[] = [];
  // The client cancels the reset path on purpose.
  stream.on('error', () => undefined);
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('end', () => {
    const path = String(headers[':path']);
    if (path.startsWith('/v1/chat/completions')) {
      const echoed = Buffer.concat(chunks).toString() === CHAT_REQUEST ? 'yes' : 'no';
      stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-request-id': 'req-7', 'set-cookie': 'sid=secret-cookie', 'x-echo-ok': echoed });
      stream.end(CHAT_RESPONSE);
    } else if (path === '/v1/stream') {
      stream.respond({ ':status': 200, 'content-type': 'text/event-stream' });
      // Each write schedules the next, so consecutive events are at least EVENT_GAP_MS apart.
      const writeEvent = (i: number): void => {
        if (i === SSE_EVENTS.length - 1) {
          stream.end(SSE_EVENTS[i]);
          return;
        }
        stream.write(SSE_EVENTS[i]);
        setTimeout(() => writeEvent(i + 1), EVENT_GAP_MS);
      };
      writeEvent(0);
    } else if (path === '/v1/models') {
      stream.respond({ ':status': 200, 'content-type': 'application/json', 'content-encoding': 'gzip' });
      stream.end(gzipSync(GZIP_JSON));
    } else if (path === '/v1/reset') {
      // Never ends: the client cancels the stream with RST_STREAM once it has seen the first bytes.
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.write('partial');
    } else {
      stream.respond({ ':status': 404 });
      stream.end();
    }
  });
}

function startRecordingProxy(targetPort: number, recording: RecordedChunk[]): Promise<{ proxy: net.Server; port: number; closed: Promise<void> }> {
  let markClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  const proxy = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const record = (dir: Direction) => (data: Buffer) => recording.push({ dir, data: Buffer.from(data), tsMs: performance.timeOrigin + performance.now() });
    client.on('data', record('out'));
    upstream.on('data', record('in'));
    client.pipe(upstream);
    upstream.pipe(client);
    const stop = () => {
      client.destroy();
      upstream.destroy();
      markClosed();
    };
    client.on('close', stop);
    upstream.on('close', stop);
    client.on('error', stop);
    upstream.on('error', stop);
  });
  return new Promise((resolve) => proxy.listen(0, '127.0.0.1', () => resolve({ proxy, port: (proxy.address() as net.AddressInfo).port, closed })));
}

interface ClientResult {
  status?: number;
  body: string;
  rstCode?: number;
}

function clientRequest(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  options: { body?: string; cancelAfterFirstData?: boolean } = {},
): Promise<ClientResult> {
  return new Promise((resolve) => {
    const req = session.request(headers, { endStream: options.body === undefined });
    const result: ClientResult = { body: '' };
    req.on('response', (responseHeaders) => (result.status = Number(responseHeaders[':status'])));
    req.on('data', (chunk: Buffer) => {
      result.body += chunk.toString();
      if (options.cancelAfterFirstData) req.close(http2.constants.NGHTTP2_CANCEL);
    });
    req.on('error', () => undefined);
    req.on('close', () => {
      result.rstCode = req.rstCode;
      resolve(result);
    });
    if (options.body !== undefined) req.end(options.body);
  });
}

async function recordConversation(): Promise<{ recording: RecordedChunk[]; authority: string; clientResults: ClientResult[] }> {
  const recording: RecordedChunk[] = [];
  const server = http2.createServer();
  server.on('stream', handleStream);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { proxy, port, closed } = await startRecordingProxy((server.address() as net.AddressInfo).port, recording);
  const authority = `127.0.0.1:${port}`;
  const session = http2.connect(`http://${authority}`);
  try {
    const clientResults = await Promise.all([
      clientRequest(
        session,
        {
          ':method': 'POST',
          ':path': '/v1/chat/completions?api-version=1&api-key=sk-query-secret',
          'content-type': 'application/json',
          authorization: 'Bearer sk-header-secret',
        },
        { body: CHAT_REQUEST },
      ),
      clientRequest(session, { ':path': '/v1/stream', accept: 'text/event-stream' }),
      clientRequest(session, { ':path': '/v1/models', 'accept-encoding': 'gzip' }),
      clientRequest(session, { ':path': '/v1/reset' }, { cancelAfterFirstData: true }),
    ]);
    return { recording, authority, clientResults };
  } finally {
    session.close();
    await closed;
    proxy.close();
    server.close();
  }
}

function replay(recording: RecordedChunk[], split: (data: Buffer) => Buffer[]) {
  const harness = newHarness();
  let lastTs = 0;
  for (const chunk of recording) {
    for (const piece of split(chunk.data)) harness.decoder.push(chunk.dir, piece, chunk.tsMs);
    lastTs = chunk.tsMs;
  }
  harness.decoder.end(lastTs + 1);
  return harness;
}

const byPath = (exchanges: HttpExchange[], prefix: string): HttpExchange => {
  const found = exchanges.find((e) => e.request.path.startsWith(prefix));
  if (found === undefined) throw new Error(`no exchange for ${prefix}; have ${exchanges.map((e) => e.request.path).join(', ')}`);
  return found;
};

describe('HTTP/2 traffic recorded from Node http2', () => {
  let recorded: Awaited<ReturnType<typeof recordConversation>>;

  beforeAll(async () => {
    recorded = await recordConversation();
  });

  it('the fixture itself behaved as scripted', () => {
    const [chat, stream, models, reset] = recorded.clientResults;
    expect(chat).toEqual({ status: 200, body: CHAT_RESPONSE, rstCode: http2.constants.NGHTTP2_NO_ERROR });
    expect(stream.body).toBe(SSE_EVENTS.join(''));
    expect(models.status).toBe(200);
    expect(reset).toEqual({ status: 200, body: 'partial', rstCode: http2.constants.NGHTTP2_CANCEL });
  });

  it('decodes every concurrent stream into an exchange with the right heads and bodies', () => {
    const { exchanges, errors, options } = replay(recorded.recording, (data) => [data]);
    expect(errors).toEqual([]);
    expect(exchanges).toHaveLength(4);
    expect(new Set(exchanges.map((e) => e.streamId)).size).toBe(4);
    for (const exchange of exchanges) {
      expect(exchange.protocol).toBe('h2');
      expect(exchange.streamId! % 2).toBe(1);
      expect(exchange.request.authority).toBe(recorded.authority);
    }
    expect(options.stats).toMatchObject({ exchanges: 4, malformed: 0, ignoredExchanges: 0 });

    const chat = byPath(exchanges, '/v1/chat/completions');
    expect(chat.request.method).toBe('POST');
    expect(chat.request.path).toBe('/v1/chat/completions?api-version=1');
    expect(chat.request.headers['content-type']).toBe('application/json');
    expect(chat.request.headers).not.toHaveProperty('authorization');
    // The request body spans several DATA frames (it is bigger than the 16 KiB default frame size).
    expect(chat.request.body.toString()).toBe(CHAT_REQUEST);
    expect(chat.request.bodyTruncated).toBe(false);
    expect(chat.response).toMatchObject({ status: 200, complete: true, bodyTruncated: false });
    expect(chat.response!.headers).toMatchObject({ 'content-type': 'application/json', 'x-request-id': 'req-7', 'x-echo-ok': 'yes' });
    expect(chat.response!.headers).not.toHaveProperty('set-cookie');
    expect(chat.response!.body.toString()).toBe(CHAT_RESPONSE);
    expect(JSON.stringify(exchanges.map((e) => [e.request, e.response]))).not.toMatch(/secret/);
  });

  it('keeps a streamed response whole and times its first and last body bytes', () => {
    const { exchanges } = replay(recorded.recording, (data) => [data]);
    const stream = byPath(exchanges, '/v1/stream');
    expect(stream.request).toMatchObject({ method: 'GET', headers: { accept: 'text/event-stream' } });
    const response = stream.response!;
    expect(response).toMatchObject({ status: 200, complete: true, headers: { 'content-type': 'text/event-stream' } });
    expect(response.body.toString()).toBe(SSE_EVENTS.join(''));
    expect(response.firstBodyByteTsMs).toBeGreaterThanOrEqual(response.startTsMs);
    // The times are those of the recorded chunks that carried the first and the last event, not of
    // the server's timers: the proxy can read a spaced write late, which shortens the gap it sees.
    const carrying = (event: string) => recorded.recording.filter((chunk) => chunk.dir === 'in' && chunk.data.includes(Buffer.from(event)));
    expect(carrying(SSE_EVENTS[0])).toHaveLength(1);
    expect(carrying(SSE_EVENTS[SSE_EVENTS.length - 1])).toHaveLength(1);
    expect(response.firstBodyByteTsMs).toBe(carrying(SSE_EVENTS[0])[0].tsMs);
    expect(response.endTsMs).toBe(carrying(SSE_EVENTS[SSE_EVENTS.length - 1])[0].tsMs);
    // Equal only if the proxy read all three spaced writes in one chunk.
    expect(response.endTsMs).toBeGreaterThanOrEqual(response.firstBodyByteTsMs!);
    expect(stream.request.startTsMs).toBeLessThanOrEqual(response.startTsMs);
  });

  it('decodes a gzip-encoded response body', () => {
    const models = byPath(replay(recorded.recording, (data) => [data]).exchanges, '/v1/models');
    expect(models.request.headers['accept-encoding']).toBe('gzip');
    expect(models.response!.headers['content-encoding']).toBe('gzip');
    expect(models.response!.body.toString()).toBe(GZIP_JSON);
  });

  it('flushes the stream the client reset, with the body it got so far', () => {
    const reset = byPath(replay(recorded.recording, (data) => [data]).exchanges, '/v1/reset');
    expect(reset.response).toMatchObject({ status: 200, complete: false, bodyTruncated: true });
    // The exchange is flushed at the RST_STREAM, not at connection end.
    const rst = recorded.recording.find((chunk) => chunk.dir === 'out' && chunk.tsMs >= reset.response!.startTsMs && chunk.data.includes(Buffer.from([0, 0, 4, 3])));
    expect(rst).toBeDefined();
    expect(reset.response!.endTsMs).toBe(rst!.tsMs);
    expect(reset.response!.body.toString()).toBe('partial');
  });

  it('decodes the same exchanges when the recording is re-chunked at random points', () => {
    const reference = replay(recorded.recording, (data) => [data]).exchanges;
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const rechunked = replay(recorded.recording, (data) => {
      const pieces: Buffer[] = [];
      for (let at = 0; at < data.length; ) {
        const size = 1 + Math.floor(random() * 40);
        pieces.push(data.subarray(at, at + size));
        at += size;
      }
      return pieces;
    });
    const bodies = (list: HttpExchange[]) =>
      list.map((e) => [e.streamId, e.request.path, e.request.body.toString(), e.response?.status, e.response?.body.toString(), e.response?.complete]);
    expect(rechunked.errors).toEqual([]);
    expect(bodies(rechunked.exchanges)).toEqual(bodies(reference));
  });
});
