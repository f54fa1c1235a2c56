/**
 * OTLP trace requests in (protobuf or JSON) and export responses out.
 *
 * @opentelemetry/otlp-transformer only serialises requests from SDK spans and parses responses; it cannot
 * decode an ExportTraceServiceRequest. So requests are decoded with protobufjs against the OTLP trace
 * definitions below (opentelemetry-proto trace/v1, common/v1, resource/v1, collector/trace/v1; only the
 * fields a receiver reads, unknown fields are skipped by protobuf itself).
 */
import * as protobuf from 'protobufjs';
import type { AttributeValue, Attributes, GenAiSpan } from '../span/gen-ai-span';

const OTLP_TRACE_PROTO = `
syntax = "proto3";
package otlp;

message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; }
message Resource { repeated KeyValue attributes = 1; }

message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  string trace_state = 3;
  bytes parent_span_id = 4;
  string name = 5;
  int32 kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9;
  repeated Event events = 11;
  Status status = 15;
  message Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; }
}
message Status { string message = 2; int32 code = 3; }

message ExportTraceServiceResponse { ExportTracePartialSuccess partial_success = 1; }
message ExportTracePartialSuccess { int64 rejected_spans = 1; string error_message = 2; }

// google.rpc.Status, the body of OTLP/HTTP error responses.
message RpcStatus { int32 code = 1; string message = 2; }
`;

const root = protobuf.parse(OTLP_TRACE_PROTO, { keepCase: false }).root;
const RequestType = root.lookupType('otlp.ExportTraceServiceRequest');
const ResponseType = root.lookupType('otlp.ExportTraceServiceResponse');
const RpcStatusType = root.lookupType('otlp.RpcStatus');

export type OtlpEncoding = 'protobuf' | 'json';

/** A span event, kept only for the normaliser (older GenAI conventions put prompts in events). */
export interface OtlpSpanEvent {
  name: string;
  attributes: Attributes;
}

export interface DecodedSpan {
  span: GenAiSpan;
  events: OtlpSpanEvent[];
}

export interface DecodedRequest {
  spans: DecodedSpan[];
  rejectedSpans: number;
  /** Why the first rejected span was rejected. */
  rejectionReason?: string;
}

/** A request body that is not an OTLP trace request; the message says what was wrong. */
export class OtlpDecodeError extends Error {}

type Loose = Record<string, unknown>;

function asObject(value: unknown): Loose | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Loose) : undefined;
}

function asArray(value: unknown, where: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new OtlpDecodeError(`${where} must be an array`);
  return value;
}

function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}

/** Protobuf bytes arrive as Buffers, OTLP/JSON ids as hex strings (not base64: the OTLP/JSON exception). */
function idToHex(value: unknown, encoding: OtlpEncoding): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (encoding === 'protobuf' && value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (typeof value === 'string') return value.toLowerCase();
  return 'invalid';
}

/** fixed64 in the proto: the largest time a sender can mean. */
const MAX_UNIX_NANO = 2n ** 64n - 1n;

/**
 * A `fixed64` time as OTLP/JSON or protobuf gives it. JSON may carry it as a string or a number (the spec allows
 * both); a number has already lost the nanoseconds past 2^53 to JSON.parse, so it keeps about 0.25 µs of
 * precision. Undefined for anything that is not a time up to 2^64 - 1.
 */
function nanos(value: unknown): bigint | undefined {
  let time: bigint | undefined;
  if (value === undefined || value === null) time = 0n;
  else if (typeof value === 'string' && /^[0-9]{1,20}$/.test(value)) time = BigInt(value);
  else if (typeof value === 'number' && Number.isFinite(value) && value >= 0) time = BigInt(Math.round(value));
  return time !== undefined && time <= MAX_UNIX_NANO ? time : undefined;
}

