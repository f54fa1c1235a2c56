/**
 * HPACK header block decoding (RFC 7541): static and dynamic tables, integers, string literals, Huffman.
 * Written here instead of taken from npm: the only widely used package (hpack.js) has had no release since 2016,
 * decodes through streams and reports untyped errors, while a passive decoder needs synchronous calls, typed
 * errors and size guards. Node's own HPACK (nghttp2) is not reachable from JavaScript.
 */
import { HpackError } from './hpack-error';
import { huffmanDecode } from './hpack-huffman';
import { HPACK_STATIC_TABLE } from './hpack-static-table';

export { HpackError } from './hpack-error';
export type { HpackErrorCode } from './hpack-error';

export interface HeaderField {
  name: string;
  value: string;
  /** Sent as "never indexed" (RFC 7541 6.2.3): an intermediary must not compress it; usually a secret. */
  neverIndexed: boolean;
}

export interface DecodedHeaderBlock {
  fields: HeaderField[];
  /** The decoded list passed `maxHeaderListBytes`; later fields were decoded (to keep the table in step) but dropped. */
  listTruncated: boolean;
}

export interface HpackDecoderOptions {
  /**
   * Largest dynamic table size accepted whatever the peer announces; bounds memory when a peer
   * announces a huge SETTINGS_HEADER_TABLE_SIZE.
   */
  maxTableSizeCap?: number;
}

/** The initial SETTINGS_HEADER_TABLE_SIZE (RFC 9113 6.5.2). */
export const DEFAULT_HEADER_TABLE_SIZE = 4096;
const DEFAULT_TABLE_SIZE_CAP = 1024 * 1024;
/** RFC 7541 4.1: each entry costs its name and value octets plus this overhead. */
const ENTRY_OVERHEAD = 32;
const MAX_INTEGER = 0xffffffff;
const STATIC_TABLE_LENGTH = HPACK_STATIC_TABLE.length;

interface TableEntry {
  name: string;
  value: string;
}

function entrySize(name: string, value: string): number {
  // Strings are decoded as latin1, so string length equals octet length.
  return name.length + value.length + ENTRY_OVERHEAD;
}

/** One direction's HPACK decoding context: header blocks must be decoded in the order they were sent. */
export class HpackDecoder {
  /** Oldest first; the newest entry has dynamic index 1 (HPACK index 62). */
  private readonly entries: TableEntry[] = [];
  private size = 0;
  private maxSize = DEFAULT_HEADER_TABLE_SIZE;
  /** The largest size the peer may switch to by a size update (its announced SETTINGS_HEADER_TABLE_SIZE). */
  private sizeLimit = DEFAULT_HEADER_TABLE_SIZE;
  private readonly sizeCap: number;
  private block: Buffer = Buffer.alloc(0);
  private pos = 0;

  constructor(options: HpackDecoderOptions = {}) {
    this.sizeCap = options.maxTableSizeCap ?? DEFAULT_TABLE_SIZE_CAP;
  }

  /**
   * The decoding side announced SETTINGS_HEADER_TABLE_SIZE. A passive observer cannot tell when the encoder
   * acknowledged it, so the largest value seen so far bounds later size updates.
   */
  allowTableSize(announced: number): void {
    this.sizeLimit = Math.min(Math.max(this.sizeLimit, announced), this.sizeCap);
  }

  /** Current dynamic table size in octets (RFC 7541 4.1). */
  get tableSize(): number {
    return this.size;
  }

  /** Current maximum dynamic table size, as last set by a size update. */
  get maxTableSize(): number {
    return this.maxSize;
  }

  /** Dynamic table entries, newest first (the order of HPACK indices 62, 63, ...). */
  get dynamicTable(): Array<[name: string, value: string]> {
    return this.entries.map((entry): [string, string] => [entry.name, entry.value]).reverse();
  }

