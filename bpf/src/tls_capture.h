/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What every TLS probe shares, whichever library it sits in (OpenSSL: tls_capture.bpf.c; Go's crypto/tls:
 * go_tls_capture.bpf.c): the connection table with its verdicts, the ring buffer, the counters, the load-time
 * constants, and the code that judges a call and copies its bytes.
 *
 * The probe files are compiled apart and joined into one object by libbpf's static linker (`bpftool gen object`,
 * see the Makefile), so there is one set of maps, one .rodata and one connection counter: a Go connection is judged,
 * numbered and reported exactly like an OpenSSL one. The maps and globals are defined once, in tls_capture.bpf.c;
 * here they are declared extern, which the linker resolves. The functions below are static and inlined, so each
 * probe file carries its own copy and no global-function argument rules apply.
 */
#ifndef SIGHTLINE_TLS_CAPTURE_H
#define SIGHTLINE_TLS_CAPTURE_H

/* File type bits of inode->i_mode (from stat.h, which vmlinux.h does not carry). */
#define S_IFMT 00170000
#define S_IFSOCK 0140000

/* Room for a few multi-MiB calls in flight while userspace drains (a power of two, as required); the sensor sets
 * the size from config (capture.ringBufferBytes). */
#define EVENTS_RING_BYTES (16 * 1024 * 1024)
#define MAX_TRACKED_CONNECTIONS 65536
/* How much of a write's start is read to judge its request line: method and target, up to the end of the path;
 * a path longer than this is given to user space to judge. */
#define REQUEST_LINE_BYTES 128

/*
 * Set by the sensor before load (.rodata): the verifier sees constants, so no settings lookup is paid per hit and
 * the unused branches are removed.
 */
extern const volatile __u32 sensor_pid;             /* the sensor itself: its own TLS traffic (exporters) is never captured */
extern const volatile __u32 max_call_bytes;         /* per TLS call, bytes captured before truncation */
extern const volatile __u32 judge_connections;      /* 0: capture every connection (`sightline capture`); 1: apply verdicts */
extern const volatile __u32 undecided_budget_bytes; /* per direction, bytes sent before a verdict; then the connection is muted */
/*
 * Waking the consumer for every record costs two context switches per TLS call. Records are submitted silently
 * until this much is waiting (the sensor sets it to a fraction of the ring, at most 512 KiB); the consumer also
 * drains on a timer. Records of connections waiting for a verdict wake it at once, so the verdict comes back quickly.
 */
extern const volatile __u32 wakeup_pending_bytes;

/* Connection ids: unique while the programs stay loaded, so user space needs no table of its own. */
extern __u64 next_connection_id;

/* The socket behind a connection: learnt once (SSL_set_fd for OpenSSL, the net.Conn of a Go *tls.Conn). */
struct connection_socket {
	__s32 fd;
	__u16 peer_family; /* PEER_FAMILY_*, 0 when the peer is unknown */
	__u16 peer_port;   /* host order */
	__u8 peer_addr[16];
};

struct connection_state {
	__u64 id;
	struct connection_socket socket;
	__u32 undecided_bytes[2];  /* per direction, bytes sent while the verdict was UNDECIDED or PENDING */
	__u32 lost_bytes[2];       /* per direction, bytes lost to a full ring, owed to the next record that gets through */
	__u8 verdict;              /* enum connection_verdict */
	__u8 stream_start;         /* the next record starts a new stream: bytes were skipped before it */
	__u8 reported;             /* a record reached user space, so its end is worth a record too */
	__u8 socket_checked;       /* the socket was looked for (Go: once per connection, at its first call) */
};

/* Connection -> its verdict, socket and loss accounting. */
struct connections_map {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_TRACKED_CONNECTIONS);
	__type(key, struct connection_key);
	__type(value, struct connection_state);
};
extern struct connections_map connections SEC(".maps");

/* Verdicts user space reached (HTTP/2 after its first request heads), by connection id, picked up by the next hit. */
struct user_verdicts_map {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u8);
};
extern struct user_verdicts_map user_verdicts SEC(".maps");

/* Processes that produced TLS records: only their exits are worth a record. */
struct tls_processes_map {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_TRACKED_CONNECTIONS);
	__type(key, __u32);
	__type(value, __u8);
};
extern struct tls_processes_map tls_processes SEC(".maps");

struct tls_events_map {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EVENTS_RING_BYTES);
};
extern struct tls_events_map tls_events SEC(".maps");

struct capture_counters_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
};
extern struct capture_counters_map capture_counters SEC(".maps");

