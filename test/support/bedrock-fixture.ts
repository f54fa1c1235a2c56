/** Builds Bedrock HttpExchanges and AWS event-stream bodies for provider tests. */
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type { HttpExchange } from '../../sensor/http/http-exchange';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

export interface StreamEvent {
  eventType: string;
  payload: unknown;
  messageType?: 'event' | 'exception' | 'error';
  extraHeaders?: Record<string, string>;
}

/** One event-stream frame, encoded by the same codec the AWS SDK uses. */
export function encodeEvent(event: StreamEvent): Buffer {
  const messageType = event.messageType ?? 'event';
  const headers: Parameters<EventStreamCodec['encode']>[0]['headers'] = {
    ':message-type': { type: 'string', value: messageType },
    ':content-type': { type: 'string', value: 'application/json' },
  };
  if (messageType === 'exception') headers[':exception-type'] = { type: 'string', value: event.eventType };
  else headers[':event-type'] = { type: 'string', value: event.eventType };
  for (const [name, value] of Object.entries(event.extraHeaders ?? {})) headers[name] = { type: 'string', value };
  const body = Buffer.from(typeof event.payload === 'string' ? event.payload : JSON.stringify(event.payload));
  return Buffer.from(codec.encode({ headers, body }));
}

export function encodeStream(events: StreamEvent[]): Buffer {
  return Buffer.concat(events.map(encodeEvent));
}

/** An `invoke-with-response-stream` chunk: the family's own event, base64 inside `{"bytes": ...}`. */
export function invokeChunk(familyEvent: unknown): StreamEvent {
  return { eventType: 'chunk', payload: { bytes: Buffer.from(JSON.stringify(familyEvent)).toString('base64') } };
}

export interface BedrockExchangeOptions {
  modelId: string;
  action: 'invoke' | 'invoke-with-response-stream' | 'converse' | 'converse-stream';
  requestBody: unknown;
  status?: number;
  responseBody?: unknown;
  responseHeaders?: Record<string, string>;
  authority?: string;
  /** When the model id is already URL-encoded as a client would send it. */
  rawModelSegment?: boolean;
  responseBodyTruncated?: boolean;
}

export function bedrockExchange(options: BedrockExchangeOptions): HttpExchange {
  const segment = options.rawModelSegment ? options.modelId : encodeURIComponent(options.modelId);
  const streaming = options.action.endsWith('stream');
  const responseBody = Buffer.isBuffer(options.responseBody)
    ? options.responseBody
    : Buffer.from(options.responseBody === undefined ? '' : JSON.stringify(options.responseBody));
  const status = options.status ?? 200;
  return {
    connection: { conn: 'c1', connectionId: 4, pid: 42, tid: 42, comm: 'node', cgroupId: 0n, fd: 7 },
    protocol: 'h2',
    streamId: 1,
    request: {
      method: 'POST',
      path: `/model/${segment}/${options.action}`,
      authority: options.authority ?? 'bedrock-runtime.us-east-1.amazonaws.com',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify(options.requestBody)),
      bodyTruncated: false,
      startTsMs: 1_000,
      endTsMs: 1_010,
    },
    response: {
      status,
      headers: {
        'content-type': streaming && status < 400 ? 'application/vnd.amazon.eventstream' : 'application/json',
        ...options.responseHeaders,
      },
      body: responseBody,
      bodyTruncated: options.responseBodyTruncated ?? false,
      startTsMs: 1_200,
      firstBodyByteTsMs: 1_250,
      endTsMs: 1_900,
      complete: true,
    },
  };
}