  /** Decodes one complete header block (HEADERS or PUSH_PROMISE plus CONTINUATIONs). Throws HpackError. */
  decode(block: Buffer, maxHeaderListBytes = Number.POSITIVE_INFINITY): DecodedHeaderBlock {
    this.block = block;
    this.pos = 0;
    const fields: HeaderField[] = [];
    let listBytes = 0;
    let listTruncated = false;
    let fieldSeen = false;
    try {
      while (this.pos < block.length) {
        const first = block[this.pos];
        let field: HeaderField;
        if (first & 0x80) {
          const entry = this.lookup(this.readInteger(7));
          field = { name: entry.name, value: entry.value, neverIndexed: false };
        } else if (first & 0x40) {
          field = this.readLiteral(6, false);
          this.insert(field.name, field.value);
        } else if (first & 0x20) {
          if (fieldSeen) {
            throw new HpackError('misplaced-table-size-update', 'hpack: dynamic table size update after a header field');
          }
          this.resize(this.readInteger(5));
          continue;
        } else {
          field = this.readLiteral(4, (first & 0x10) !== 0);
        }
        fieldSeen = true;
        listBytes += entrySize(field.name, field.value);
        if (listBytes > maxHeaderListBytes) listTruncated = true;
        if (!listTruncated) fields.push(field);
      }
    } finally {
      this.block = Buffer.alloc(0);
    }
    return { fields, listTruncated };
  }

  private readLiteral(prefixBits: number, neverIndexed: boolean): HeaderField {
    const nameIndex = this.readInteger(prefixBits);
    const name = nameIndex === 0 ? this.readString() : this.lookup(nameIndex).name;
    return { name, value: this.readString(), neverIndexed };
  }

  private lookup(index: number): TableEntry {
    if (index === 0) throw new HpackError('bad-index', 'hpack: index 0 is not a valid table index');
    if (index <= STATIC_TABLE_LENGTH) {
      const [name, value] = HPACK_STATIC_TABLE[index - 1];
      return { name, value };
    }
    const dynamicIndex = index - STATIC_TABLE_LENGTH;
    if (dynamicIndex > this.entries.length) {
      throw new HpackError(
        'bad-index',
        `hpack: index ${index} is beyond the tables (${STATIC_TABLE_LENGTH} static, ${this.entries.length} dynamic entries)`,
      );
    }
    return this.entries[this.entries.length - dynamicIndex];
  }

  private insert(name: string, value: string): void {
    const size = entrySize(name, value);
    // An entry larger than the whole table empties it and is not added (RFC 7541 4.4).
    this.evictTo(this.maxSize - size);
    if (size <= this.maxSize) {
      this.entries.push({ name, value });
      this.size += size;
    }
  }

  private resize(newMaxSize: number): void {
    if (newMaxSize > this.sizeLimit) {
      throw new HpackError(
        'table-size-over-limit',
        `hpack: dynamic table size update to ${newMaxSize} exceeds the announced limit of ${this.sizeLimit}`,
      );
    }
    this.maxSize = newMaxSize;
    this.evictTo(newMaxSize);
  }

  private evictTo(targetSize: number): void {
    let evicted = 0;
    while (this.size > targetSize && evicted < this.entries.length) {
      const oldest = this.entries[evicted++];
      this.size -= entrySize(oldest.name, oldest.value);
    }
    if (evicted > 0) this.entries.splice(0, evicted);
  }

  /** RFC 7541 5.1: an N-bit prefix, then 7 bits per continuation byte, least significant group first. */
  private readInteger(prefixBits: number): number {
    const block = this.block;
    const prefixMax = (1 << prefixBits) - 1;
    let value = block[this.pos++] & prefixMax;
    if (value < prefixMax) return value;
    let shift = 0;
    for (;;) {
      if (this.pos >= block.length) throw new HpackError('truncated-block', 'hpack: header block ends inside an integer');
      const byte = block[this.pos++];
      value += (byte & 0x7f) * 2 ** shift;
      if (value > MAX_INTEGER) throw new HpackError('integer-overflow', 'hpack: integer exceeds 2^32-1');
      if ((byte & 0x80) === 0) return value;
      shift += 7;
      if (shift > 28) throw new HpackError('integer-overflow', 'hpack: integer has too many continuation bytes');
    }
  }

  /** RFC 7541 5.2: H bit, 7-bit-prefix length, then raw or Huffman-coded octets. */
  private readString(): string {
    const block = this.block;
    if (this.pos >= block.length) throw new HpackError('truncated-block', 'hpack: header block ends before a string literal');
    const huffman = (block[this.pos] & 0x80) !== 0;
    const length = this.readInteger(7);
    if (length > block.length - this.pos) {
      throw new HpackError('truncated-block', `hpack: string literal of ${length} octets runs past the end of the header block`);
    }
    const raw = block.subarray(this.pos, this.pos + length);
    this.pos += length;
    return (huffman ? huffmanDecode(raw) : raw).toString('latin1');
  }
}
