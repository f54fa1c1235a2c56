/**
 * One GenAiSpan as OTLP, in protobuf (an `ExportTraceServiceRequest` holding it alone) and in JSON (its
 * `ResourceSpans` entry), written straight from the span.
 *
 * Why not @opentelemetry/otlp-transformer, which the rest of the exporters use: it turns each span into an
 * intermediate object tree first, and its protobuf writer encodes UTF-8 and sizes strings in a JavaScript loop,
 * character by character, which made it one of the largest items of the sensor's CPU profile per call (how to
 * profile: docs/benchmarks.md); here strings go through Buffer's native UTF-8 writer. Field
 * numbers and JSON names are those of opentelemetry-proto (trace/v1, common/v1, resource/v1); a test decodes both
 * encodings against the transformer's own output for the same spans.
 */
import { rememberedText } from '../common/remembered';
import type { AttributeValue, Attributes, GenAiSpan } from '../span/gen-ai-span';

export const INSTRUMENTATION_SCOPE = { name: 'sightline', version: '0.1.0' };

/** opentelemetry-proto's SpanKind and StatusCode numbers. */
const SPAN_KIND: Record<GenAiSpan['kind'], number> = { internal: 1, server: 2, client: 3 };
const STATUS_CODE: Record<GenAiSpan['status']['code'], number> = { unset: 0, ok: 1, error: 2 };
/** W3C trace flags `sampled`, plus SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE (the parent is known not to be remote). */
const SPAN_FLAGS = 0x101;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH = 2;
const WIRE_FIXED32 = 5;
/** A nested message's length is reserved at this many bytes and moved up once known (lengths below 2^35). */
const RESERVED_LENGTH_BYTES = 5;
/** Strings shorter than this are checked for ASCII and copied byte by byte. */
const SHORT_STRING = 32;

function varintSize(value: number): number {
  let size = 1;
  for (let rest = value; rest > 0x7f; rest = Math.floor(rest / 0x80)) size++;
  return size;
}

/** UTF-8 bytes of a string; short ASCII strings are measured without a native call. */
function utf8Length(value: string): number {
  if (value.length < SHORT_STRING) {
    let ascii = true;
    for (let i = 0; i < value.length && ascii; i++) ascii = value.charCodeAt(i) < 0x80;
    if (ascii) return value.length;
  }
  return Buffer.byteLength(value);
}

/** Appends protobuf fields to one growing buffer; nested messages are closed with `end` once their size is known. */
class ProtobufWriter {
  private buffer = Buffer.allocUnsafe(4096);
  private position = 0;
  /** Where the item `beginItem` started is. */
  private itemStart = 0;

