/**
 * The kernel's key for an LLM path segment: FNV-1a (64-bit) over its bytes, the hash tls_capture.bpf.c computes
 * while it scans a request line, so the map lookup there needs no string compare.
 */
const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const U64 = 0xffffffffffffffffn;

export function pathSegmentHash(segment: string): bigint {
  let hash = FNV_OFFSET;
  for (const byte of Buffer.from(segment, 'utf8')) hash = ((hash ^ BigInt(byte)) * FNV_PRIME) & U64;
  return hash;
}

/** The hash as the map's 8-byte key (little-endian, as the BPF program stores a __u64). */
export function pathSegmentKey(segment: string): Buffer {
  if (segment.length === 0 || /[/?# ]/.test(segment)) throw new Error(`not a single path segment: "${segment}"`);
  const key = Buffer.alloc(8);
  key.writeBigUInt64LE(pathSegmentHash(segment));
  return key;
}
