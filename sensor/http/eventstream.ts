/**
 * AWS event-stream framing (`application/vnd.amazon.eventstream`), as Bedrock uses it for
 * `converse-stream` and `invoke-with-response-stream` bodies.
 *
 * Frame layout: total length (4) | headers length (4) | prelude CRC32 (4) | headers | payload | message CRC32 (4).
 * The codec decodes and CRC-checks one frame; splitting a body into frames is done here.
 */
import { crc32 } from 'zlib';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';

export type EventStreamHeaderValue = string | number | boolean;

export interface EventStreamMessage {
  headers: Record<string, EventStreamHeaderValue>;
  /** `:event-type` header (e.g. `chunk`, `contentBlockDelta`). */
  eventType?: string;
  /** `:message-type` header: `event`, `exception` or `error`. */
  messageType?: string;
  payload: Buffer;
}

export interface DecodedEventStream {
  /** Every complete, CRC-valid message before the first bad or missing byte. */
  messages: EventStreamMessage[];
  /** Why decoding stopped early, when it did (truncated tail, CRC mismatch, bad header). */
  error?: string;
}

const PRELUDE_BYTES = 12;
const MESSAGE_CRC_BYTES = 4;
const MINIMUM_MESSAGE_BYTES = PRELUDE_BYTES + MESSAGE_CRC_BYTES;
/** The event-stream specification caps one message at 16 MiB; anything larger is a corrupt length. */
const MAXIMUM_MESSAGE_BYTES = 16 * 1024 * 1024;

const codec = new EventStreamCodec(toUtf8, fromUtf8);
type MessageHeaderValue = ReturnType<EventStreamCodec['decode']>['headers'][string];

/** Decodes a whole (possibly truncated or damaged) event-stream body. Never throws. */
export function decodeEventStream(body: Buffer): DecodedEventStream {
  const messages: EventStreamMessage[] = [];
  let offset = 0;
  while (offset < body.length) {
    const remaining = body.length - offset;
    if (remaining < PRELUDE_BYTES) {
      return { messages, error: `truncated event-stream message at byte ${offset}: ${remaining} bytes left, the prelude needs ${PRELUDE_BYTES}` };
    }
    const preludeProblem = checkPrelude(body, offset);
    if (preludeProblem) return { messages, error: `${preludeProblem} at byte ${offset}` };
    const totalLength = body.readUInt32BE(offset);
    if (totalLength > remaining) {
      return { messages, error: `truncated event-stream message at byte ${offset}: declares ${totalLength} bytes, ${remaining} present` };
    }
    try {
      const decoded = codec.decode(body.subarray(offset, offset + totalLength));
      messages.push(toMessage(decoded.headers, decoded.body));
    } catch (err) {
      return { messages, error: `bad event-stream message at byte ${offset}: ${(err as Error).message}` };
    }
    offset += totalLength;
  }
  return { messages };
}

/** Checked before trusting the declared length, so a corrupt length reads as corruption, not truncation. */
function checkPrelude(body: Buffer, offset: number): string | undefined {
  const totalLength = body.readUInt32BE(offset);
  const headersLength = body.readUInt32BE(offset + 4);
  const expectedCrc = body.readUInt32BE(offset + 8);
  if (crc32(body.subarray(offset, offset + 8)) !== expectedCrc) return 'event-stream prelude CRC mismatch';
  if (totalLength < MINIMUM_MESSAGE_BYTES || totalLength > MAXIMUM_MESSAGE_BYTES) {
    return `event-stream message length ${totalLength} out of range`;
  }
  if (headersLength > totalLength - MINIMUM_MESSAGE_BYTES) {
    return `event-stream headers length ${headersLength} exceeds message length ${totalLength}`;
  }
  return undefined;
}

function toMessage(rawHeaders: Record<string, MessageHeaderValue>, payload: Uint8Array): EventStreamMessage {
  const headers: Record<string, EventStreamHeaderValue> = {};
  for (const [name, header] of Object.entries(rawHeaders)) headers[name] = headerValue(header);
  const eventType = headers[':event-type'];
  const messageType = headers[':message-type'];
  return {
    headers,
    eventType: typeof eventType === 'string' ? eventType : undefined,
    messageType: typeof messageType === 'string' ? messageType : undefined,
    // Copy: the codec's view shares memory with the captured body.
    payload: Buffer.from(payload),
  };
}

function headerValue(header: MessageHeaderValue): EventStreamHeaderValue {
  switch (header.type) {
    case 'boolean':
    case 'byte':
    case 'short':
    case 'integer':
    case 'string':
      return header.value;
    case 'long':
      return header.value.valueOf();
    case 'binary':
      return Buffer.from(header.value).toString('base64');
    case 'timestamp':
      return header.value.toISOString();
    case 'uuid':
      return header.value;
    default:
      return String((header as { value: unknown }).value);
  }
}
