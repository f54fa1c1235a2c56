/** Checks done before loading BPF, so a missing privilege or kernel feature gets a sentence, not an errno. */
import * as fs from 'node:fs';

export class CapturePreflightError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CapturePreflightError';
  }
}

export function checkCapturePrerequisites(): void {
  if (process.platform !== 'linux') {
    throw new CapturePreflightError(`capture needs Linux with eBPF; this is ${process.platform}`);
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new CapturePreflightError(
      'capture needs root (or CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE) to load eBPF programs and attach uprobes: run it with sudo',
    );
  }
  if (!fs.existsSync('/sys/kernel/btf/vmlinux')) {
    throw new CapturePreflightError(
      'this kernel exposes no BTF (/sys/kernel/btf/vmlinux is missing): Sightline needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (5.8 or later)',
    );
  }
}

/** Turns a libbpf failure into advice where the cause is known. */
export function explainBpfFailure(error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  const errno = (error as { errno?: number } | undefined)?.errno;
  if (errno === 1 || errno === 13) {
    return new CapturePreflightError(`loading eBPF was refused (${message.split('\n')[0]}): run as root or grant CAP_BPF and CAP_PERFMON`);
  }
  return error instanceof Error ? error : new Error(message);
}
