/** Checks done before loading BPF, so a missing privilege or kernel feature gets a sentence, not an errno. */
import * as fs from 'node:fs';
import * as os from 'node:os';

export class CapturePreflightError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CapturePreflightError';
  }
}

/** Capability numbers from linux/capability.h. */
const Capability = {
  CAP_SYS_PTRACE: 19,
  CAP_SYS_ADMIN: 21,
} as const;
type CapabilityName = keyof typeof Capability;

/**
 * The capabilities capture needs, and why. CAP_BPF and CAP_PERFMON are not enough: since Linux 6.16 ("perf: Revert
 * to requiring CAP_SYS_ADMIN for uprobes", July 2025, also backported to stable kernels) creating a uprobe through the
 * perf PMU needs CAP_SYS_ADMIN, which also covers loading the programs, the ring buffer and the maps.
 */
const REQUIRED_CAPABILITIES: ReadonlyArray<{ name: CapabilityName; why: string }> = [
  { name: 'CAP_SYS_ADMIN', why: 'the kernel creates uprobes only for it, and it loads the BPF programs' },
  { name: 'CAP_SYS_PTRACE', why: "reads other users' /proc/PID/maps and /proc/PID/root to find TLS libraries, in containers too" },
];

/** The kernel release that added the newest BPF helper the capture programs call (`bpf_loop`). */
export const MINIMUM_KERNEL = { major: 5, minor: 17 } as const;

/** What the checks look at; read from this host by default, given by tests. */
export interface HostFacts {
  platform: NodeJS.Platform;
  /** `os.release()`, e.g. `6.18.44-fc-v657`. */
  kernelRelease: string;
  /** The `CapEff:` line of /proc/self/status, parsed; undefined when it cannot be read. */
  effectiveCapabilities?: bigint;
  /** The kernel's BTF (/sys/kernel/btf/vmlinux); undefined when the kernel exposes none. */
  readBtf: () => Buffer | undefined;
}

function readHostFacts(): HostFacts {
  let effectiveCapabilities: bigint | undefined;
  try {
    const line = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (line) effectiveCapabilities = BigInt(`0x${line[1]}`);
  } catch {
    // Not Linux, or no procfs: the platform check or the attach itself will say so.
  }
  return {
    platform: process.platform,
    kernelRelease: os.release(),
    effectiveCapabilities,
    readBtf: () => {
      try {
        return fs.readFileSync('/sys/kernel/btf/vmlinux');
      } catch {
        return undefined;
      }
    },
  };
}

function kernelVersion(release: string): { major: number; minor: number } | undefined {
  const match = /^(\d+)\.(\d+)/.exec(release);
  return match ? { major: Number(match[1]), minor: Number(match[2]) } : undefined;
}

/**
 * Whether the kernel has `bpf_loop`: by its release, or by the helper's name in the kernel's BTF, which also finds
 * it in vendor kernels that carry it under an older release number.
 */
function hasBpfLoop(release: string, btf: Buffer): boolean {
  const version = kernelVersion(release);
  if (version && (version.major > MINIMUM_KERNEL.major || (version.major === MINIMUM_KERNEL.major && version.minor >= MINIMUM_KERNEL.minor))) return true;
  return btf.includes('\0bpf_loop\0');
}

export function checkCapturePrerequisites(host: HostFacts = readHostFacts()): void {
  if (host.platform !== 'linux') {
    throw new CapturePreflightError(`capture needs Linux with eBPF; this is ${host.platform}`);
  }
  if (host.effectiveCapabilities !== undefined) {
    const missing = REQUIRED_CAPABILITIES.filter(({ name }) => (host.effectiveCapabilities! & (1n << BigInt(Capability[name]))) === 0n);
    if (missing.length > 0) {
      throw new CapturePreflightError(
        `capture needs ${REQUIRED_CAPABILITIES.map(({ name, why }) => `${name} (${why})`).join(' and ')}; this process lacks ${missing.map(({ name }) => name).join(' and ')}: `
          + 'run it as root, or give it both as ambient capabilities (capsh --addamb, systemd AmbientCapabilities=, or securityContext.capabilities.add in Kubernetes)',
      );
    }
  }
  const btf = host.readBtf();
  if (btf === undefined) {
    throw new CapturePreflightError(
      `this kernel exposes no BTF (/sys/kernel/btf/vmlinux is missing): Sightline needs a kernel built with CONFIG_DEBUG_INFO_BTF=y, ${MINIMUM_KERNEL.major}.${MINIMUM_KERNEL.minor} or later`,
    );
  }
  if (!hasBpfLoop(host.kernelRelease, btf)) {
    throw new CapturePreflightError(
      `this kernel (${host.kernelRelease}) is too old: the capture programs copy payloads with the bpf_loop helper, added in Linux ${MINIMUM_KERNEL.major}.${MINIMUM_KERNEL.minor}; run the sensor on a ${MINIMUM_KERNEL.major}.${MINIMUM_KERNEL.minor} or later kernel`,
    );
  }
}

/** Turns a libbpf failure into advice where the cause is known. */
export function explainBpfFailure(error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  const errno = (error as { errno?: number } | undefined)?.errno;
  if (errno === 1 || errno === 13) {
    return new CapturePreflightError(`loading eBPF was refused (${message.split('\n')[0]}): run as root or grant CAP_SYS_ADMIN and CAP_SYS_PTRACE`);
  }
  return error instanceof Error ? error : new Error(message);
}