function anyValueToJson(value: Loose | undefined, encoding: OtlpEncoding): unknown {
  if (!value) return null;
  if ('stringValue' in value) return String(value.stringValue);
  if ('boolValue' in value) return Boolean(value.boolValue);
  if ('intValue' in value) return toNumber(value.intValue) ?? null;
  if ('doubleValue' in value) return toNumber(value.doubleValue) ?? null;
  if ('bytesValue' in value) {
    const bytes = value.bytesValue;
    return bytes instanceof Uint8Array ? Buffer.from(bytes).toString('base64') : String(bytes);
  }
  if ('arrayValue' in value) {
    return asArray(asObject(value.arrayValue)?.values, 'arrayValue.values').map((item) => anyValueToJson(asObject(item), encoding));
  }
  if ('kvlistValue' in value) {
    const object: Loose = {};
    for (const entry of asArray(asObject(value.kvlistValue)?.values, 'kvlistValue.values')) {
      const kv = asObject(entry);
      if (kv && typeof kv.key === 'string') object[kv.key] = anyValueToJson(asObject(kv.value), encoding);
    }
    return object;
  }
  return null;
}

/** An OTLP AnyValue as a span attribute value: homogeneous arrays stay arrays, anything nested becomes JSON text. */
function toAttributeValue(value: Loose | undefined, encoding: OtlpEncoding): AttributeValue | undefined {
  const json = anyValueToJson(value, encoding);
  if (json === null || json === undefined) return undefined;
  if (typeof json === 'string' || typeof json === 'number' || typeof json === 'boolean') return json;
  if (Array.isArray(json)) {
    const kinds = new Set(json.map((item) => typeof item));
    if (json.length === 0) return [] as string[];
    if (kinds.size === 1 && ['string', 'number', 'boolean'].includes([...kinds][0])) return json as AttributeValue;
  }
  return JSON.stringify(json);
}

function toAttributes(list: unknown, encoding: OtlpEncoding, where: string): Attributes {
  const attributes: Attributes = {};
  for (const entry of asArray(list, where)) {
    const kv = asObject(entry);
    if (!kv || typeof kv.key !== 'string' || kv.key === '') continue;
    const value = toAttributeValue(asObject(kv.value), encoding);
    if (value !== undefined) attributes[kv.key] = value;
  }
  return attributes;
}

const SPAN_KINDS: Record<string, GenAiSpan['kind']> = { '2': 'server', '3': 'client', SPAN_KIND_SERVER: 'server', SPAN_KIND_CLIENT: 'client' };
const STATUS_CODES: Record<string, GenAiSpan['status']['code']> = {
  '1': 'ok',
  '2': 'error',
  STATUS_CODE_OK: 'ok',
  STATUS_CODE_ERROR: 'error',
};

function convertSpan(raw: Loose, resource: Attributes, scope: Loose | undefined, encoding: OtlpEncoding): DecodedSpan | string {
  const traceId = idToHex(raw.traceId, encoding);
  const spanId = idToHex(raw.spanId, encoding);
  if (!traceId || !/^[0-9a-f]{32}$/.test(traceId) || /^0+$/.test(traceId)) return 'traceId must be 16 bytes and not all zero';
  if (!spanId || !/^[0-9a-f]{16}$/.test(spanId) || /^0+$/.test(spanId)) return 'spanId must be 8 bytes and not all zero';
  const parent = idToHex(raw.parentSpanId, encoding);
  if (parent && parent !== '' && !/^[0-9a-f]{16}$/.test(parent)) return 'parentSpanId must be 8 bytes';

  const startTimeUnixNano = nanos(raw.startTimeUnixNano);
  const endTimeUnixNano = nanos(raw.endTimeUnixNano);
  if (startTimeUnixNano === undefined || endTimeUnixNano === undefined) return 'startTimeUnixNano and endTimeUnixNano must be unsigned 64-bit integers';

  const attributes = toAttributes(raw.attributes, encoding, 'span.attributes');
  if (typeof scope?.name === 'string' && scope.name !== '') attributes['otel.scope.name'] = scope.name;
  if (typeof scope?.version === 'string' && scope.version !== '') attributes['otel.scope.version'] = scope.version;
  const status = asObject(raw.status);
  const statusMessage = typeof status?.message === 'string' && status.message !== '' ? status.message : undefined;
  const span: GenAiSpan = {
    traceId,
    spanId,
    name: typeof raw.name === 'string' ? raw.name : '',
    kind: SPAN_KINDS[String(raw.kind ?? '')] ?? 'internal',
    startTimeUnixNano,
    endTimeUnixNano,
    attributes,
    resource: { ...resource },
    status: statusMessage === undefined
      ? { code: STATUS_CODES[String(status?.code ?? '')] ?? 'unset' }
      : { code: STATUS_CODES[String(status?.code ?? '')] ?? 'unset', message: statusMessage },
    source: 'otlp',
  };
  if (parent && !/^0+$/.test(parent)) span.parentSpanId = parent;
  const events = asArray(raw.events, 'span.events').flatMap((entry) => {
    const event = asObject(entry);
    return event ? [{ name: typeof event.name === 'string' ? event.name : '', attributes: toAttributes(event.attributes, encoding, 'event.attributes') }] : [];
  });
  return { span, events };
}

