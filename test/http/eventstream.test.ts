import { crc32 } from 'zlib';
import { EventStreamCodec, Int64 } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { decodeEventStream } from '../../sensor/http/eventstream';
import { encodeEvent, encodeStream } from '../support/bedrock-fixture';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

/** A frame built by hand from the published layout, independent of the codec. */
function handBuiltFrame(eventType: string, payload: string): Buffer {
  const header = (name: string, value: string): Buffer => {
    const nameBytes = Buffer.from(name);
    const valueBytes = Buffer.from(value);
    const out = Buffer.alloc(1 + nameBytes.length + 1 + 2 + valueBytes.length);
    out.writeUInt8(nameBytes.length, 0);
    nameBytes.copy(out, 1);
    out.writeUInt8(7, 1 + nameBytes.length); // 7 = string
    out.writeUInt16BE(valueBytes.length, 2 + nameBytes.length);
    valueBytes.copy(out, 4 + nameBytes.length);
    return out;
  };
  const headers = Buffer.concat([header(':event-type', eventType), header(':message-type', 'event')]);
  const body = Buffer.from(payload);
  const total = 12 + headers.length + body.length + 4;
  const prelude = Buffer.alloc(12);
  prelude.writeUInt32BE(total, 0);
  prelude.writeUInt32BE(headers.length, 4);
  prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
  const withoutCrc = Buffer.concat([prelude, headers, body]);
  const messageCrc = Buffer.alloc(4);
  messageCrc.writeUInt32BE(crc32(withoutCrc), 0);
  return Buffer.concat([withoutCrc, messageCrc]);
}

const threeEvents = [
  { eventType: 'messageStart', payload: { role: 'assistant' } },
  { eventType: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: 'Hello' } } },
  { eventType: 'messageStop', payload: { stopReason: 'end_turn' } },
];

describe('decodeEventStream', () => {
  it('decodes every message with its headers, event type, message type and payload', () => {
    const decoded = decodeEventStream(encodeStream(threeEvents));
    expect(decoded.error).toBeUndefined();
    expect(decoded.messages.map((m) => m.eventType)).toEqual(['messageStart', 'contentBlockDelta', 'messageStop']);
    expect(decoded.messages.every((m) => m.messageType === 'event')).toBe(true);
    expect(decoded.messages[1].headers[':content-type']).toBe('application/json');
    expect(JSON.parse(decoded.messages[1].payload.toString())).toEqual({ contentBlockIndex: 0, delta: { text: 'Hello' } });
  });

  it('reads a frame built byte by byte from the specification', () => {
    const frame = handBuiltFrame('chunk', '{"bytes":"e30="}');
    const viaCodec = Buffer.from(
      codec.encode({
        headers: { ':event-type': { type: 'string', value: 'chunk' }, ':message-type': { type: 'string', value: 'event' } },
        body: Buffer.from('{"bytes":"e30="}'),
      }),
    );
    expect(viaCodec.equals(frame)).toBe(true);
    const decoded = decodeEventStream(frame);
    expect(decoded).toEqual({
      messages: [
        {
          headers: { ':event-type': 'chunk', ':message-type': 'event' },
          eventType: 'chunk',
          messageType: 'event',
          payload: Buffer.from('{"bytes":"e30="}'),
        },
      ],
    });
  });

  it('converts every header value type to a plain value', () => {
    const when = new Date('2024-06-20T10:00:00.000Z');
    const frame = Buffer.from(
      codec.encode({
        headers: {
          flag: { type: 'boolean', value: true },
          off: { type: 'boolean', value: false },
          small: { type: 'byte', value: -3 },
          short: { type: 'short', value: 300 },
          int: { type: 'integer', value: 70000 },
          long: { type: 'long', value: Int64.fromNumber(5_000_000_000) },
          raw: { type: 'binary', value: Uint8Array.from([1, 2, 3]) },
          at: { type: 'timestamp', value: when },
        },
        body: new Uint8Array(0),
      }),
    );
    const [message] = decodeEventStream(frame).messages;
    expect(message.headers).toEqual({
      flag: true,
      off: false,
      small: -3,
      short: 300,
      int: 70000,
      long: 5_000_000_000,
      raw: Buffer.from([1, 2, 3]).toString('base64'),
      at: '2024-06-20T10:00:00.000Z',
    });
    expect(message.eventType).toBeUndefined();
    expect(message.payload.length).toBe(0);
  });

  it('answers nothing and no error for an empty body', () => {
    expect(decodeEventStream(Buffer.alloc(0))).toEqual({ messages: [] });
  });

  it('keeps the complete messages when the last one is cut at any byte', () => {
    const whole = encodeStream(threeEvents);
    const lastStart = whole.length - encodeEvent(threeEvents[2]).length;
    for (let cut = lastStart + 1; cut < whole.length; cut++) {
      const decoded = decodeEventStream(whole.subarray(0, cut));
      expect(decoded.messages.map((m) => m.eventType)).toEqual(['messageStart', 'contentBlockDelta']);
      expect(decoded.error).toMatch(new RegExp(`^truncated event-stream message at byte ${lastStart}`));
    }
  });

  it('stops at a message whose prelude CRC is wrong', () => {
    const whole = encodeStream(threeEvents);
    const secondStart = encodeEvent(threeEvents[0]).length;
    const broken = Buffer.from(whole);
    broken[secondStart + 8] ^= 0xff; // first byte of the prelude CRC
    const decoded = decodeEventStream(broken);
    expect(decoded.messages.map((m) => m.eventType)).toEqual(['messageStart']);
    expect(decoded.error).toBe(`event-stream prelude CRC mismatch at byte ${secondStart}`);
  });

  it('reads a corrupted length as corruption, not as truncation', () => {
    const broken = Buffer.from(encodeStream(threeEvents));
    broken[1] = 0x7f; // total length of the first message, now far past the end
    const decoded = decodeEventStream(broken);
    expect(decoded.messages).toEqual([]);
    expect(decoded.error).toBe('event-stream prelude CRC mismatch at byte 0');
  });

  it('stops at a message whose payload no longer matches its message CRC', () => {
    const whole = encodeStream(threeEvents);
    const thirdStart = whole.length - encodeEvent(threeEvents[2]).length;
    const broken = Buffer.from(whole);
    broken[whole.length - 6] ^= 0x01; // a payload byte of the last message
    const decoded = decodeEventStream(broken);
    expect(decoded.messages.map((m) => m.eventType)).toEqual(['messageStart', 'contentBlockDelta']);
    expect(decoded.error).toMatch(new RegExp(`^bad event-stream message at byte ${thirdStart}: .*checksum`));
  });

  it('rejects a length below the frame minimum even with a valid prelude CRC', () => {
    const prelude = Buffer.alloc(16);
    prelude.writeUInt32BE(8, 0);
    prelude.writeUInt32BE(0, 4);
    prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
    const decoded = decodeEventStream(prelude);
    expect(decoded.messages).toEqual([]);
    expect(decoded.error).toBe('event-stream message length 8 out of range at byte 0');
  });

  it('does not let a decoded payload share memory with the captured body', () => {
    const body = encodeStream([threeEvents[0]]);
    const [message] = decodeEventStream(body).messages;
    body.fill(0);
    expect(JSON.parse(message.payload.toString())).toEqual({ role: 'assistant' });
  });
});
