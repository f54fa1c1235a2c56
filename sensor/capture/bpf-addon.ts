/** Typed access to the native libbpf addon (bpf/addon) and the compiled BPF objects (bpf/build). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadNativeAddon, packageRoot } from '../common/native-addon';
import type { ElfReader } from './go-executable';

export interface NativeBpfObject {
  attachTracepoints(): number;
  /** `cookie`: what bpf_get_attach_cookie returns in the program for this attachment (default 0). */
  attachUprobe(program: string, binaryPath: string, fileOffset: number, isReturnProbe: boolean, cookie?: number): number;
  /** A uprobe session (Linux 6.13+): the program runs at entry and, when that run returns 0, at return. */
  attachUprobeSession(program: string, binaryPath: string, fileOffset: number): number;
  detach(linkId: number): boolean;
  writeArrayMap(map: string, index: number, value: Buffer): void;
  updateMapElement(map: string, key: Buffer, value: Buffer): void;
  readPerCpuCounters(map: string, count: number): bigint[];
  /**
   * Drains the ring on a native thread. `headerBytes`/`lengthOffset`: records reserved larger than their content
   * are cut to headerBytes + the u32 at lengthOffset. `drainIntervalMs` (default 20): how often the ring is read
   * when BPF has not woken the thread.
   */
  consumeRingBuffer(map: string, onBatch: (batch: Buffer) => void, maxPendingBytes: number, options?: { headerBytes?: number; lengthOffset?: number; drainIntervalMs?: number }): void;
  /** Reads the ring once more, hands everything to onBatch, then calls done (after every batch before it) and stops reading it. */
  finishRingBuffer(map: string, done: () => void): void;
  close(): void;
}

export interface BpfObjectOptions {
  /** Resizes maps (ring buffers) before the kernel creates them. */
  mapMaxEntries?: Record<string, number>;
  /** Sets `const volatile` globals before load, so the verifier sees constants. */
  constants?: Record<string, number>;
  /** Programs loaded as uprobe sessions (attached with attachUprobeSession); the kernel must have them. */
  sessionPrograms?: string[];
}

interface NativeAddon extends ElfReader {
  BpfObject: new (objectPath: string, options?: BpfObjectOptions) => NativeBpfObject;
  findElfSymbols(binaryPath: string, names: string[]): Record<string, number>;
}

export { packageRoot };

/** The capture's part of the native addon. */
export function loadAddon(): NativeAddon {
  return loadNativeAddon<NativeAddon>();
}

export function bpfObjectPath(name: 'tls_capture' | 'tls_capture_session' | 'process_lifecycle'): string {
  const objectPath = path.join(packageRoot(), 'bpf', 'build', `${name}.bpf.o`);
  if (!fs.existsSync(objectPath)) {
    throw new Error(`the BPF object ${objectPath} is missing: run \`npm run build\` first`);
  }
  return objectPath;
}