function convertRequest(request: Loose, encoding: OtlpEncoding): DecodedRequest {
  const decoded: DecodedRequest = { spans: [], rejectedSpans: 0 };
  for (const entry of asArray(request.resourceSpans, 'resourceSpans')) {
    const resourceSpans = asObject(entry);
    if (!resourceSpans) throw new OtlpDecodeError('resourceSpans entries must be objects');
    const resource = toAttributes(asObject(resourceSpans.resource)?.attributes, encoding, 'resource.attributes');
    for (const scopeEntry of asArray(resourceSpans.scopeSpans, 'scopeSpans')) {
      const scopeSpans = asObject(scopeEntry);
      if (!scopeSpans) throw new OtlpDecodeError('scopeSpans entries must be objects');
      for (const spanEntry of asArray(scopeSpans.spans, 'spans')) {
        const raw = asObject(spanEntry);
        const converted = raw ? convertSpan(raw, resource, asObject(scopeSpans.scope), encoding) : 'span must be an object';
        if (typeof converted === 'string') {
          decoded.rejectedSpans++;
          decoded.rejectionReason ??= converted;
        } else {
          decoded.spans.push(converted);
        }
      }
    }
  }
  return decoded;
}

/** Decodes an ExportTraceServiceRequest body. Throws OtlpDecodeError on anything that is not one. */
export function decodeTraceRequest(body: Buffer, encoding: OtlpEncoding): DecodedRequest {
  let request: Loose;
  if (encoding === 'protobuf') {
    try {
      const message = RequestType.decode(body);
      request = RequestType.toObject(message, { longs: String, enums: Number, defaults: false }) as Loose;
    } catch (error) {
      throw new OtlpDecodeError(`body is not a protobuf ExportTraceServiceRequest: ${(error as Error).message}`);
    }
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (error) {
      // Only the position: V8's message quotes part of the body, which is echoed to the client and logged.
      const position = /position (\d+)/.exec((error as Error).message)?.[1];
      throw new OtlpDecodeError(`body is not valid JSON${position ? ` (at byte ${position})` : ''}`);
    }
    const object = asObject(parsed);
    if (!object) throw new OtlpDecodeError('body must be a JSON object with a "resourceSpans" array');
    request = object;
  }
  return convertRequest(request, encoding);
}

/** ExportTraceServiceResponse, with partial_success only when spans were rejected. */
export function encodeTraceResponse(encoding: OtlpEncoding, rejectedSpans: number, errorMessage?: string): Buffer {
  const partialSuccess = rejectedSpans > 0 ? { rejectedSpans, errorMessage: errorMessage ?? '' } : undefined;
  if (encoding === 'json') {
    return Buffer.from(JSON.stringify(partialSuccess ? { partialSuccess: { rejectedSpans: String(rejectedSpans), errorMessage: partialSuccess.errorMessage } } : {}));
  }
  return Buffer.from(ResponseType.encode(ResponseType.fromObject(partialSuccess ? { partialSuccess } : {})).finish());
}

/** A google.rpc.Status error body (OTLP/HTTP failure responses); code 3 is INVALID_ARGUMENT. */
export function encodeErrorStatus(encoding: OtlpEncoding, code: number, message: string): Buffer {
  if (encoding === 'json') return Buffer.from(JSON.stringify({ code, message }));
  return Buffer.from(RpcStatusType.encode(RpcStatusType.fromObject({ code, message })).finish());
}

/** Decodes a protobuf ExportTraceServiceResponse (for tests and the gateway's own exporter checks). */
export function decodeTraceResponse(body: Uint8Array): { rejectedSpans: number; errorMessage?: string } {
  const object = ResponseType.toObject(ResponseType.decode(body), { longs: String }) as Loose;
  const partial = asObject(object.partialSuccess);
  return { rejectedSpans: toNumber(partial?.rejectedSpans) ?? 0, errorMessage: partial?.errorMessage as string | undefined };
}
