import { parseSse, parseSseEvents, type SseEvent } from '../../sensor/http/sse';

const body = (text: string) => Buffer.from(text, 'utf8');

describe('parseSseEvents', () => {
  it('splits events with names, ids and multi-line data', () => {
    const events = parseSseEvents(body('event: ping\nid: 7\ndata: {"a":1}\n\n: comment\ndata: line one\ndata: line two\n\n'));
    expect(events).toEqual([
      { event: 'ping', id: '7', data: '{"a":1}' },
      { data: 'line one\nline two' },
    ]);
  });

  it('accepts CRLF line endings', () => {
    expect(parseSseEvents(body('data: x\r\n\r\ndata: y\r\n\r\n'))).toEqual([{ data: 'x' }, { data: 'y' }]);
  });

  it('reports a truncated last event instead of throwing, and keeps the complete ones', () => {
    const truncated: SseEvent[] = [];
    const events = parseSseEvents(body('data: {"n":1}\n\ndata: {"n":2}\n\ndata: {"n":'), (event) => truncated.push(event));
    expect(events).toEqual([{ data: '{"n":1}' }, { data: '{"n":2}' }]);
    expect(truncated).toEqual([{ data: '{"n":' }]);
  });

  it('treats a last event missing only its blank line as truncated', () => {
    const result = parseSse(body('data: a\n\nevent: message_stop\ndata: {}\n'));
    expect(result.events).toEqual([{ data: 'a' }]);
    expect(result.truncatedEvent).toEqual({ event: 'message_stop', data: '{}' });
  });

  it('has no truncated event when the body ends on a boundary', () => {
    expect(parseSse(body('data: a\n\n')).truncatedEvent).toBeUndefined();
  });

  it('survives an empty body and binary noise', () => {
    expect(parseSseEvents(Buffer.alloc(0))).toEqual([]);
    expect(() => parseSseEvents(Buffer.from([0xff, 0x00, 0x0a, 0x0a, 0xc3]))).not.toThrow();
  });
});
