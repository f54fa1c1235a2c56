// SPDX-License-Identifier: GPL-2.0-only
/*
 * TLS plaintext capture: uprobes on OpenSSL's SSL_write, SSL_write_ex, SSL_read and SSL_read_ex.
 *
 * The entry probe remembers the caller's buffer; the return probe knows how many bytes moved and copies them
 * to the ring buffer in chunks.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include "sightline_events.h"

/* Debian's libbpf 1.1 predates BPF_UPROBE; BPF_KPROBE reads the same pt_regs argument registers. */

char LICENSE[] SEC("license") = "GPL";

/* File type bits of inode->i_mode (from stat.h, which vmlinux.h does not carry). */
#define S_IFMT 00170000
#define S_IFSOCK 0140000

/* Room for a few multi-MiB calls in flight while userspace drains (a power of two, as required). The sensor maps
 * the ring twice, so its RSS grows by twice this; the sensor sets the size from config (capture.ringBufferBytes). */
#define EVENTS_RING_BYTES (16 * 1024 * 1024)
#define MAX_CALLS_IN_FLIGHT 65536
#define MAX_TRACKED_CONNECTIONS 65536
/*
 * Waking the consumer for every record costs two context switches per SSL call. Records are submitted
 * silently until this much is waiting; the consumer also drains on a short timer, so nothing waits long.
 */
#define WAKEUP_PENDING_BYTES (512 * 1024)

/* The socket behind a connection, learnt once at SSL_set_fd. */
struct connection_socket {
	__s32 fd;
	__u16 peer_family; /* PEER_FAMILY_*, 0 when the peer is unknown */
	__u16 peer_port;   /* host order */
	__u8 peer_addr[16];
};

struct ssl_call {
	__u64 ssl_ptr;
	__u64 buf;
	__u64 ex_len_ptr; /* SSL_*_ex: where the library stores the byte count; 0 for the plain forms */
	struct connection_socket socket;
};

/* One map per direction: a read and a write of the same thread never nest, but keeping them apart costs nothing. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_CALLS_IN_FLIGHT);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct ssl_call);
} write_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_CALLS_IN_FLIGHT);
	__type(key, __u64);
	__type(value, struct ssl_call);
} read_calls SEC(".maps");

/* A connection: an SSL* is only unique within its process. */
struct connection_key {
	__u64 ssl_ptr;
	__u32 pid;
	__u32 reserved;
};

