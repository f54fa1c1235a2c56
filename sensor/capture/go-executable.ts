/**
 * Recognises a Go executable that uses crypto/tls and works out where its probes go: the Go version from its build
 * information, the functions from the symbol table or, when stripped, from Go's own function table, and the probe
 * points inside them from their machine code. Read once per file (device+inode) by discovery.
 */
import * as fs from 'node:fs';
import { GO_BUILD_INFO_SECTION, goVersionAtLeast, parseGoBuildInfo } from './go-build-info';
import { GO_PCLNTAB_SECTIONS, findGoFunctions, type GoFunction } from './go-pclntab';
import { findProbePoints } from './go-probe-points';
import { goConnLayoutRow } from './go-struct-layouts';

/** The crypto/tls methods every Go TLS client and server goes through. */
export const GO_TLS_FUNCTIONS = {
  write: 'crypto/tls.(*Conn).Write',
  read: 'crypto/tls.(*Conn).Read',
  close: 'crypto/tls.(*Conn).Close',
} as const;

const EM_X86_64 = 62;

export interface ElfSection {
  name: string;
  type: number;
  address: number;
  offset: number;
  size: number;
}

export interface ElfLayout {
  machine: number;
  class: number;
  littleEndian: boolean;
  sections: ElfSection[];
}

/** The ELF reading the addon does with libelf (bpf/addon/src/elf_symbols.cc). */
export interface ElfReader {
  readElfLayout(filePath: string): ElfLayout | null;
  findElfFunctions(filePath: string, names: string[]): Record<string, { offset: number; size: number }>;
}

/** Where the Go probes of one executable go (file offsets, as uprobes take them). */
export interface GoTlsProbes {
  goVersion: string;
  /** Where the functions were found: the ELF symbol table, or Go's function table in a stripped executable. */
  functionsFrom: 'symtab' | 'pclntab';
  /** Row of the `go_conn_layouts` map for this Go version (the probes' attach cookie); 0: the peer stays unknown. */
  connLayoutRow: number;
  /** Write and Read after their stack check; Read's RET instructions; Close after its stack check, if linked in. */
  writeBody: number;
  readBody: number;
  readReturns: number[];
  /** Read stores its receiver and buffer in their spill slots on its one path in: its RETs can read them there. */
  readArgumentsSpilled: boolean;
  closeBody?: number;
  /**
   * Where Write, Read and Close are probed instead of their body, when their stack check allows it: its JBE (see
   * go-probe-points.ts), as a file offset, and the register the check compares.
   */
  checks?: { write?: GoCheckSite; read?: GoCheckSite; close?: GoCheckSite };
}

export interface GoCheckSite {
  offset: number;
  register: 'rsp' | 'r12';
}

/**
 * The probes of a Go executable using crypto/tls; null for a file that is not a Go executable or does not use
 * crypto/tls. Throws, with the reason, for a Go executable it cannot probe (too old, another architecture, code it
 * does not recognise), so discovery can say so.
 */
