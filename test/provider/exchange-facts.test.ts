/** How a response is judged to be server-sent events: by its Content-Type, or by its first field when that is gone. */
import { looksLikeSse } from '../../sensor/provider/exchange-facts';

const body = (text: string) => Buffer.from(text, 'utf8');

test.each([
  ['a JSON object', {}, '{"id":"x"}', false],
  ['a JSON array', {}, '[{"id":"x"}]', false],
  ['a JSON object, with the event-stream type', { 'content-type': 'Text/Event-Stream; charset=utf-8' }, '{"id":"x"}', true],
  ['data first', {}, 'data: {"id":"x"}\n\n', true],
  ['an event first', {}, 'event: message_start\ndata: {}\n\n', true],
  ['a comment first', {}, ': keep-alive\n\n', true],
  ['whitespace, then data', {}, '\r\n  \tdata: {}\n\n', true],
  ['a byte-order mark, then data', {}, '\ufeffdata: {}\n\n', true],
  ['whitespace, then JSON', {}, '\n {"id":"x"}', false],
  ['plain text', { 'content-type': 'text/plain' }, 'hello', false],
  ['nothing', {}, '', false],
])('%s: %s', (_name, headers, text, expected) => {
  expect(looksLikeSse(headers, body(text))).toBe(expected);
});