/* Connection -> its socket fd and peer, from SSL_set_fd. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_TRACKED_CONNECTIONS);
	__type(key, struct connection_key);
	__type(value, struct connection_socket);
} connection_sockets SEC(".maps");

struct lost_key {
	__u64 ssl_ptr;
	__u32 pid;
	__u32 direction;
};

/* Bytes lost to a full ring buffer, per connection and direction, reported on the next record that gets through. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_TRACKED_CONNECTIONS);
	__type(key, struct lost_key);
	__type(value, __u32);
} lost_bytes SEC(".maps");

/* Processes that produced TLS records: only their exits are worth a record. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_TRACKED_CONNECTIONS);
	__type(key, __u32);
	__type(value, __u8);
} tls_processes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EVENTS_RING_BYTES);
} tls_events SEC(".maps");

/* A record is too large for the BPF stack, so it is assembled in per-CPU scratch space. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tls_event);
} event_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} capture_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct capture_config);
} capture_settings SEC(".maps");

static __always_inline __u64 wakeup_flag(void)
{
	return bpf_ringbuf_query(&tls_events, BPF_RB_AVAIL_DATA) >= WAKEUP_PENDING_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline void count(__u32 counter, __u64 amount)
{
	__u64 *value = bpf_map_lookup_elem(&capture_counters, &counter);
	if (value)
		*value += amount;
}

static __always_inline struct capture_config *settings(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&capture_settings, &zero);
}

static __always_inline int remember_call(void *calls, __u64 ssl_ptr, __u64 buf, __u64 ex_len_ptr)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct capture_config *config = settings();
	if (config && config->ignore_pid == (__u32)(pid_tgid >> 32))
		return 0;

	struct ssl_call call = {
		.ssl_ptr = ssl_ptr,
		.buf = buf,
		.ex_len_ptr = ex_len_ptr,
		.socket = { .fd = -1 },
	};
	struct connection_key connection = { .ssl_ptr = ssl_ptr, .pid = pid_tgid >> 32 };
	struct connection_socket *known = bpf_map_lookup_elem(&connection_sockets, &connection);
	if (known)
		call.socket = *known;
	bpf_map_update_elem(calls, &pid_tgid, &call, BPF_ANY);
	return 0;
}

struct chunk_loop {
	struct ssl_call *call;
	__u64 timestamp_ns;
	__u64 cgroup_id;
	__u32 pid;
	__u32 tid;
	__u32 call_bytes;
	__u32 capture_bytes;
	__u32 truncated_bytes;
	__u32 lost_before_bytes;
	__u32 direction;
	char comm[TASK_COMM_BYTES];
};

/* bpf_loop callback: copies chunk `index` of the call to the ring buffer. Returns 1 to stop the loop. */
static long emit_chunk(__u64 index, struct chunk_loop *loop)
{
	__u32 zero = 0;
	struct tls_event *event = bpf_map_lookup_elem(&event_scratch, &zero);
	if (!event)
		return 1;

	__u64 offset = index * TLS_CHUNK_BYTES;
	if (offset >= loop->capture_bytes)
		return 1;
	__u64 len = loop->capture_bytes - offset;
	if (len > TLS_CHUNK_BYTES)
		len = TLS_CHUNK_BYTES;

	event->timestamp_ns = loop->timestamp_ns;
	event->ssl_ptr = loop->call->ssl_ptr;
	event->cgroup_id = loop->cgroup_id;
	event->pid = loop->pid;
	event->tid = loop->tid;
	event->call_bytes = loop->call_bytes;
	event->chunk_offset = offset;
	event->data_bytes = len;
	event->lost_before_bytes = loop->lost_before_bytes;
	event->truncated_bytes = offset + len >= loop->capture_bytes ? loop->truncated_bytes : 0;
	event->fd = loop->call->socket.fd;
	event->kind = TLS_EVENT_DATA;
	event->direction = loop->direction;
	event->peer_port = loop->call->socket.peer_port;
	event->peer_family = loop->call->socket.peer_family;
	event->reserved = 0;
	__builtin_memcpy(event->peer_addr, loop->call->socket.peer_addr, sizeof(event->peer_addr));
	__builtin_memcpy(event->comm, loop->comm, TASK_COMM_BYTES);

	/* The verifier needs len provably within data[] as a 64-bit value; the empty asm stops clang from
	 * folding the bound check into a 32-bit compare the verifier cannot use. */
	asm volatile("" : "+r"(len));
	if (len == 0 || len > TLS_CHUNK_BYTES)
		return 1;
	/* A chunk that cannot be delivered becomes part of the gap the next delivered record reports. */
	if (bpf_probe_read_user(event->data, len, (const void *)(loop->call->buf + offset)) != 0) {
		count(COUNTER_READ_ERRORS, 1);
		count(COUNTER_DROPPED_BYTES, len);
		loop->lost_before_bytes += len;
		return 0;
	}
	if (bpf_ringbuf_output(&tls_events, event, TLS_EVENT_HEADER_BYTES + len, wakeup_flag()) != 0) {
		count(COUNTER_DROPPED_EVENTS, 1);
		count(COUNTER_DROPPED_BYTES, len);
		loop->lost_before_bytes += len;
		return 0;
	}
	/* Once a record got through, the gap it reported is settled. */
	loop->lost_before_bytes = 0;
	count(COUNTER_EVENTS, 1);
	count(COUNTER_BYTES, len);
	return 0;
}