  private ensure(bytes: number): void {
    if (this.position + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.position + bytes));
    this.buffer.copy(grown, 0, 0, this.position);
    this.buffer = grown;
  }

  private varint(value: number): void {
    this.ensure(10);
    const buffer = this.buffer;
    let position = this.position;
    // Lengths and most numbers fit 32 bits, where shifts do what division does for larger ones.
    if (value <= 0xffffffff) {
      while (value > 0x7f) {
        buffer[position++] = (value & 0x7f) | 0x80;
        value >>>= 7;
      }
    } else {
      while (value > 0x7f) {
        buffer[position++] = (value % 0x80) | 0x80;
        value = Math.floor(value / 0x80);
      }
    }
    buffer[position++] = value;
    this.position = position;
  }

  private tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  uint(field: number, value: number): void {
    this.tag(field, WIRE_VARINT);
    this.varint(value);
  }

  /** int64 in two's complement, as protobuf sends negative numbers. */
  int64(field: number, value: number): void {
    if (value >= 0) return this.uint(field, value);
    this.tag(field, WIRE_VARINT);
    let bits = BigInt.asUintN(64, BigInt(value));
    this.ensure(10);
    while (bits > 0x7fn) {
      this.buffer[this.position++] = Number(bits & 0x7fn) | 0x80;
      bits >>= 7n;
    }
    this.buffer[this.position++] = Number(bits);
  }

  bool(field: number, value: boolean): void {
    this.uint(field, value ? 1 : 0);
  }

  double(field: number, value: number): void {
    this.tag(field, WIRE_FIXED64);
    this.ensure(8);
    this.position = this.buffer.writeDoubleLE(value, this.position);
  }

  fixed64(field: number, value: bigint): void {
    this.tag(field, WIRE_FIXED64);
    this.ensure(8);
    this.position = this.buffer.writeBigUInt64LE(BigInt.asUintN(64, value), this.position);
  }

  fixed32(field: number, value: number): void {
    this.tag(field, WIRE_FIXED32);
    this.ensure(4);
    this.position = this.buffer.writeUInt32LE(value >>> 0, this.position);
  }

  string(field: number, value: string): void {
    this.tag(field, WIRE_LENGTH);
    this.stringBody(value, utf8Length(value));
  }

  /** A string's length and bytes; `bytes` from utf8Length. */
  stringBody(value: string, bytes: number): void {
    this.varint(bytes);
    this.ensure(bytes);
    if (bytes === value.length && bytes < SHORT_STRING) {
      // ASCII and short (attribute keys, models, ids): a loop beats the native writer's call overhead.
      const buffer = this.buffer;
      const position = this.position;
      for (let i = 0; i < bytes; i++) buffer[position + i] = value.charCodeAt(i);
      this.position = position + bytes;
    } else {
      this.position += this.buffer.write(value, this.position, bytes, 'utf8');
    }
  }

  hexBytes(field: number, hex: string): void {
    const bytes = hex.length >>> 1;
    this.tag(field, WIRE_LENGTH);
    this.varint(bytes);
    this.ensure(bytes);
    this.position += this.buffer.write(hex, this.position, 'hex');
  }

  /** A length-delimited field's tag and length, its bytes to be written next. */
  lengthHeader(field: number, length: number): void {
    this.tag(field, WIRE_LENGTH);
    this.varint(length);
  }

  /** Opens a nested message; returns where it starts, for `end`. */
  begin(field: number): number {
    this.tag(field, WIRE_LENGTH);
    this.ensure(RESERVED_LENGTH_BYTES);
    const start = this.position;
    this.position += RESERVED_LENGTH_BYTES;
    return start;
  }

  end(start: number): void {
    const length = this.position - start - RESERVED_LENGTH_BYTES;
    const lengthBytes = varintSize(length);
    const bodyStart = start + RESERVED_LENGTH_BYTES;
    this.buffer.copyWithin(start + lengthBytes, bodyStart, this.position);
    this.position -= RESERVED_LENGTH_BYTES - lengthBytes;
    const saved = this.position;
    this.position = start;
    this.varint(length);
    this.position = saved;
  }

  /** A copy of what was written from `start` on. */
  copyFrom(start: number): Buffer {
    return Buffer.from(this.buffer.subarray(start, this.position));
  }

  /** Bytes already encoded (a cached field), copied as they are (`set`: 2-3x a byte loop even for 20 bytes). */
  raw(bytes: Buffer): void {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.position);
    this.position += bytes.length;
  }

  /** A `KeyValue` whose value is a number or boolean, sized up front from the cached key field. */
  scalarKeyValue(field: number, keyField: Buffer, value: number | boolean): void {
    let anyValue: number;
    if (typeof value === 'boolean') anyValue = 2;
    else if (!Number.isInteger(value)) anyValue = 9;
    else anyValue = 1 + (value < 0 ? 10 : varintSize(value));
    this.tag(field, WIRE_LENGTH);
    this.varint(keyField.length + 1 + varintSize(anyValue) + anyValue);
    this.raw(keyField);
    this.tag(2, WIRE_LENGTH);
    this.varint(anyValue);
    if (typeof value === 'boolean') this.bool(2, value);
    else if (Number.isInteger(value)) this.int64(3, value);
    else this.double(4, value);
  }

  /** A `KeyValue` whose value is a string, sized up front from the cached key field. */
  stringKeyValueWithKeyField(field: number, keyField: Buffer, value: string): void {
    const valueBytes = utf8Length(value);
    const anyValue = 1 + varintSize(valueBytes) + valueBytes;
    this.tag(field, WIRE_LENGTH);
    this.varint(keyField.length + 1 + varintSize(anyValue) + anyValue);
    this.raw(keyField);
    this.tag(2, WIRE_LENGTH);
    this.varint(anyValue);
    this.tag(1, WIRE_LENGTH);
    this.stringBody(value, valueBytes);
  }

  finish(): Buffer {
    return Buffer.from(this.buffer.subarray(0, this.position));
  }

  reset(): void {
    this.position = 0;
  }

  /**
   * Starts an item `headroom` bytes into the writer's buffer, which every item reuses: `finishItem` hands out a
   * view that the next item overwrites, and callers copy what they keep (the batching exporter copies each span into
   * its batch at once). Buffers that outlived a collection or two (slabs of spans waiting for their batch, a copy
   * per span) were promoted with their external memory, which only a full collection frees: at 1,000 calls/s the
   * sensor's array buffers grew by ~2.5 MB/s between full collections, and those came every 2.5 s.
   */
  beginItem(headroom: number): void {
    // A buffer grown for one very large span is not kept for every span after it.
    if (this.buffer.length > MAX_RETAINED_ITEM_BUFFER) this.buffer = Buffer.allocUnsafe(INITIAL_ITEM_BUFFER);
    this.position = 0;
    this.ensure(headroom);
    this.position = headroom;
    this.itemStart = headroom;
  }

  /** Where the next byte goes. */
  get offset(): number {
    return this.position;
  }

  /**
   * Moves the writer to `bytes` before the item, for fields that then open it: the enclosing messages' headers,
   * written once the item's size is known, where `begin`/`end` would move the whole item once per level. Returns
   * the item's end, for `endPrefix`.
   */
  beginPrefix(bytes: number): number {
    if (bytes > this.itemStart) throw new Error(`item prefix of ${bytes} bytes does not fit its ${this.itemStart} bytes of headroom`);
    const itemEnd = this.position;
    this.itemStart -= bytes;
    this.position = this.itemStart;
    return itemEnd;
  }

  /** Back to the item's end; the prefix must have filled exactly the bytes `beginPrefix` announced. */
  endPrefix(itemEnd: number, bytes: number): void {
    if (this.position !== this.itemStart + bytes) throw new Error('item prefix written at a size other than announced');
    this.position = itemEnd;
  }

  finishItem(): Buffer {
    return this.buffer.subarray(this.itemStart, this.position);
  }
}

