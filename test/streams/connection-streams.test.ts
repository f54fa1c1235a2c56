import type { CaptureEvent } from '../../sensor/capture/capture-event';
import { DEFAULT_HTTP_LIMITS, newHttpDecodeStats } from '../../sensor/http/connection-decoder';
import type { HttpExchange } from '../../sensor/http/http-exchange';
import { ConnectionStreams } from '../../sensor/streams/connection-streams';

const REQUEST_BODY = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] });
const REQUEST = `POST /v1/chat/completions HTTP/1.1\r\nhost: api.example\r\ncontent-type: application/json\r\ncontent-length: ${REQUEST_BODY.length}\r\n\r\n${REQUEST_BODY}`;
const RESPONSE_BODY = '{"id":"x","choices":[]}';
const RESPONSE = `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${RESPONSE_BODY.length}\r\n\r\n${RESPONSE_BODY}`;

/** The capture numbers connections; here each distinct name gets the next number. */
const connectionIds = new Map<string, number>();
const idOf = (conn: string) => connectionIds.get(conn) ?? connectionIds.set(conn, connectionIds.size + 1).get(conn)!;

function event(conn: string, dir: 'in' | 'out', text: string, tsMs: number, extra: Partial<CaptureEvent> = {}): CaptureEvent {
  return {
    tsMs,
    pid: Number(conn.split('-')[0]),
    tid: 1,
    comm: 'client',
    conn,
    connectionId: idOf(conn),
    dir,
    data: Buffer.from(text, 'latin1'),
    cgroupId: 7n,
    fd: -1,
    lostBeforeBytes: 0,
    truncatedBytes: 0,
    streamStart: false,
    ...extra,
  };
}

const closed = (conn: string, tsMs: number) => ({ conn, connectionId: idOf(conn), pid: Number(conn.split('-')[0]), tsMs });

function streams(maxConnections = 100) {
  const exchanges: HttpExchange[] = [];
  const opened: string[] = [];
  const stats = newHttpDecodeStats();
  const s = new ConnectionStreams({
    idleTimeoutMs: 1000,
    maxConnections,
    onConnectionOpened: (context) => opened.push(context.conn),
    decoder: { limits: DEFAULT_HTTP_LIMITS, stats, isInteresting: () => true, onExchange: (e) => exchanges.push(e) },
  });
  return { s, exchanges, opened, stats };
}

test('interleaved buffers of two connections become two exchanges with their own connection context', () => {
  const { s, exchanges, opened } = streams();
  s.push(event('10-a-1', 'out', REQUEST.slice(0, 40), 1));
  s.push(event('20-b-2', 'out', REQUEST.slice(0, 10), 2));
  s.push(event('10-a-1', 'out', REQUEST.slice(40), 3));
  s.push(event('20-b-2', 'out', REQUEST.slice(10), 4));
  s.push(event('20-b-2', 'in', RESPONSE, 5));
  s.push(event('10-a-1', 'in', RESPONSE, 6));
  expect(opened).toEqual(['10-a-1', '20-b-2']);
  expect(exchanges.map((e) => [e.connection.conn, e.connection.pid, e.request.body.toString(), e.response?.status])).toEqual([
    ['20-b-2', 20, REQUEST_BODY, 200],
    ['10-a-1', 10, REQUEST_BODY, 200],
  ]);
  expect(exchanges[0].connection.cgroupId).toBe(7n);
});

test('a capture gap inside a body reaches the decoder: the body is marked truncated and the gap counted', () => {
  const { s, exchanges } = streams();
  const headEnd = RESPONSE.indexOf('\r\n\r\n') + 4;
  s.push(event('10-a-1', 'out', REQUEST, 1));
  s.push(event('10-a-1', 'in', RESPONSE.slice(0, headEnd + 5), 2));
  // Ten body bytes never arrived (ring buffer full); the next record reports them.
  s.push(event('10-a-1', 'in', RESPONSE.slice(headEnd + 15), 3, { lostBeforeBytes: 10 }));
  expect(s.stats).toMatchObject({ gaps: 1, gapBytes: 10 });
  expect(exchanges).toHaveLength(1);
  expect(exchanges[0].response?.bodyTruncated).toBe(true);
});

test('bytes truncated at the per-call limit are a gap after the data', () => {
  const { s, exchanges } = streams();
  const cut = REQUEST.length - 20;
  s.push(event('10-a-1', 'out', REQUEST.slice(0, cut), 1, { truncatedBytes: 20 }));
  s.push(event('10-a-1', 'in', RESPONSE, 2));
  expect(s.stats.gapBytes).toBe(20);
  expect(exchanges).toHaveLength(1);
  expect(exchanges[0].request.bodyTruncated).toBe(true);
});

