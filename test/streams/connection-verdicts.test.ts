import type { RequestHead } from '../../sensor/http/connection-decoder';
import type { ConnectionContext } from '../../sensor/http/http-exchange';
import { ConnectionJudge, type ConnectionVerdict } from '../../sensor/streams/connection-verdicts';

const connection = (connectionId: number): ConnectionContext => ({ conn: `1-${connectionId}`, connectionId, pid: 1, tid: 1, comm: 'node', cgroupId: 0n, fd: -1 });
const head = (path: string, authority = 'svc.internal', method = 'GET'): RequestHead => ({ method, path, authority, headers: {} });

function judge(http2MuteAfterRequests = 3, llmHosts: string[] = ['api.openai.com']) {
  const verdicts: Array<[number, ConnectionVerdict]> = [];
  const judged = new ConnectionJudge({
    http2MuteAfterRequests,
    isLlmAuthority: (authority) => llmHosts.includes(authority),
    onVerdict: (c, verdict) => verdicts.push([c.connectionId, verdict]),
  });
  return { judged, verdicts };
}

test('an HTTP/2 connection is followed at its first LLM request, once', () => {
  const { judged, verdicts } = judge();
  judged.requestHead(connection(1), 'h2', head('/v1/models'), false);
  judged.requestHead(connection(1), 'h2', head('/v1/chat/completions', 'svc.internal', 'POST'), true);
  judged.requestHead(connection(1), 'h2', head('/v1/chat/completions', 'svc.internal', 'POST'), true);
  expect(verdicts).toEqual([[1, 'follow']]);
});

test('an HTTP/2 connection is muted after the configured number of requests without an LLM call', () => {
  const { judged, verdicts } = judge(3);
  for (let i = 0; i < 5; i++) judged.requestHead(connection(2), 'h2', head(`/items/${i}`), false);
  expect(verdicts).toEqual([[2, 'mute']]);
  expect(judged.watchedConnections).toBe(0);
});

test('a provider host, or a host seen carrying an LLM call before, is followed from its first request', () => {
  const { judged, verdicts } = judge(3);
  judged.requestHead(connection(3), 'h2', head('/v1/models', 'api.openai.com'), false);
  // An LLM call over HTTP/1.1 teaches the host; its HTTP/2 connections are then followed whole.
  judged.requestHead(connection(4), 'http/1.1', head('/v1/chat/completions', 'vllm.internal:8000', 'POST'), true);
  judged.requestHead(connection(5), 'h2', head('/health', 'vllm.internal:8000'), false);
  expect(verdicts).toEqual([
    [3, 'follow'],
    [5, 'follow'],
  ]);
});

test('HTTP/1.1 heads are the kernel\'s to judge: user space gives no verdict on them', () => {
  const { judged, verdicts } = judge(1);
  judged.requestHead(connection(6), 'http/1.1', head('/healthz'), false);
  judged.requestHead(connection(6), 'http/1.1', head('/v1/chat/completions', 'x', 'POST'), true);
  expect(verdicts).toEqual([]);
});

test('0 never mutes an HTTP/2 connection; an undecodable connection is muted; a closed one is forgotten', () => {
  const { judged, verdicts } = judge(0);
  for (let i = 0; i < 50; i++) judged.requestHead(connection(7), 'h2', head(`/x/${i}`), false);
  expect(verdicts).toEqual([]);
  judged.undecodable(connection(8), 'not HTTP');
  judged.undecodable(connection(8), 'not HTTP');
  expect(verdicts).toEqual([[8, 'mute']]);
  judged.forget(8);
  judged.undecodable(connection(8), 'a new connection reusing nothing');
  expect(verdicts).toEqual([
    [8, 'mute'],
    [8, 'mute'],
  ]);
});