static __always_inline int emit_call(void *calls, __u32 direction, long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct ssl_call *call = bpf_map_lookup_elem(calls, &pid_tgid);
	if (!call)
		return 0;

	__u64 moved = 0;
	if (call->ex_len_ptr) {
		/* SSL_*_ex return 1 on success and store the byte count through their last argument. */
		if (ret == 1)
			bpf_probe_read_user(&moved, sizeof(moved), (const void *)call->ex_len_ptr);
	} else if (ret > 0) {
		moved = ret;
	}
	if (moved == 0 || moved > 0x7fffffff)
		goto done;

	struct capture_config *config = settings();
	/* The sensor always writes the setting; the fallback only matters if it did not. */
	__u32 limit = config && config->max_call_bytes ? config->max_call_bytes : 8 * 1024 * 1024;

	struct lost_key lost = { .ssl_ptr = call->ssl_ptr, .pid = pid_tgid >> 32, .direction = direction };
	__u32 *pending_lost = bpf_map_lookup_elem(&lost_bytes, &lost);

	struct chunk_loop loop = {
		.call = call,
		.timestamp_ns = bpf_ktime_get_ns(),
		.cgroup_id = bpf_get_current_cgroup_id(),
		.pid = pid_tgid >> 32,
		.tid = (__u32)pid_tgid,
		.call_bytes = moved,
		.capture_bytes = moved > limit ? limit : moved,
		.truncated_bytes = moved > limit ? moved - limit : 0,
		.lost_before_bytes = pending_lost ? *pending_lost : 0,
		.direction = direction,
	};
	bpf_get_current_comm(loop.comm, sizeof(loop.comm));
	count(COUNTER_CALLS, 1);
	__u8 seen = 1;
	bpf_map_update_elem(&tls_processes, &loop.pid, &seen, BPF_ANY);
	if (loop.truncated_bytes)
		count(COUNTER_TRUNCATED_BYTES, loop.truncated_bytes);

	__u32 chunks = (loop.capture_bytes + TLS_CHUNK_BYTES - 1) / TLS_CHUNK_BYTES;
	bpf_loop(chunks, emit_chunk, &loop, 0);

	/* Whatever could not be delivered after the last record that got through is owed to the next one. */
	__u32 still_lost = loop.lost_before_bytes;
	if (still_lost)
		bpf_map_update_elem(&lost_bytes, &lost, &still_lost, BPF_ANY);
	else if (pending_lost)
		bpf_map_delete_elem(&lost_bytes, &lost);
done:
	bpf_map_delete_elem(calls, &pid_tgid);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_entry, void *ssl, const void *buf, int num)
{
	return remember_call(&write_calls, (__u64)ssl, (__u64)buf, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_return, int ret)
{
	return emit_call(&write_calls, TLS_DIRECTION_OUT, ret);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_entry, void *ssl, const void *buf, size_t num, size_t *written)
{
	return remember_call(&write_calls, (__u64)ssl, (__u64)buf, (__u64)written);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_ex_return, int ret)
{
	return emit_call(&write_calls, TLS_DIRECTION_OUT, ret);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_entry, void *ssl, void *buf, int num)
{
	return remember_call(&read_calls, (__u64)ssl, (__u64)buf, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_return, int ret)
{
	return emit_call(&read_calls, TLS_DIRECTION_IN, ret);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_entry, void *ssl, void *buf, size_t num, size_t *readbytes)
{
	return remember_call(&read_calls, (__u64)ssl, (__u64)buf, (__u64)readbytes);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_ex_return, int ret)
{
	return emit_call(&read_calls, TLS_DIRECTION_IN, ret);
}

/* A header-only record on the TLS ring, so it is ordered after the data records that came before it. */
static __always_inline void emit_lifecycle(__u8 kind, __u64 ssl_ptr)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct tls_event *event = bpf_ringbuf_reserve(&tls_events, TLS_EVENT_HEADER_BYTES, 0);
	if (!event) {
		count(COUNTER_DROPPED_EVENTS, 1);
		return;
	}
	__builtin_memset(event, 0, TLS_EVENT_HEADER_BYTES);
	event->timestamp_ns = bpf_ktime_get_ns();
	event->ssl_ptr = ssl_ptr;
	event->cgroup_id = bpf_get_current_cgroup_id();
	event->pid = pid_tgid >> 32;
	event->tid = (__u32)pid_tgid;
	event->fd = -1;
	event->kind = kind;
	bpf_get_current_comm(event->comm, sizeof(event->comm));
	bpf_ringbuf_submit(event, wakeup_flag());
}

/* SSL_free ends the connection: userspace flushes its streams, and a later SSL* at the same address is a new connection. */
SEC("uprobe")
int BPF_KPROBE(ssl_free_entry, void *ssl)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct capture_config *config = settings();
	if (!ssl || (config && config->ignore_pid == (__u32)(pid_tgid >> 32)))
		return 0;
	struct connection_key connection = { .ssl_ptr = (__u64)ssl, .pid = pid_tgid >> 32 };
	bpf_map_delete_elem(&connection_sockets, &connection);
	emit_lifecycle(TLS_EVENT_CLOSE, (__u64)ssl);
	return 0;
}

