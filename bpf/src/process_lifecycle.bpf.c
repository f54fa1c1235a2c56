// SPDX-License-Identifier: GPL-2.0-only
/*
 * Process lifecycle: exec tells userspace to look for new TLS libraries to attach to. (Exit is reported by
 * tls_capture.bpf.c on the TLS ring itself, so it is ordered after the process's last captured bytes.)
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "sightline_events.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} process_events SEC(".maps");

/* BTF raw tracepoints attach by name, with no tracefs mount needed. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	struct process_event *event = bpf_ringbuf_reserve(&process_events, sizeof(*event), 0);
	if (!event)
		return 0;
	event->timestamp_ns = bpf_ktime_get_ns();
	event->cgroup_id = bpf_get_current_cgroup_id();
	event->pid = bpf_get_current_pid_tgid() >> 32;
	event->kind = PROCESS_EVENT_EXEC;
	bpf_get_current_comm(event->comm, sizeof(event->comm));
	bpf_probe_read_kernel_str(event->filename, sizeof(event->filename), BPF_CORE_READ(bprm, filename));
	bpf_ringbuf_submit(event, 0);
	return 0;
}
