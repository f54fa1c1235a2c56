/**
 * Decodes an OTLP ExportTraceServiceRequest from protobuf, field numbers per opentelemetry-proto
 * (collector/trace/v1/trace_service.proto, trace/v1/trace.proto, common/v1/common.proto), on the wire reader
 * that ships inside @opentelemetry/otlp-transformer (the package exports a response decoder only).
 */
import { ProtobufReader } from '@opentelemetry/otlp-transformer/build/src/common/protobuf/protobuf-reader';

export type DecodedValue = string | number | boolean | DecodedValue[] | undefined;

export interface DecodedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Record<string, DecodedValue>;
  status: { code: number; message: string };
}

export interface DecodedResourceSpans {
  resource: Record<string, DecodedValue>;
  scopeName: string;
  spans: DecodedSpan[];
}

function fields(bytes: Uint8Array, onField: (field: number, wireType: number, reader: ProtobufReader, bytes: Uint8Array) => void): void {
  const reader = new ProtobufReader(bytes);
  while (!reader.isAtEnd()) {
    const { fieldNumber, wireType } = reader.readTag();
    const before = reader.pos;
    onField(fieldNumber, wireType, reader, bytes);
    if (reader.pos === before) reader.skip(wireType);
  }
}

function fixed64(reader: ProtobufReader, bytes: Uint8Array): Buffer {
  const value = Buffer.from(bytes.subarray(reader.pos, reader.pos + 8));
  reader.skip(1);
  return value;
}

function anyValue(bytes: Uint8Array): DecodedValue {
  let value: DecodedValue;
  fields(bytes, (field, _wire, reader, buffer) => {
    if (field === 1) value = reader.readString();
    else if (field === 2) value = reader.readVarint() !== 0;
    else if (field === 3) value = reader.readVarint();
    else if (field === 4) value = fixed64(reader, buffer).readDoubleLE(0);
    else if (field === 5) {
      const values: DecodedValue[] = [];
      fields(reader.readBytes(), (inner, _w, r) => {
        if (inner === 1) values.push(anyValue(r.readBytes()));
      });
      value = values;
    }
  });
  return value;
}

function keyValueInto(target: Record<string, DecodedValue>, bytes: Uint8Array): void {
  let key = '';
  let value: DecodedValue;
  fields(bytes, (field, _wire, reader) => {
    if (field === 1) key = reader.readString();
    else if (field === 2) value = anyValue(reader.readBytes());
  });
  target[key] = value;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

function span(bytes: Uint8Array): DecodedSpan {
  const decoded: DecodedSpan = { traceId: '', spanId: '', parentSpanId: '', name: '', kind: 0, startTimeUnixNano: 0n, endTimeUnixNano: 0n, attributes: {}, status: { code: 0, message: '' } };
  fields(bytes, (field, _wire, reader, buffer) => {
    if (field === 1) decoded.traceId = hex(reader.readBytes());
    else if (field === 2) decoded.spanId = hex(reader.readBytes());
    else if (field === 4) decoded.parentSpanId = hex(reader.readBytes());
    else if (field === 5) decoded.name = reader.readString();
    else if (field === 6) decoded.kind = reader.readVarint();
    else if (field === 7) decoded.startTimeUnixNano = fixed64(reader, buffer).readBigUInt64LE(0);
    else if (field === 8) decoded.endTimeUnixNano = fixed64(reader, buffer).readBigUInt64LE(0);
    else if (field === 9) keyValueInto(decoded.attributes, reader.readBytes());
    else if (field === 15) {
      fields(reader.readBytes(), (inner, _w, r) => {
        if (inner === 2) decoded.status.message = r.readString();
        else if (inner === 3) decoded.status.code = r.readVarint();
      });
    }
  });
  return decoded;
}

export function decodeExportTraceServiceRequest(body: Uint8Array): DecodedResourceSpans[] {
  const result: DecodedResourceSpans[] = [];
  fields(body, (field, _wire, reader) => {
    if (field !== 1) return;
    const entry: DecodedResourceSpans = { resource: {}, scopeName: '', spans: [] };
    fields(reader.readBytes(), (rsField, _w, rsReader) => {
      if (rsField === 1) {
        fields(rsReader.readBytes(), (resField, _w2, resReader) => {
          if (resField === 1) keyValueInto(entry.resource, resReader.readBytes());
        });
      } else if (rsField === 2) {
        fields(rsReader.readBytes(), (ssField, _w3, ssReader) => {
          if (ssField === 1) {
            fields(ssReader.readBytes(), (scopeField, _w4, scopeReader) => {
              if (scopeField === 1) entry.scopeName = scopeReader.readString();
            });
          } else if (ssField === 2) entry.spans.push(span(ssReader.readBytes()));
        });
      }
    });
    result.push(entry);
  });
  return result;
}
