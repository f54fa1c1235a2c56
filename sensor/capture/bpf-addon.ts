/** Typed access to the native libbpf addon (bpf/addon) and the compiled BPF objects (bpf/build). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ElfReader } from './go-executable';

export interface NativeBpfObject {
  attachTracepoints(): number;
  /** `cookie`: what bpf_get_attach_cookie returns in the program for this attachment (default 0). */
  attachUprobe(program: string, binaryPath: string, fileOffset: number, isReturnProbe: boolean, cookie?: number): number;
  detach(linkId: number): boolean;
  writeArrayMap(map: string, index: number, value: Buffer): void;
  updateMapElement(map: string, key: Buffer, value: Buffer): void;
  readPerCpuCounters(map: string, count: number): bigint[];
  /** `trim`: records reserved larger than their content are cut to headerBytes + the u32 at lengthOffset. */
  consumeRingBuffer(map: string, onBatch: (batch: Buffer) => void, maxPendingBytes: number, trim?: { headerBytes: number; lengthOffset: number }): void;
  close(): void;
}

export interface BpfObjectOptions {
  /** Resizes maps (ring buffers) before the kernel creates them. */
  mapMaxEntries?: Record<string, number>;
  /** Sets `const volatile` globals before load, so the verifier sees constants. */
  constants?: Record<string, number>;
}

interface NativeAddon extends ElfReader {
  BpfObject: new (objectPath: string, options?: BpfObjectOptions) => NativeBpfObject;
  findElfSymbols(binaryPath: string, names: string[]): Record<string, number>;
}

/** The repository (or installed package) root: where bpf/build and bpf/addon live, both from sources and from dist/. */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'bpf'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the Sightline package root above ${__dirname}`);
    dir = parent;
  }
}

let addon: NativeAddon | undefined;

export function loadAddon(): NativeAddon {
  if (addon) return addon;
  const addonPath = path.join(packageRoot(), 'bpf', 'addon', 'build', 'Release', 'sightline_bpf.node');
  if (!fs.existsSync(addonPath)) {
    throw new Error(`the BPF addon is not built (${addonPath} is missing): run \`npm run build\` first`);
  }
  addon = require(addonPath) as NativeAddon;
  return addon;
}

export function bpfObjectPath(name: 'tls_capture' | 'process_lifecycle'): string {
  const objectPath = path.join(packageRoot(), 'bpf', 'build', `${name}.bpf.o`);
  if (!fs.existsSync(objectPath)) {
    throw new Error(`the BPF object ${objectPath} is missing: run \`npm run build\` first`);
  }
  return objectPath;
}
