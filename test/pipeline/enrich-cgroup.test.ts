import { parseCgroupIdentity } from '../../sensor/pipeline/enrich/cgroup';

const ID = '3f4e1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f';
const POD_UID = '0d6b9a4e-5f1c-4c8e-9a77-2b3c4d5e6f70';
const POD_UID_UNDERSCORES = POD_UID.replace(/-/g, '_');

describe('parseCgroupIdentity', () => {
  it.each([
    ['cgroup v2, containerd with the systemd driver', `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD_UID_UNDERSCORES}.slice/cri-containerd-${ID}.scope\n`, ID, POD_UID],
    ['cgroup v2, cri-o', `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD_UID_UNDERSCORES}.slice/crio-${ID}.scope\n`, ID, POD_UID],
    ['cgroup v2, guaranteed pod (no QoS slice)', `0::/kubepods.slice/kubepods-pod${POD_UID_UNDERSCORES}.slice/cri-containerd-${ID}.scope\n`, ID, POD_UID],
    ['cgroup v2, cgroupfs driver', `0::/kubepods/burstable/pod${POD_UID}/${ID}\n`, ID, POD_UID],
    ['cgroup v2, docker with systemd', `0::/system.slice/docker-${ID}.scope\n`, ID, undefined],
    ['cgroup v2, podman', `0::/machine.slice/libpod-${ID}.scope/container\n`, ID, undefined],
  ])('%s', (_shape, text, containerId, podUid) => {
    expect(parseCgroupIdentity(text)).toEqual(podUid === undefined ? { containerId } : { containerId, podUid });
  });

  it('reads cgroup v1 files (docker cgroupfs driver)', () => {
    const text = [
      `12:pids:/docker/${ID}`,
      `11:memory:/docker/${ID}`,
      `1:name=systemd:/docker/${ID}`,
      '',
    ].join('\n');
    expect(parseCgroupIdentity(text)).toEqual({ containerId: ID });
  });

  it('reads cgroup v1 kubepods paths', () => {
    const text = `5:cpu,cpuacct:/kubepods/besteffort/pod${POD_UID}/${ID}\n4:devices:/kubepods/besteffort/pod${POD_UID}/${ID}\n`;
    expect(parseCgroupIdentity(text)).toEqual({ containerId: ID, podUid: POD_UID });
  });

  it('prefers the unified (v2) line on hybrid hosts', () => {
    const other = 'a'.repeat(64);
    const text = `1:name=systemd:/docker/${other}\n0::/system.slice/docker-${ID}.scope\n`;
    expect(parseCgroupIdentity(text).containerId).toBe(ID);
  });

  it('skips the CRI-O conmon scope, which is not the container', () => {
    expect(parseCgroupIdentity(`0::/kubepods.slice/crio-conmon-${ID}.scope\n`)).toEqual({});
  });

  it('returns nothing for host processes, namespaced roots and garbage', () => {
    expect(parseCgroupIdentity('0::/user.slice/user-1000.slice/session-3.scope\n')).toEqual({});
    expect(parseCgroupIdentity('0::/\n')).toEqual({});
    expect(parseCgroupIdentity('')).toEqual({});
    expect(parseCgroupIdentity('\u0000\u0001 not a cgroup file')).toEqual({});
    expect(parseCgroupIdentity(`0::/docker/${ID.slice(0, 63)}\n`)).toEqual({});
  });
});