/** The reused item buffer's usual size, and the size beyond which a grown one is let go. */
const INITIAL_ITEM_BUFFER = 64 * 1024;
const MAX_RETAINED_ITEM_BUFFER = 1024 * 1024;

function writeAnyValue(writer: ProtobufWriter, field: number, value: AttributeValue | string | number | boolean): void {
  const start = writer.begin(field);
  if (typeof value === 'string') writer.string(1, value);
  else if (typeof value === 'boolean') writer.bool(2, value);
  else if (typeof value === 'number') {
    if (Number.isInteger(value)) writer.int64(3, value);
    else writer.double(4, value);
  } else {
    const array = writer.begin(5);
    for (const item of value) writeAnyValue(writer, 1, item);
    writer.end(array);
  }
  writer.end(start);
}

/**
 * Each attribute name's `key` field (tag, length, UTF-8 bytes), built once: the same few dozen names come back on
 * every span, and encoding them again was a third of this encoder's time. With it, the name's last value and, once
 * that value came twice in a row, its whole encoded `KeyValue`: most attributes (provider, model, flags, address,
 * status) repeat from span to span, and copying their bytes costs a fraction of encoding them.
 */
const MAX_KEY_FIELDS = 4096;
/** Attribute names longer than this (apps' own attributes, on the gateway) are encoded each time, not kept. */
const MAX_REMEMBERED_KEY_LENGTH = 256;
/** Longer strings are not remembered: values that long rarely repeat (content, messages), and comparing them costs. */
const MAX_REMEMBERED_VALUE_LENGTH = 64;

interface KeyEncoding {
  readonly keyField: Buffer;
  /** The value this name had on its last scalar attribute, and the field it was written as. */
  lastValue: string | number | boolean | undefined;
  lastField: number;
  /** The encoded `KeyValue` of `lastValue` as `lastField`, once that value repeated. */
  lastKeyValue: Buffer | undefined;
}