/* A TLS call between its start and the moment its bytes are known. */
struct tls_call {
	__u64 conn_ptr;   /* SSL* or *tls.Conn */
	__u64 buf;
	__u64 ex_len_ptr; /* SSL_*_ex: where the library stores the byte count; 0 otherwise */
	__u64 connection_id;
	struct connection_socket socket;
	__u32 lost_before_bytes;
	__u8 active;      /* CALL_CAPTURE or CALL_MUTED; 0 when no call is in flight */
	__u8 stream_start;
	__u8 judge_read;  /* the connection's first bytes are a read: look at them before sending */
	__u8 pending;     /* the verdict is not settled: account the bytes against the undecided budget */
	/* Wake the consumer at once: the verdict is open (user space judges), or these are the connection's first
	 * bytes for user space (it reads the process's context then, while a short-lived client still runs). */
	__u8 urgent;
};

#define CALL_CAPTURE 1 /* copy the bytes when they are known */
#define CALL_MUTED 2   /* count the bytes only */

/* ---- Small shared steps ---------------------------------------------------------------------------------- */

static __always_inline void count(__u32 counter, __u64 amount)
{
	__u64 *value = bpf_map_lookup_elem(&capture_counters, &counter);
	if (value)
		*value += amount;
}

static __always_inline void set_verdict(struct connection_state *state, __u8 verdict)
{
	if (state->verdict == verdict)
		return;
	state->verdict = verdict;
	if (verdict >= VERDICT_PENDING && verdict < VERDICT_COUNT)
		count(COUNTER_VERDICT_PENDING + verdict - VERDICT_PENDING, 1);
}

