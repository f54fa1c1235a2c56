/**
 * Finds functions in Go's function table (`.gopclntab`), which the runtime needs for stack traces and garbage
 * collection and which therefore survives `-ldflags "-s -w"`: the symbol table of a stripped Go executable.
 *
 * Hand-written because no maintained npm package reads it (Go's own debug/gosym is Go); the format is the runtime's
 * (runtime/symtab.go, cmd/link's pcln.go). The header's magic says which layout follows:
 *
 * | magic        | Go          | header after magic, pad, minLC, ptrSize                       | function table entry        |
 * | 0xfffffffb   | 1.2 - 1.15  | (another layout: refused; these Go versions predate the register ABI anyway)              |
 * | 0xfffffffa   | 1.16 - 1.17 | nfunc, nfiles, funcname, cu, filetab, pctab, pcln offsets      | entry PC, _func offset (ptrSize each) |
 * | 0xfffffff0   | 1.18 - 1.19 | nfunc, nfiles, textStart, funcname, cu, filetab, pctab, pcln   | entry - textStart, _func offset (u32 each) |
 * | 0xfffffff1   | 1.20 and on | as 1.18 (the magic changed with funcID encoding, not this part)                          |
 *
 * The function table holds nfunc + 1 entries sorted by address, the last one the end of the text, so each function
 * ends where the next begins. Each `_func` starts with its entry (as in the table) and an int32 offset of its name
 * in the funcname table, where names are NUL-terminated.
 */

export const GO_PCLNTAB_SECTIONS = ['.gopclntab', '.data.rel.ro.gopclntab'];

export const PCLNTAB_MAGIC = { go116: 0xfffffffa, go118: 0xfffffff0, go120: 0xfffffff1, go12: 0xfffffffb } as const;

export interface GoFunction {
  /** Virtual address of its first instruction. */
  address: number;
  /** Bytes up to the next function (padding included). */
  size: number;
}

/** Reads `length` bytes at `offset` from the start of the section. */
export type SectionReader = (offset: number, length: number) => Buffer;

interface PclnHeader {
  magic: number;
  pointerSize: number;
  functionCount: number;
  /** 0 before Go 1.18, whose table holds absolute entry addresses. */
  textStart: number;
  funcnameOffset: number;
  otherOffsets: number[];
  pclnOffset: number;
}

/**
 * The named functions found in the table (names absent from it are left out). `sectionSize` bounds every read;
 * `textAddress` stands in for a header whose textStart a linker left for relocation (0 in the file).
 */
export function findGoFunctions(read: SectionReader, sectionSize: number, names: readonly string[], textAddress = 0): Map<string, GoFunction> {
  const header = readHeader(read, sectionSize);
  const found = new Map<string, GoFunction>();
  if (names.length === 0 || header.functionCount === 0) return found;

  // Where the wanted names start in the funcname table, found by searching its bytes once.
  const funcnameEnd = Math.min(sectionSize, ...header.otherOffsets.filter((offset) => offset > header.funcnameOffset));
  const funcnames = read(header.funcnameOffset, funcnameEnd - header.funcnameOffset);
  const nameAt = new Map<number, string>();
  for (const name of names) {
    const needle = Buffer.from(`${name}\0`, 'utf8');
    for (let at = funcnames.indexOf(needle); at !== -1; at = funcnames.indexOf(needle, at + 1)) {
      if (at === 0 || funcnames[at - 1] === 0) nameAt.set(at, name);
    }
  }
  if (nameAt.size === 0) return found;

  const wide = header.magic === PCLNTAB_MAGIC.go116;
  const entryBytes = wide ? 2 * header.pointerSize : 8;
  const table = read(header.pclnOffset, sectionSize - header.pclnOffset);
  const tableBytes = (header.functionCount + 1) * entryBytes;
  if (tableBytes > table.length) throw new Error(`Go function table: ${header.functionCount} functions do not fit the section`);
  const word = (at: number): number => (wide && header.pointerSize === 8 ? Number(table.readBigUInt64LE(at)) : table.readUInt32LE(at));
  const entryOf = (index: number): number => word(index * entryBytes) + (wide ? 0 : header.textStart || textAddress);

  for (let index = 0; index < header.functionCount; index++) {
    const funcOffset = word(index * entryBytes + entryBytes / 2);
    // _func: entry (ptrSize before 1.18, u32 after), then nameOff int32.
    const nameOffsetAt = funcOffset + (wide ? header.pointerSize : 4);
    if (nameOffsetAt + 4 > table.length) throw new Error(`Go function table: function ${index} lies outside the section`);
    const name = nameAt.get(table.readInt32LE(nameOffsetAt));
    if (name === undefined || found.has(name)) continue;
    const address = entryOf(index);
    found.set(name, { address, size: entryOf(index + 1) - address });
    if (found.size === nameAt.size) break;
  }
  return found;
}

function readHeader(read: SectionReader, sectionSize: number): PclnHeader {
  if (sectionSize < 16) throw new Error('Go function table: the section is too short for a header');
  const start = read(0, 8);
  const magic = start.readUInt32LE(0);
  const pointerSize = start[7];
  if (magic === PCLNTAB_MAGIC.go12) throw new Error('Go function table of Go 1.2-1.15: not supported (Go before 1.17 has no register ABI to probe)');
  if (magic !== PCLNTAB_MAGIC.go116 && magic !== PCLNTAB_MAGIC.go118 && magic !== PCLNTAB_MAGIC.go120) {
    throw new Error(`Go function table: unknown magic 0x${magic.toString(16)} (a Go newer than this sensor knows, or not a function table)`);
  }
  if (start[4] !== 0 || start[5] !== 0 || (pointerSize !== 4 && pointerSize !== 8)) throw new Error('Go function table: malformed header');
  const fields = magic === PCLNTAB_MAGIC.go116 ? 7 : 8;
  const words = read(8, fields * pointerSize);
  const at = (index: number): number => (pointerSize === 8 ? Number(words.readBigUInt64LE(index * 8)) : words.readUInt32LE(index * 4));
  const values = Array.from({ length: fields }, (_, index) => at(index));
  const [functionCount, , ...rest] = values;
  const [textStart, funcnameOffset, cuOffset, filetabOffset, pctabOffset, pclnOffset] = magic === PCLNTAB_MAGIC.go116 ? [0, ...rest] : rest;
  for (const offset of [funcnameOffset, cuOffset, filetabOffset, pctabOffset, pclnOffset]) {
    if (offset >= sectionSize) throw new Error('Go function table: a table offset lies outside the section');
  }
  return { magic, pointerSize, functionCount, textStart, funcnameOffset, otherOffsets: [cuOffset, filetabOffset, pctabOffset, pclnOffset], pclnOffset };
}