const keyEncoding = rememberedText((key: string): KeyEncoding => {
  const bytes = Buffer.from(key, 'utf8');
  const length: number[] = [];
  for (let rest = bytes.length; ; rest = Math.floor(rest / 0x80)) {
    if (rest <= 0x7f) {
      length.push(rest);
      break;
    }
    length.push((rest % 0x80) | 0x80);
  }
  return { keyField: Buffer.concat([Buffer.from([0x0a, ...length]), bytes]), lastValue: undefined, lastField: 0, lastKeyValue: undefined };
}, MAX_KEY_FIELDS, MAX_REMEMBERED_KEY_LENGTH);

/** A string, number or boolean attribute, from its remembered bytes when it has the value it had last time. */
function writeScalarAttribute(writer: ProtobufWriter, field: number, encoding: KeyEncoding, value: string | number | boolean): void {
  const repeated = value === encoding.lastValue && field === encoding.lastField;
  if (repeated && encoding.lastKeyValue !== undefined) return writer.raw(encoding.lastKeyValue);
  const start = writer.offset;
  if (typeof value === 'string') writer.stringKeyValueWithKeyField(field, encoding.keyField, value);
  else writer.scalarKeyValue(field, encoding.keyField, value);
  if (repeated) {
    encoding.lastKeyValue = writer.copyFrom(start);
  } else if (typeof value !== 'string' || value.length <= MAX_REMEMBERED_VALUE_LENGTH) {
    encoding.lastValue = value;
    encoding.lastField = field;
    encoding.lastKeyValue = undefined;
  }
}

function writeAttributes(writer: ProtobufWriter, field: number, attributes: Attributes): void {
  for (const key in attributes) {
    const value = attributes[key];
    if (value === undefined || value === null) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      writeScalarAttribute(writer, field, keyEncoding(key), value);
      continue;
    }
    const keyValue = writer.begin(field);
    writer.string(1, key);
    writeAnyValue(writer, 2, value);
    writer.end(keyValue);
  }
}

/** One reused writer: spans are encoded one at a time on the event loop. */
const writer = new ProtobufWriter();

/**
 * Each resource's `resource` field, encoded once per resource object: the pipeline gives the spans of one process
 * the same object and never modifies it afterwards, so its bytes are the same for every span that carries it.
 */
const resourceFields = new WeakMap<Attributes, Buffer>();
const resourceWriter = new ProtobufWriter();

function resourceField(attributes: Attributes): Buffer {
  let field = resourceFields.get(attributes);
  if (field === undefined) {
    resourceWriter.reset();
    const resource = resourceWriter.begin(1);
    writeAttributes(resourceWriter, 1, attributes);
    resourceWriter.end(resource);
    field = resourceWriter.finish();
    resourceFields.set(attributes, field);
  }
  return field;
}

/** The `scope_spans` field's scope, the same for every span. */
const SCOPE_FIELD = (() => {
  const scopeWriter = new ProtobufWriter();
  const scope = scopeWriter.begin(1);
  scopeWriter.string(1, INSTRUMENTATION_SCOPE.name);
  scopeWriter.string(2, INSTRUMENTATION_SCOPE.version);
  scopeWriter.end(scope);
  return scopeWriter.finish();
})();

/** A length-delimited field's tag and length, in bytes (field numbers below 16). */
function headerBytes(length: number): number {
  return 1 + varintSize(length);
}

/** Room for the three headers enclosing a span's record (a tag and at most five length bytes each). */
const HEADER_ROOM = 3 * (1 + RESERVED_LENGTH_BYTES);

/**
 * A protobuf `ExportTraceServiceRequest` holding only this span; such requests concatenate into one request. The
 * bytes are a view of the encoder's buffer, valid until the next span is encoded: copy them to keep them.
 */
