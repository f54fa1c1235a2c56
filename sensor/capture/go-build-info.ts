/**
 * The Go build information every Go executable carries in its `.go.buildinfo` section (what `go version FILE`
 * prints): it marks a file as a Go program and says which Go built it, which decides how its functions are found
 * and which struct layout applies. Pure over the section's bytes, so it is tested on real binaries' sections.
 *
 * Layout (Go's debug/buildinfo): 14 bytes of magic, the pointer size, a flags byte, then either (Go 1.18 and later,
 * flag 2) the version and module strings inline at byte 32 as varint-length strings, or (before 1.18) two pointers
 * at byte 16 to Go string headers elsewhere in the file.
 */

export const GO_BUILD_INFO_SECTION = '.go.buildinfo';

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const FLAG_BIG_ENDIAN = 1;
const FLAG_INLINE_STRINGS = 2;
const INLINE_STRINGS_START = 32;

export interface GoVersion {
  /** As the toolchain names itself: `go1.19.8`, `go1.22rc1`, `devel go1.23-abc123 ...`. */
  raw: string;
  major: number;
  minor: number;
}

/** Reads `length` bytes of the file at a virtual address (pointer targets in pre-1.18 build info); undefined if unmapped. */
export type AddressReader = (address: number, length: number) => Buffer | undefined;

/** The Go version in a `.go.buildinfo` section; throws with the reason when the section is not one. */
export function parseGoBuildInfo(section: Buffer, readAddress?: AddressReader): GoVersion {
  if (section.length < INLINE_STRINGS_START || !section.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new Error('not Go build information (no "\\xff Go buildinf:" magic)');
  }
  const pointerSize = section[14];
  const flags = section[15];
  let raw: string;
  if (flags & FLAG_INLINE_STRINGS) {
    raw = readVarintString(section, INLINE_STRINGS_START);
  } else {
    if (pointerSize !== 4 && pointerSize !== 8) throw new Error(`Go build information: pointer size ${pointerSize} is neither 4 nor 8`);
    if (!readAddress) throw new Error('Go build information before Go 1.18 points elsewhere in the file, and no reader was given');
    const bigEndian = (flags & FLAG_BIG_ENDIAN) !== 0;
    const pointer = (buffer: Buffer, at: number): number =>
      pointerSize === 8 ? Number(bigEndian ? buffer.readBigUInt64BE(at) : buffer.readBigUInt64LE(at)) : bigEndian ? buffer.readUInt32BE(at) : buffer.readUInt32LE(at);
    const header = readAddress(pointer(section, 16), 2 * pointerSize);
    if (!header) throw new Error('Go build information: the version string header is not in the file');
    const bytes = readAddress(pointer(header, 0), pointer(header, pointerSize));
    if (!bytes) throw new Error('Go build information: the version string is not in the file');
    raw = bytes.toString('utf8');
  }
  return parseGoVersion(raw);
}

/** `go1.19.8` → 1, 19. Development builds name the release they lead to (`devel go1.23-...`). */
export function parseGoVersion(raw: string): GoVersion {
  const match = /go(\d+)\.(\d+)/.exec(raw);
  if (!match) throw new Error(`Go build information: unrecognised Go version ${JSON.stringify(raw)}`);
  return { raw, major: Number(match[1]), minor: Number(match[2]) };
}

export function goVersionAtLeast(version: GoVersion, major: number, minor: number): boolean {
  return version.major > major || (version.major === major && version.minor >= minor);
}

function readVarintString(buffer: Buffer, start: number): string {
  let length = 0;
  let shift = 0;
  let at = start;
  for (;;) {
    if (at >= buffer.length || shift > 28) throw new Error('Go build information: truncated version string');
    const byte = buffer[at++];
    length |= (byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) break;
    shift += 7;
  }
  if (at + length > buffer.length) throw new Error('Go build information: truncated version string');
  return buffer.toString('utf8', at, at + length);
}