/* The exit of a process that had TLS traffic ends all its connections (many clients never call SSL_free). */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(tls_process_exit, struct task_struct *task)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 pid = pid_tgid >> 32;
	if ((__u32)pid_tgid != pid || !bpf_map_lookup_elem(&tls_processes, &pid))
		return 0;
	bpf_map_delete_elem(&tls_processes, &pid);
	emit_lifecycle(TLS_EVENT_PROCESS_EXIT, 0);
	return 0;
}

/*
 * The remote end of socket `fd` of the current process, when it is a connected TCP socket. Read from the task's
 * fd table with CO-RE, so it needs no syscall probe; a fd that is not a socket leaves the peer unknown.
 */
static __always_inline void resolve_peer(int fd, struct connection_socket *socket)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) != 0 || !file)
		return;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return;
	struct socket *sock = BPF_CORE_READ(file, private_data);
	struct sock *sk = sock ? BPF_CORE_READ(sock, sk) : NULL;
	if (!sk)
		return;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u16 port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (port == 0)
		return; /* not connected yet */
	if (family == PEER_FAMILY_IPV4) {
		__u32 addr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(socket->peer_addr, &addr, sizeof(addr));
	} else if (family == PEER_FAMILY_IPV6 && bpf_core_field_exists(sk->__sk_common.skc_v6_daddr)) {
		/* Guarded: a kernel built without IPv6 has no such field, and the relocation would fail the load. */
		BPF_CORE_READ_INTO(&socket->peer_addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		return;
	}
	socket->peer_family = family;
	socket->peer_port = port;
}

/*
 * SSL_set_fd tells which socket a connection uses (python, most C clients). It runs once per connection,
 * unlike a syscall tracepoint, which would tax every syscall on the host; the peer is resolved here too, since
 * clients connect before they hand the socket to OpenSSL. Clients with their own BIO (curl, node) never call it;
 * their fd stays -1 and the peer comes from the HTTP Host header instead.
 */
SEC("uprobe")
int BPF_KPROBE(ssl_set_fd_entry, void *ssl, int fd)
{
	if (!ssl || fd < 0)
		return 0;
	struct connection_key connection = { .ssl_ptr = (__u64)ssl, .pid = bpf_get_current_pid_tgid() >> 32 };
	struct connection_socket socket = { .fd = fd };
	resolve_peer(fd, &socket);
	bpf_map_update_elem(&connection_sockets, &connection, &socket, BPF_ANY);
	return 0;
}