export function inspectGoExecutable(filePath: string, elf: ElfReader): GoTlsProbes | null {
  const layout = elf.readElfLayout(filePath);
  const buildInfo = layout?.sections.find((section) => section.name === GO_BUILD_INFO_SECTION);
  if (!layout || !buildInfo) return null;

  const fd = fs.openSync(filePath, 'r');
  try {
    const readAt = (offset: number, length: number): Buffer => {
      const bytes = Buffer.alloc(length);
      const read = fs.readSync(fd, bytes, 0, length, offset);
      if (read !== length) throw new Error(`short read of ${length} bytes at ${offset}`);
      return bytes;
    };
    const readAddress = (address: number, length: number): Buffer | undefined => {
      const section = layout.sections.find((candidate) => candidate.address > 0 && address >= candidate.address && address + length <= candidate.address + candidate.size);
      return section ? readAt(section.offset + address - section.address, length) : undefined;
    };

    const version = parseGoBuildInfo(readAt(buildInfo.offset, buildInfo.size), readAddress);
    if (!goVersionAtLeast(version, 1, 17)) throw new Error(`built by ${version.raw}: Go before 1.17 has no register ABI, which the Go probes read`);
    if (layout.machine !== EM_X86_64 || layout.class !== 64 || !layout.littleEndian) {
      throw new Error(`built by ${version.raw} for ELF machine ${layout.machine}: the Go probes support x86-64 only`);
    }

    const names = Object.values(GO_TLS_FUNCTIONS);
    const { functions, from } = locateFunctions(filePath, elf, layout, names, readAt);
    const write = functions.get(GO_TLS_FUNCTIONS.write);
    const read = functions.get(GO_TLS_FUNCTIONS.read);
    if (!write || !read) return null; // a Go program without TLS

    const fileOffsetOf = (address: number): number => {
      const section = layout.sections.find((candidate) => candidate.address > 0 && address >= candidate.address && address < candidate.address + candidate.size);
      if (!section) throw new Error(`address 0x${address.toString(16)} lies in no section`);
      return section.offset + address - section.address;
    };
    const pointsOf = (name: string, fn: GoFunction) => {
      const points = findProbePoints(readAt(fileOffsetOf(fn.address), fn.size), fn.address, name);
      const check: GoCheckSite | undefined = points.check && { offset: fileOffsetOf(points.check.address), register: points.check.register };
      return { body: fileOffsetOf(points.bodyAddress), check, returns: points.returnAddresses.map(fileOffsetOf), argumentsSpilled: points.argumentsSpilled };
    };
    const writePoints = pointsOf(GO_TLS_FUNCTIONS.write, write);
    const readPoints = pointsOf(GO_TLS_FUNCTIONS.read, read);
    const close = functions.get(GO_TLS_FUNCTIONS.close);
    const closePoints = close ? pointsOf(GO_TLS_FUNCTIONS.close, close) : undefined;
    const checks = { write: writePoints.check, read: readPoints.check, close: closePoints?.check };
    return {
      goVersion: version.raw,
      functionsFrom: from,
      connLayoutRow: goConnLayoutRow(version),
      writeBody: writePoints.body,
      readBody: readPoints.body,
      readReturns: readPoints.returns,
      readArgumentsSpilled: readPoints.argumentsSpilled,
      closeBody: closePoints?.body,
      ...(checks.write || checks.read || checks.close ? { checks } : {}),
    };
  } finally {
    fs.closeSync(fd);
  }
}

/** Addresses and sizes of the functions: from .symtab when the executable kept it, else from .gopclntab. */
function locateFunctions(
  filePath: string,
  elf: ElfReader,
  layout: ElfLayout,
  names: string[],
  readAt: (offset: number, length: number) => Buffer,
): { functions: Map<string, GoFunction>; from: 'symtab' | 'pclntab' } {
  const text = layout.sections.find((section) => section.name === '.text');
  const hasSymbolTable = layout.sections.some((section) => section.name === '.symtab');
  if (hasSymbolTable && text) {
    const symbols = elf.findElfFunctions(filePath, names);
    const functions = new Map<string, GoFunction>();
    for (const [name, symbol] of Object.entries(symbols)) {
      // The symbol table gives file offsets; probe points are found by address, as in the function table.
      functions.set(name, { address: symbol.offset - text.offset + text.address, size: symbol.size });
    }
    return { functions, from: 'symtab' };
  }
  const pclntab = layout.sections.find((section) => GO_PCLNTAB_SECTIONS.includes(section.name));
  if (!pclntab) throw new Error('neither a symbol table nor a Go function table (.gopclntab): cannot find crypto/tls');
  const functions = findGoFunctions((offset, length) => readAt(pclntab.offset + offset, length), pclntab.size, names, text?.address ?? 0);
  return { functions, from: 'pclntab' };
}

