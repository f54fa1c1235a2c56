import { checkCapturePrerequisites, type HostFacts } from '../../sensor/capture/preflight';

const CAP_SYS_PTRACE = 1n << 19n;
const CAP_SYS_ADMIN = 1n << 21n;
const CAP_BPF = 1n << 39n;
const CAP_PERFMON = 1n << 38n;
const BTF_WITH_BPF_LOOP = Buffer.from('\0btf header\0bpf_loop\0bpf_ringbuf_query\0');
const BTF_WITHOUT_BPF_LOOP = Buffer.from('\0btf header\0bpf_ringbuf_query\0');

function host(facts: Partial<HostFacts> = {}): HostFacts {
  return { platform: 'linux', kernelRelease: '6.18.44', effectiveCapabilities: CAP_SYS_ADMIN | CAP_SYS_PTRACE, readBtf: () => BTF_WITH_BPF_LOOP, ...facts };
}

describe('capture preflight', () => {
  it('passes on this machine, where the tests run as root on a recent kernel with BTF', () => {
    expect(() => checkCapturePrerequisites()).not.toThrow();
  });

  it('passes a non-root process holding CAP_SYS_ADMIN and CAP_SYS_PTRACE', () => {
    expect(() => checkCapturePrerequisites(host())).not.toThrow();
  });

  it.each([
    ['CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE (not enough for uprobes)', CAP_BPF | CAP_PERFMON | CAP_SYS_PTRACE, /lacks CAP_SYS_ADMIN:/],
    ['CAP_SYS_ADMIN only', CAP_SYS_ADMIN, /lacks CAP_SYS_PTRACE:/],
    ['no capability', 0n, /lacks CAP_SYS_ADMIN and CAP_SYS_PTRACE:/],
  ])('refuses %s, naming what is missing and why', (_what, capabilities, missing) => {
    expect(() => checkCapturePrerequisites(host({ effectiveCapabilities: capabilities }))).toThrow(missing);
    expect(() => checkCapturePrerequisites(host({ effectiveCapabilities: capabilities }))).toThrow(/CAP_SYS_ADMIN \(the kernel creates uprobes only for it.*run it as root/);
  });

  it('refuses a kernel without BTF', () => {
    expect(() => checkCapturePrerequisites(host({ readBtf: () => undefined }))).toThrow('this kernel exposes no BTF (/sys/kernel/btf/vmlinux is missing)');
  });

  it('refuses a kernel older than 5.17 whose BTF has no bpf_loop, and names the helper', () => {
    expect(() => checkCapturePrerequisites(host({ kernelRelease: '5.15.0-91-generic', readBtf: () => BTF_WITHOUT_BPF_LOOP })))
      .toThrow('this kernel (5.15.0-91-generic) is too old: the capture programs copy payloads with the bpf_loop helper, added in Linux 5.17');
  });

  it('accepts an older release number whose BTF has bpf_loop (a vendor backport), and 5.17 itself', () => {
    expect(() => checkCapturePrerequisites(host({ kernelRelease: '4.18.0-513.el8.x86_64' }))).not.toThrow();
    expect(() => checkCapturePrerequisites(host({ kernelRelease: '5.17.0', readBtf: () => BTF_WITHOUT_BPF_LOOP }))).not.toThrow();
  });

  it('refuses another platform', () => {
    expect(() => checkCapturePrerequisites(host({ platform: 'darwin' }))).toThrow('capture needs Linux with eBPF; this is darwin');
  });
});