static __always_inline __u64 wakeup_flag(int urgent)
{
	if (urgent)
		return BPF_RB_FORCE_WAKEUP;
	return bpf_ringbuf_query(&tls_events, BPF_RB_AVAIL_DATA) >= wakeup_pending_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* The connection's records reach user space from now on: its end, and its process's exit, are worth a record. */
static __always_inline void mark_reported(struct connection_state *state, __u32 pid)
{
	if (state->reported)
		return;
	state->reported = 1;
	__u8 seen = 1;
	bpf_map_update_elem(&tls_processes, &pid, &seen, BPF_ANY);
}

/* The connection's state, created (UNDECIDED, with a fresh id) on its first sight. */
static __always_inline struct connection_state *connection_of(struct connection_key *key)
{
	struct connection_state *state = bpf_map_lookup_elem(&connections, key);
	if (state)
		return state;
	struct connection_state fresh = {};
	fresh.id = __sync_fetch_and_add(&next_connection_id, 1) + 1;
	fresh.socket.fd = -1;
	bpf_map_update_elem(&connections, key, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&connections, key);
}

/* ---- Judging ---------------------------------------------------------------------------------------------- */

enum write_kind {
	WRITE_UNCLEAR = 0,     /* too short to tell, or unreadable: keep sending while the verdict is open */
	WRITE_NOT_HTTP,        /* neither an HTTP/1.x request line nor the HTTP/2 preface */
	WRITE_HTTP2_PREFACE,   /* "PRI * HTTP/2.0": an HTTP/2 connection starts */
	WRITE_LLM_REQUEST,     /* a POST whose path ends in an LLM API segment */
	WRITE_OTHER_REQUEST,   /* any other HTTP/1.x request line */
};

/* What the first bytes of a write are (enum write_kind); defined in tls_capture.bpf.c, verified once. */
int judge_write(__u64 buf, __u64 len);

/* Does the read look like the start of an HTTP request, i.e. is this process the server? */
static __always_inline int looks_like_request(__u64 buf, __u64 len)
{
	enum write_kind kind = judge_write(buf, len);
	return kind == WRITE_HTTP2_PREFACE || kind == WRITE_LLM_REQUEST || kind == WRITE_OTHER_REQUEST;
}

/*
 * The verdict for this hit, applying what user space decided and what a write's first bytes say. Returns whether
 * the call's bytes are sent; sets `stream_start` when bytes were skipped before it.
 */
static __always_inline int judge_call(struct connection_state *state, __u32 direction, __u64 buf, __u64 len,
				      __u8 *stream_start, __u8 *pending)
{
	*stream_start = 0;
	*pending = 0;
	if (!judge_connections)
		return 1;
	if (state->verdict == VERDICT_UNDECIDED || state->verdict == VERDICT_PENDING) {
		__u8 *decided = bpf_map_lookup_elem(&user_verdicts, &state->id);
		if (decided) {
			set_verdict(state, *decided);
			bpf_map_delete_elem(&user_verdicts, &state->id);
		}
	}

	if (direction == TLS_DIRECTION_OUT) {
		switch (state->verdict) {
		case VERDICT_UNDECIDED: {
			enum write_kind kind = judge_write(buf, len);
			if (kind == WRITE_NOT_HTTP) {
				set_verdict(state, VERDICT_MUTE);
				return 0;
			}
			if (kind == WRITE_OTHER_REQUEST) {
				set_verdict(state, VERDICT_WATCH);
				return 0;
			}
			if (kind == WRITE_LLM_REQUEST) {
				set_verdict(state, VERDICT_FOLLOW);
				return 1;
			}
			if (kind == WRITE_HTTP2_PREFACE)
				set_verdict(state, VERDICT_PENDING);
			break; /* unclear: stays undecided, sent within the budget */
		}
		case VERDICT_FOLLOW:
		case VERDICT_WATCH: {
			/* HTTP/1.1: each request line says whether the exchange it starts is an LLM call. */
			enum write_kind kind = judge_write(buf, len);
			if (kind == WRITE_OTHER_REQUEST) {
				set_verdict(state, VERDICT_WATCH);
				return 0;
			}
			if (kind == WRITE_LLM_REQUEST) {
				if (state->verdict == VERDICT_WATCH) {
					state->stream_start = 1;
					set_verdict(state, VERDICT_FOLLOW);
				}
			}
			if (state->verdict == VERDICT_WATCH)
				return 0;
			*stream_start = state->stream_start;
			state->stream_start = 0;
			return 1;
		}
		case VERDICT_MUTE:
			return 0;
		default:
			break;
		}
	} else {
		switch (state->verdict) {
		case VERDICT_FOLLOW:
			*stream_start = state->stream_start;
			state->stream_start = 0;
			return 1;
		case VERDICT_UNDECIDED:
		case VERDICT_PENDING:
			break;
		default:
			return 0;
		}
	}

	/* UNDECIDED or PENDING: sent while the direction's budget lasts; past it, nothing will ever decide. */
	if (state->undecided_bytes[direction & 1] >= undecided_budget_bytes) {
		set_verdict(state, VERDICT_MUTE);
		count(COUNTER_BUDGET_EXHAUSTED, 1);
		return 0;
	}
	*pending = 1;
	return 1;
}

/*
 * Judges a call at its start and fills `call` with what its end needs. Returns CALL_CAPTURE or CALL_MUTED (also
 * stored in call->active). `len` is the bytes a write offers; a read's bytes are only there at its end, so a read
 * is judged on what the connection already showed.
 */
static __always_inline __u8 start_call(struct tls_call *call, struct connection_state *state, __u32 pid, __u32 direction,
				       __u64 conn_ptr, __u64 buf, __u64 len, __u64 ex_len_ptr)
{
	__u8 stream_start, pending;
	if (!judge_call(state, direction, buf, len, &stream_start, &pending)) {
		call->active = CALL_MUTED;
		return CALL_MUTED;
	}
	call->conn_ptr = conn_ptr;
	call->buf = buf;
	call->ex_len_ptr = ex_len_ptr;
	call->connection_id = state->id;
	call->socket = state->socket;
	call->lost_before_bytes = state->lost_bytes[direction & 1];
	call->stream_start = stream_start;
	call->pending = pending;
	/* The connection's first bytes are read, not written: a server's side, unless they are no request. */
	call->judge_read = judge_connections && direction == TLS_DIRECTION_IN && state->verdict == VERDICT_UNDECIDED;
	call->urgent = pending || call->judge_read || !state->reported;
	call->active = CALL_CAPTURE;
	if (!call->judge_read)
		mark_reported(state, pid);
	return CALL_CAPTURE;
}

/* ---- Copying the bytes ------------------------------------------------------------------------------------ */

struct chunk_loop {
	__u64 buf;
	__u64 connection_id;
	__u64 timestamp_ns;
	__u64 cgroup_id;
	struct connection_socket socket;
	__u32 pid;
	__u32 tid;
	__u32 call_bytes;
	__u32 capture_bytes;
	__u32 truncated_bytes;
	__u32 lost_before_bytes;
	__u32 direction;
	__u8 flags;
	__u8 urgent;
	char comm[TASK_COMM_BYTES];
};

static __always_inline void fill_header(struct tls_event *event, struct chunk_loop *loop, __u32 offset, __u32 len)
{
	event->timestamp_ns = loop->timestamp_ns;
	event->connection_id = loop->connection_id;
	event->cgroup_id = loop->cgroup_id;
	event->pid = loop->pid;
	event->tid = loop->tid;
	event->call_bytes = loop->call_bytes;
	event->chunk_offset = offset;
	event->data_bytes = len;
	event->lost_before_bytes = loop->lost_before_bytes;
	event->truncated_bytes = offset + len >= loop->capture_bytes ? loop->truncated_bytes : 0;
	event->fd = loop->socket.fd;
	event->kind = TLS_EVENT_DATA;
	event->direction = loop->direction;
	event->flags = loop->flags;
	event->reserved = 0;
	event->peer_port = loop->socket.peer_port;
	event->peer_family = loop->socket.peer_family;
	__builtin_memcpy(event->peer_addr, loop->socket.peer_addr, sizeof(event->peer_addr));
	__builtin_memcpy(event->comm, loop->comm, TASK_COMM_BYTES);
}

/* A chunk that could not be delivered becomes part of the gap the next delivered record reports. */
static __always_inline long chunk_lost(struct chunk_loop *loop, __u32 len, int read_error)
{
	if (read_error)
		count(COUNTER_READ_ERRORS, 1);
	else
		count(COUNTER_DROPPED_EVENTS, 1);
	count(COUNTER_DROPPED_BYTES, len);
	loop->lost_before_bytes += len;
	return 0;
}

/*
 * The ring only reserves sizes the verifier knows, so a record is reserved in the smallest of a few classes that
 * holds its chunk, and the process's bytes are read straight into it: one copy. The length is re-bounded on the
 * register the read uses (the empty asm keeps clang from narrowing the check to 32 bits).
 */
#define EMIT_IN_CLASS(CLASS_BYTES)                                                                               \
	do {                                                                                                     \
		struct tls_event *event = bpf_ringbuf_reserve(&tls_events, TLS_EVENT_HEADER_BYTES + (CLASS_BYTES), 0); \
		if (!event)                                                                                      \
			return chunk_lost(loop, len, 0);                                                         \
		fill_header(event, loop, offset, len);                                                           \
		__u64 bounded = len;                                                                             \
		asm volatile("" : "+r"(bounded));                                                                \
		if (bounded == 0 || bounded > (CLASS_BYTES)) {                                                   \
			bpf_ringbuf_discard(event, 0);                                                           \
			return 1;                                                                                \
		}                                                                                                \
		if (bpf_probe_read_user(event->data, bounded, (const void *)(loop->buf + offset)) != 0) {       \
			bpf_ringbuf_discard(event, 0);                                                           \
			return chunk_lost(loop, len, 1);                                                         \
		}                                                                                                \
		bpf_ringbuf_submit(event, wakeup_flag(loop->urgent));                                            \
	} while (0)

/* bpf_loop callback: copies chunk `index` of the call to the ring buffer. Returns 1 to stop the loop. */
static long emit_chunk(__u64 index, struct chunk_loop *loop)
{
	__u32 offset = index * TLS_CHUNK_BYTES;
	if (offset >= loop->capture_bytes)
		return 1;
	__u32 len = loop->capture_bytes - offset;
	if (len > TLS_CHUNK_BYTES)
		len = TLS_CHUNK_BYTES;

	if (len <= 512)
		EMIT_IN_CLASS(512);
	else if (len <= 2048)
		EMIT_IN_CLASS(2048);
	else if (len <= 8192)
		EMIT_IN_CLASS(8192);
	else
		EMIT_IN_CLASS(TLS_CHUNK_BYTES);

	/* Once a record got through, the gap it reported is settled; only the first record starts a stream. */
	loop->lost_before_bytes = 0;
	loop->flags = 0;
	count(COUNTER_EVENTS, 1);
	count(COUNTER_BYTES, len);
	return 0;
}

/*
 * The end of a call that moved `moved` bytes: a muted one is counted, a captured one is copied to the ring in
 * chunks, after the checks its start left for now (is this the server's side, the undecided budget, owed gaps).
 */
static __always_inline int finish_call(struct tls_call *call, __u8 active, __u32 direction, __u32 moved)
{
	if (moved == 0)
		return 0;
	if (active == CALL_MUTED) {
		count(COUNTER_MUTED_CALLS, 1);
		count(COUNTER_MUTED_BYTES, moved);
		return 0;
	}

	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 pid = pid_tgid >> 32;
	struct connection_state *state = 0;
	struct connection_key key = { .ssl_ptr = call->conn_ptr, .pid = pid };
	if (call->pending || call->judge_read || call->lost_before_bytes) {
		state = bpf_map_lookup_elem(&connections, &key);
		if (call->judge_read && state && state->verdict == VERDICT_UNDECIDED) {
			/* This process is the server of the connection: its peer's requests are no calls it makes. */
			if (looks_like_request(call->buf, moved))
				set_verdict(state, VERDICT_MUTE);
			/*
			 * Otherwise a client's connection whose first bytes seen are read: they answer a request written before
			 * the capture saw the connection (a read posted before the probes were attached, as Go's connection
			 * reader does). Sent, they would be paired with the next request; the next write decides.
			 */
			count(COUNTER_MUTED_CALLS, 1);
			count(COUNTER_MUTED_BYTES, moved);
			return 0;
		}
		/*
		 * Muted while this call was in flight: a read that blocked while another thread or goroutine wrote (a Go
		 * HTTP/2 server reads the preface and writes its SETTINGS at once, and its first write mutes it).
		 */
		if (state && state->verdict == VERDICT_MUTE) {
			count(COUNTER_MUTED_CALLS, 1);
			count(COUNTER_MUTED_BYTES, moved);
			return 0;
		}
		if (call->judge_read && state)
			mark_reported(state, pid);
		if (call->pending && state)
			state->undecided_bytes[direction & 1] += moved;
	}

	struct chunk_loop loop = {
		.buf = call->buf,
		.connection_id = call->connection_id,
		.timestamp_ns = bpf_ktime_get_ns(),
		.cgroup_id = bpf_get_current_cgroup_id(),
		.socket = call->socket,
		.pid = pid,
		.tid = (__u32)pid_tgid,
		.call_bytes = moved,
		.capture_bytes = moved > max_call_bytes ? max_call_bytes : moved,
		.truncated_bytes = moved > max_call_bytes ? moved - max_call_bytes : 0,
		.lost_before_bytes = call->lost_before_bytes,
		.direction = direction,
		.flags = call->stream_start ? TLS_FLAG_STREAM_START : 0,
		.urgent = call->urgent,
	};
	bpf_get_current_comm(loop.comm, sizeof(loop.comm));
	count(COUNTER_CALLS, 1);
	if (loop.truncated_bytes)
		count(COUNTER_TRUNCATED_BYTES, loop.truncated_bytes);

	__u32 chunks = (loop.capture_bytes + TLS_CHUNK_BYTES - 1) / TLS_CHUNK_BYTES;
	bpf_loop(chunks, emit_chunk, &loop, 0);

	/* Whatever could not be delivered after the last record that got through is owed to the next one. */
	if (loop.lost_before_bytes || call->lost_before_bytes) {
		if (!state)
			state = bpf_map_lookup_elem(&connections, &key);
		if (state)
			state->lost_bytes[direction & 1] = loop.lost_before_bytes;
	}
	return 0;
}

/* ---- Lifecycle -------------------------------------------------------------------------------------------- */

/* A header-only record on the TLS ring, so it is ordered after the data records that came before it. */
static __always_inline void emit_lifecycle(__u8 kind, __u64 connection_id)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct tls_event *event = bpf_ringbuf_reserve(&tls_events, TLS_EVENT_HEADER_BYTES, 0);
	if (!event) {
		count(COUNTER_DROPPED_EVENTS, 1);
		return;
	}
	__builtin_memset(event, 0, TLS_EVENT_HEADER_BYTES);
	event->timestamp_ns = bpf_ktime_get_ns();
	event->connection_id = connection_id;
	event->cgroup_id = bpf_get_current_cgroup_id();
	event->pid = pid_tgid >> 32;
	event->tid = (__u32)pid_tgid;
	event->fd = -1;
	event->kind = kind;
	bpf_get_current_comm(event->comm, sizeof(event->comm));
	bpf_ringbuf_submit(event, wakeup_flag(0));
}

/* The connection object is gone (SSL_free, tls.Conn.Close): user space flushes its streams, and a later object at
 * the same address is a new connection. */
static __always_inline void end_connection(__u64 conn_ptr)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	if (!conn_ptr || pid == sensor_pid)
		return;
	struct connection_key key = { .ssl_ptr = conn_ptr, .pid = pid };
	struct connection_state *state = bpf_map_lookup_elem(&connections, &key);
	if (!state)
		return;
	/* A connection user space never heard of needs no goodbye. */
	if (state->reported)
		emit_lifecycle(TLS_EVENT_CLOSE, state->id);
	bpf_map_delete_elem(&connections, &key);
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

#endif