export function encodeSpanProtobuf(span: GenAiSpan): Buffer {
  const resource = resourceField(span.resource);
  // The span's record first, after room for what goes in front of it: the ResourceSpans > ScopeSpans > Span
  // headers, whose lengths are known only once the record is written, and the resource and scope fields.
  writer.beginItem(HEADER_ROOM + resource.length + SCOPE_FIELD.length);
  const recordStart = writer.offset;
  writer.hexBytes(1, span.traceId);
  writer.hexBytes(2, span.spanId);
  if (span.parentSpanId) writer.hexBytes(4, span.parentSpanId);
  writer.string(5, span.name);
  writer.uint(6, SPAN_KIND[span.kind]);
  writer.fixed64(7, span.startTimeUnixNano);
  writer.fixed64(8, span.endTimeUnixNano);
  writeAttributes(writer, 9, span.attributes);
  const status = writer.begin(15);
  if (span.status.message) writer.string(2, span.status.message);
  writer.uint(3, STATUS_CODE[span.status.code]);
  writer.end(status);
  writer.fixed32(16, SPAN_FLAGS);
  const recordBytes = writer.offset - recordStart;
  const scopeSpansBytes = SCOPE_FIELD.length + headerBytes(recordBytes) + recordBytes;
  const resourceSpansBytes = resource.length + headerBytes(scopeSpansBytes) + scopeSpansBytes;
  const prefixBytes = headerBytes(resourceSpansBytes) + resource.length + headerBytes(scopeSpansBytes) + SCOPE_FIELD.length + headerBytes(recordBytes);
  const itemEnd = writer.beginPrefix(prefixBytes);
  writer.lengthHeader(1, resourceSpansBytes);
  writer.raw(resource);
  writer.lengthHeader(2, scopeSpansBytes);
  writer.raw(SCOPE_FIELD);
  writer.lengthHeader(2, recordBytes);
  writer.endPrefix(itemEnd, prefixBytes);
  return writer.finishItem();
}

function jsonAnyValue(value: AttributeValue | string | number | boolean): string {
  if (typeof value === 'string') return `{"stringValue":${JSON.stringify(value)}}`;
  if (typeof value === 'boolean') return `{"boolValue":${value}}`;
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return `{"intValue":${value}}`;
    // JSON has no NaN or Infinity; OTLP/JSON spells them as strings.
    return Number.isFinite(value) ? `{"doubleValue":${value}}` : `{"doubleValue":"${value}"}`;
  }
  return `{"arrayValue":{"values":[${(value as Array<string | number | boolean>).map(jsonAnyValue).join(',')}]}}`;
}

/** Each attribute name's `{"key":...,"value":` prefix, built once (as for the protobuf key fields). */
const jsonKeyPrefix = rememberedText((key: string): string => `{"key":${JSON.stringify(key)},"value":`, MAX_KEY_FIELDS, MAX_REMEMBERED_KEY_LENGTH);

/** Each resource's JSON attribute list, once per resource object (as for the protobuf resource field). */
const jsonResources = new WeakMap<Attributes, string>();

function jsonResourceAttributes(attributes: Attributes): string {
  let json = jsonResources.get(attributes);
  if (json === undefined) {
    json = jsonAttributes(attributes);
    jsonResources.set(attributes, json);
  }
  return json;
}

function jsonAttributes(attributes: Attributes): string {
  const parts: string[] = [];
  for (const key in attributes) {
    const value = attributes[key];
    if (value === undefined || value === null) continue;
    parts.push(`${jsonKeyPrefix(key)}${jsonAnyValue(value)}}`);
  }
  return `[${parts.join(',')}]`;
}

const JSON_SCOPE = JSON.stringify(INSTRUMENTATION_SCOPE);

/** The span's OTLP/JSON `ResourceSpans` object (hex ids, decimal-string times), as in an ExportTraceServiceRequest. */
export function encodeSpanJson(span: GenAiSpan): string {
  const status = span.status.message ? `{"code":${STATUS_CODE[span.status.code]},"message":${JSON.stringify(span.status.message)}}` : `{"code":${STATUS_CODE[span.status.code]}}`;
  const parent = span.parentSpanId ? `"parentSpanId":"${span.parentSpanId}",` : '';
  return (
    `{"resource":{"attributes":${jsonResourceAttributes(span.resource)},"droppedAttributesCount":0},` +
    `"scopeSpans":[{"scope":${JSON_SCOPE},"spans":[{"traceId":"${span.traceId}","spanId":"${span.spanId}",${parent}` +
    `"name":${JSON.stringify(span.name)},"kind":${SPAN_KIND[span.kind]},` +
    `"startTimeUnixNano":"${span.startTimeUnixNano}","endTimeUnixNano":"${span.endTimeUnixNano}",` +
    `"attributes":${jsonAttributes(span.attributes)},"droppedAttributesCount":0,"events":[],"droppedEventsCount":0,` +
    `"status":${status},"links":[],"droppedLinksCount":0,"flags":${SPAN_FLAGS}}]}]}`
  );
}
