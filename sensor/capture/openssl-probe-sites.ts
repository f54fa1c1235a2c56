/**
 * Where the OpenSSL read and write probes go in a file (x86-64).
 *
 * A uprobe is cheap when the kernel emulates the instruction it replaces (push, call, jmp, nop) and dear when it
 * must run it out of line and single-step it: on the development VM, 1 µs against 15 µs per call, measured on
 * Debian's libssl, whose SSL_write_ex starts with `sub $0x8,%rsp` (docs/benchmarks.md). In such builds
 * SSL_write_ex and SSL_read_ex are thin wrappers, `sub rsp; call <internal>`, and SSL_write and SSL_read call
 * the same internal function, which starts with `push`. For a file of that shape the _ex programs go on the
 * internal functions instead: one probe site for both public functions of a direction, taking the _ex arguments
 * (ssl, buf, num, size_t *processed) and returning above 0 on success, as the wrappers do. A public function that
 * calls neither the internal function nor its wrapper keeps its own probe; any other shape keeps every probe
 * where it was.
 */
import * as fs from 'node:fs';
import type { ElfLayout, ElfReader, ElfSection } from './go-executable';
import type { TlsFunction } from './tls-library-discovery';

const EM_X86_64 = 62;
/** A wrapper's call comes within its first few instructions; this many bytes hold them. */
const WRAPPER_BYTES = 32;
/** How much of a companion (SSL_write, SSL_read) is searched for its call when its size is unknown. */
const COMPANION_BYTES = 512;

const DIRECTIONS = [
  { wrapper: 'SSL_write_ex', companion: 'SSL_write' },
  { wrapper: 'SSL_read_ex', companion: 'SSL_read' },
] as const;

export interface ProbeSites {
  /** Where each function's probe goes (file offsets); a function covered by an internal site is left out. */
  offsets: Partial<Record<TlsFunction, number>>;
  /** The wrappers whose probes moved to the internal function they call. */
  internal: TlsFunction[];
}

/*
 * The shapes below are fixed encodings, matched byte for byte: a decoder (iced-x86, which the Go probes load) would
 * cost every sensor about 19 MB of resident memory for its WebAssembly, for three instruction forms.
 */
const ENDBR64 = [0xf3, 0x0f, 0x1e, 0xfa];
const SUB_RSP_IMM8 = [0x48, 0x83, 0xec]; // sub $imm8,%rsp
const SUB_RSP_IMM32 = [0x48, 0x81, 0xec]; // sub $imm32,%rsp
const CALL_REL32 = 0xe8;
const JMP_REL32 = 0xe9;

function startsWith(code: Buffer, at: number, prefix: number[]): boolean {
  return prefix.every((byte, index) => code[at + index] === byte);
}

/**
 * The function a wrapper calls first, when the wrapper only makes room on the stack before calling it (so every
 * argument register still holds the wrapper's argument); undefined for any other shape.
 */
export function wrappedCallTarget(code: Buffer, address: number): number | undefined {
  let at = startsWith(code, 0, ENDBR64) ? ENDBR64.length : 0;
  if (startsWith(code, at, SUB_RSP_IMM8)) at += SUB_RSP_IMM8.length + 1;
  else if (startsWith(code, at, SUB_RSP_IMM32)) at += SUB_RSP_IMM32.length + 4;
  if (code[at] !== CALL_REL32 || at + 5 > code.length) return undefined;
  return address + at + 5 + code.readInt32LE(at + 1);
}

/** Whether the code's first instruction is a push of a register (50+r, or 41 50+r for r8-r15), which the kernel emulates. */
export function startsWithPush(code: Buffer): boolean {
  const first = code[0] === 0x41 ? code[1] : code[0];
  return first !== undefined && (first & 0xf8) === 0x50;
}

/**
 * Whether the code calls or jumps to any of `targets` with a rel32 branch. Found by scanning every byte: a false
 * match needs an 0xe8/0xe9 byte followed by exactly the four bytes that point at a target, about one chance in
 * 10^11 per function.
 */
export function branchesTo(code: Buffer, address: number, targets: number[]): boolean {
  for (let at = 0; at + 5 <= code.length; at++) {
    if (code[at] !== CALL_REL32 && code[at] !== JMP_REL32) continue;
    if (targets.includes(address + at + 5 + code.readInt32LE(at + 1))) return true;
  }
  return false;
}

/**
 * The probe sites of a file whose OpenSSL functions are at `offsets` (file offsets). Never throws: a file that
 * cannot be read or decoded keeps its probes on the public functions.
 */
export function opensslProbeSites(filePath: string, offsets: Partial<Record<TlsFunction, number>>, elf: ElfReader): ProbeSites {
  const unchanged: ProbeSites = { offsets, internal: [] };
  let fd: number | undefined;
  try {
    const layout = elf.readElfLayout(filePath);
    if (!layout || layout.machine !== EM_X86_64 || layout.class !== 64) return unchanged;
    const sections = loaded(layout);
    fd = fs.openSync(filePath, 'r');
    const file = fd;
    const readAt = (offset: number, length: number): Buffer => {
      const bytes = Buffer.alloc(length);
      return bytes.subarray(0, fs.readSync(file, bytes, 0, length, offset));
    };
    const sizes = elf.findElfFunctions(filePath, DIRECTIONS.map((direction) => direction.companion));
    const sites: Partial<Record<TlsFunction, number>> = { ...offsets };
    const internal: TlsFunction[] = [];
    for (const { wrapper, companion } of DIRECTIONS) {
      const wrapperOffset = offsets[wrapper];
      const wrapperAddress = wrapperOffset === undefined ? undefined : addressOf(sections, wrapperOffset);
      if (wrapperOffset === undefined || wrapperAddress === undefined) continue;
      const targetAddress = wrappedCallTarget(readAt(wrapperOffset, WRAPPER_BYTES), wrapperAddress);
      const targetOffset = targetAddress === undefined ? undefined : offsetOf(sections, targetAddress);
      if (targetAddress === undefined || targetOffset === undefined || !startsWithPush(readAt(targetOffset, 2))) continue;
      sites[wrapper] = targetOffset;
      internal.push(wrapper);
      const companionOffset = offsets[companion];
      const companionAddress = companionOffset === undefined ? undefined : addressOf(sections, companionOffset);
      if (companionOffset === undefined || companionAddress === undefined) continue;
      const companionCode = readAt(companionOffset, sizes[companion]?.size || COMPANION_BYTES);
      // Reaching the internal function, directly or through its wrapper, it is covered there: a probe of its own
      // would see each of its calls twice.
      if (branchesTo(companionCode, companionAddress, [targetAddress, wrapperAddress])) delete sites[companion];
    }
    return { offsets: sites, internal };
  } catch {
    return unchanged;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

const SHT_NOBITS = 8;

/** Sections loaded from the file (not .bss, whose offset names no bytes of it). */
function loaded(layout: ElfLayout): ElfSection[] {
  return layout.sections.filter((section) => section.address > 0 && section.type !== SHT_NOBITS);
}

/** The virtual address of a file offset. */
function addressOf(sections: ElfSection[], offset: number): number | undefined {
  const section = sections.find((candidate) => offset >= candidate.offset && offset < candidate.offset + candidate.size);
  return section ? section.address + offset - section.offset : undefined;
}

function offsetOf(sections: ElfSection[], address: number): number | undefined {
  const section = sections.find((candidate) => address >= candidate.address && address < candidate.address + candidate.size);
  return section ? section.offset + address - section.address : undefined;
}