test('closing a connection flushes its unfinished exchange as incomplete, once', () => {
  const { s, exchanges } = streams();
  s.push(event('10-a-1', 'out', REQUEST, 1));
  s.push(event('10-a-1', 'in', RESPONSE.slice(0, RESPONSE.length - 3), 2));
  s.close(closed('10-a-1', 3));
  s.close(closed('10-a-1', 4));
  expect(exchanges).toHaveLength(1);
  expect(exchanges[0].response?.complete).toBe(false);
  expect(s.openConnections).toBe(0);
  expect(s.stats.connectionsClosed).toBe(1);
});

test('idle connections are swept, active ones kept; a full table evicts the least recently active', () => {
  const { s, exchanges } = streams(2);
  s.push(event('1-a-1', 'out', REQUEST, 0));
  s.push(event('2-b-2', 'out', REQUEST, 500));
  s.push(event('1-a-1', 'in', RESPONSE.slice(0, 10), 900)); // 1-a-1 is now the most recent
  s.sweep(1600); // 2-b-2 idle for 1100 ms; 1-a-1 for 700 ms
  expect(s.openConnections).toBe(1);
  expect(exchanges.map((e) => e.connection.conn)).toEqual(['2-b-2']);
  s.push(event('3-c-3', 'out', REQUEST, 1700));
  s.push(event('4-d-4', 'out', REQUEST, 1800)); // table full: the least recently active (1-a-1) goes
  expect(exchanges.map((e) => e.connection.conn)).toEqual(['2-b-2', '1-a-1']);
  expect(s.stats.connectionsEvicted).toBe(2);
  s.endAll(2000);
  expect(exchanges.map((e) => e.connection.conn).sort()).toEqual(['1-a-1', '2-b-2', '3-c-3', '4-d-4']);
});

test('only a seen close completes a body delimited by the connection close; eviction, idleness and shutdown leave it truncated', () => {
  const { s, exchanges } = streams(2);
  const request = 'GET /stream HTTP/1.1\r\nhost: api.example\r\n\r\n';
  const response = 'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\ndata: 1\n\n';
  for (const [conn, ts] of [['1-closed-1', 0], ['2-idle-2', 10]] as const) {
    s.push(event(conn, 'out', request, ts));
    s.push(event(conn, 'in', response, ts + 1));
  }
  s.close(closed('1-closed-1', 20));
  s.sweep(2000);
  for (const [conn, ts] of [['3-evicted-3', 2100], ['4-shutdown-4', 2200]] as const) {
    s.push(event(conn, 'out', request, ts));
    s.push(event(conn, 'in', response, ts + 1));
  }
  s.push(event('5-new-5', 'out', request, 2300)); // table full: 3-evicted-3 goes
  s.endAll(2400);
  const outcome = Object.fromEntries(exchanges.map((e) => [e.connection.conn, [e.response?.complete, e.response?.bodyTruncated]]));
  expect(outcome).toEqual({
    '1-closed-1': [true, false],
    '2-idle-2': [false, true],
    '3-evicted-3': [false, true],
    '4-shutdown-4': [false, true],
    '5-new-5': [undefined, undefined],
  });
});

test('an event after bytes the kernel skipped starts a fresh decoder: the next request is read from its first byte', () => {
  const { s, exchanges, stats } = streams();
  // A keep-alive connection: an LLM call, then the kernel skipped an ordinary exchange, then another LLM call.
  s.push(event('30-k-1', 'out', REQUEST, 1));
  s.push(event('30-k-1', 'in', RESPONSE, 2));
  // Left over by a request whose body the kernel then skipped: without a restart it would corrupt what follows.
  s.push(event('30-k-1', 'out', 'POST /api/orders HTTP/1.1\r\ncontent-length: 5000\r\n\r\n{"partial', 3));
  s.push(event('30-k-1', 'out', REQUEST, 4, { streamStart: true }));
  s.push(event('30-k-1', 'in', RESPONSE, 5));
  // The cut-off request is flushed unfinished (this test keeps every request); the next one is read whole.
  expect(exchanges.map((e) => [e.request.path, e.response?.status, e.request.bodyTruncated])).toEqual([
    ['/v1/chat/completions', 200, false],
    ['/api/orders', undefined, true],
    ['/v1/chat/completions', 200, false],
  ]);
  expect(exchanges[2].request.body.toString()).toBe(REQUEST_BODY);
  expect(stats.malformed).toBe(0);
  expect(s.stats.streamRestarts).toBe(1);
});
