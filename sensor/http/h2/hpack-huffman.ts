/**
 * HPACK Huffman string decoding (RFC 7541 section 5.2, code in Appendix B).
 * The RFC's code is canonical: ordering symbols by (code length, symbol) and counting upwards reproduces every
 * code, so the table below holds only the bit lengths and the codes are derived from them once at load.
 */
import { HpackError } from './hpack-error';

/** Code length in bits of each symbol 0..255, then EOS (256), from RFC 7541 Appendix B. */
// prettier-ignore
const CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

const EOS = 256;
const MAX_CODE_LENGTH = 30;

interface CanonicalCode {
  /** Symbols ordered by (length, symbol). */
  sortedSymbols: Uint16Array;
  /** Per length: the first code of that length, and where its symbols start in `sortedSymbols`. */
  firstCode: Int32Array;
  firstIndex: Int32Array;
  countByLength: Int32Array;
  /** Per symbol: its code, for encoding (tests and fixtures). */
  codeOf: Uint32Array;
}

function buildCanonicalCode(): CanonicalCode {
  const countByLength = new Int32Array(MAX_CODE_LENGTH + 1);
  for (const length of CODE_LENGTHS) countByLength[length]++;
  const firstCode = new Int32Array(MAX_CODE_LENGTH + 1);
  const firstIndex = new Int32Array(MAX_CODE_LENGTH + 1);
  let code = 0;
  let index = 0;
  for (let length = 1; length <= MAX_CODE_LENGTH; length++) {
    code = (code + countByLength[length - 1]) << 1;
    firstCode[length] = code;
    firstIndex[length] = index;
    index += countByLength[length];
  }
  const sortedSymbols = new Uint16Array(CODE_LENGTHS.length);
  const codeOf = new Uint32Array(CODE_LENGTHS.length);
  const nextIndex = Int32Array.from(firstIndex);
  for (let symbol = 0; symbol < CODE_LENGTHS.length; symbol++) {
    const length = CODE_LENGTHS[symbol];
    const position = nextIndex[length]++;
    sortedSymbols[position] = symbol;
    codeOf[symbol] = firstCode[length] + (position - firstIndex[length]);
  }
  return { sortedSymbols, firstCode, firstIndex, countByLength, codeOf };
}

const CANONICAL = buildCanonicalCode();

/** Decodes a Huffman-coded string literal; throws HpackError on EOS, bad padding or an impossible code. */
export function huffmanDecode(input: Buffer): Buffer {
  const { sortedSymbols, firstCode, firstIndex, countByLength } = CANONICAL;
  // Every code is at least 5 bits, so the output is at most 8/5 of the input.
  const out = Buffer.allocUnsafe(Math.ceil((input.length * 8) / 5));
  let written = 0;
  let code = 0;
  let length = 0;
  for (let i = 0; i < input.length; i++) {
    const byte = input[i];
    for (let bit = 7; bit >= 0; bit--) {
      code = (code << 1) | ((byte >> bit) & 1);
      length++;
      const offset = code - firstCode[length];
      if (offset >= 0 && offset < countByLength[length]) {
        const symbol = sortedSymbols[firstIndex[length] + offset];
        if (symbol === EOS) throw new HpackError('bad-huffman', 'hpack: Huffman string contains the EOS symbol');
        out[written++] = symbol;
        code = 0;
        length = 0;
      } else if (length >= MAX_CODE_LENGTH) {
        throw new HpackError('bad-huffman', 'hpack: Huffman string contains an invalid code');
      }
    }
  }
  // Padding is the most significant bits of EOS (all ones) and shorter than a byte.
  if (length > 7) throw new HpackError('bad-huffman', `hpack: Huffman padding of ${length} bits is longer than 7`);
  if (code !== (1 << length) - 1) throw new HpackError('bad-huffman', 'hpack: Huffman padding is not all ones');
  return out.subarray(0, written);
}

/** Huffman-encodes bytes (used to build test fixtures; the sensor only decodes). */
export function huffmanEncode(input: Buffer): Buffer {
  const { codeOf } = CANONICAL;
  const bytes: number[] = [];
  let pending = 0;
  let pendingBits = 0;
  for (const symbol of input) {
    const length = CODE_LENGTHS[symbol];
    const code = codeOf[symbol];
    for (let bit = length - 1; bit >= 0; bit--) {
      pending = (pending << 1) | ((code >>> bit) & 1);
      if (++pendingBits === 8) {
        bytes.push(pending);
        pending = 0;
        pendingBits = 0;
      }
    }
  }
  if (pendingBits > 0) bytes.push((pending << (8 - pendingBits)) | ((1 << (8 - pendingBits)) - 1));
  return Buffer.from(bytes);
}

/** The code and bit length of one symbol (0..256), for tests against the RFC's table. */
export function huffmanCodeOf(symbol: number): { code: number; length: number } {
  return { code: CANONICAL.codeOf[symbol], length: CODE_LENGTHS[symbol] };
}
