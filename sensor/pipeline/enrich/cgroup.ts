/**
 * Container identity from the text of /proc/PID/cgroup. Pure: the caller reads the file.
 *
 * Shapes covered (the container id is the 64-hex segment, the pod UID comes from the kubepods path):
 *   v2 systemd driver  0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope
 *   v2 cgroupfs driver 0::/kubepods/burstable/pod<uid>/<id>
 *   docker             0::/system.slice/docker-<id>.scope   or   12:memory:/docker/<id>
 *   cri-o              0::/kubepods.slice/.../crio-<id>.scope
 *   podman             0::/machine.slice/libpod-<id>.scope
 */

export interface CgroupIdentity {
  /** 64 lower-case hex characters, without runtime prefix. */
  containerId?: string;
  /** Kubernetes pod UID in its canonical dashed form. */
  podUid?: string;
}

const CONTAINER_SEGMENT = /^(?:(?:docker|cri-containerd|containerd|crio|cri-o|libpod)-)?([0-9a-f]{64})(?:\.scope)?$/;
// conmon is CRI-O's per-container monitor process; its scope names the container but the process is not in it.
const CONMON_SEGMENT = /^crio-conmon-/;
const POD_SEGMENT = /^(?:kubepods(?:-besteffort|-burstable|-guaranteed)?-)?pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;

function identityFromPath(path: string): CgroupIdentity {
  const identity: CgroupIdentity = {};
  const segments = path.split('/');
  for (let i = segments.length - 1; i >= 0; i--) {
    const segment = segments[i];
    if (identity.containerId === undefined && !CONMON_SEGMENT.test(segment)) {
      const container = CONTAINER_SEGMENT.exec(segment);
      if (container) identity.containerId = container[1];
    }
    if (identity.podUid === undefined) {
      const pod = POD_SEGMENT.exec(segment);
      if (pod) identity.podUid = pod[1].replace(/_/g, '-');
    }
  }
  return identity;
}

/**
 * Reads every `hierarchy-id:controllers:path` line; the cgroup v2 line (hierarchy 0) wins over v1 lines,
 * because on hybrid hosts the v1 `name=systemd` line can lag behind the unified hierarchy.
 * Returns an empty identity for a process outside any container, or for text that is not a cgroup file.
 */
export function parseCgroupIdentity(cgroupText: string): CgroupIdentity {
  let unified: CgroupIdentity | undefined;
  let legacy: CgroupIdentity | undefined;
  for (const line of cgroupText.split('\n')) {
    const first = line.indexOf(':');
    const second = first < 0 ? -1 : line.indexOf(':', first + 1);
    if (second < 0) continue;
    const identity = identityFromPath(line.slice(second + 1).trim());
    if (identity.containerId === undefined && identity.podUid === undefined) continue;
    if (line.slice(0, first) === '0' && line.slice(first + 1, second) === '') unified ??= identity;
    else if (legacy === undefined || (legacy.containerId === undefined && identity.containerId !== undefined)) legacy = identity;
  }
  return unified ?? legacy ?? {};
}
