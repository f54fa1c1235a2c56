// SPDX-License-Identifier: GPL-2.0-only
/*
 * TLS plaintext capture: uprobes on OpenSSL's SSL_write, SSL_write_ex, SSL_read and SSL_read_ex.
 *
 * Every hit starts with one lookup of its connection's verdict. A connection that cannot carry an LLM call (not
 * HTTP, a server's side, HTTP/1.1 between LLM requests, HTTP/2 that user space muted) stops there: nothing is
 * copied and nothing reaches the ring buffer. Otherwise the entry probe remembers the caller's buffer in task
 * storage and the return probe, which alone knows how many bytes moved, copies them once, straight from the
 * process into ring-buffer records.
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
#define MAX_TRACKED_CONNECTIONS 65536
/*
 * Waking the consumer for every record costs two context switches per SSL call. Records are submitted
 * silently until this much is waiting; the consumer also drains on a short timer, so nothing waits long.
 * Records of connections waiting for a verdict wake it at once, so the verdict comes back quickly.
 */
#define WAKEUP_PENDING_BYTES (512 * 1024)
/* How much of a write's start is read to judge its request line: method and target, up to the end of the path;
 * a path longer than this is given to user space to judge. */
#define REQUEST_LINE_BYTES 128

/*
 * Set by the sensor before load (.rodata): the verifier sees constants, so no settings lookup is paid per hit and
 * the unused branches are removed.
 */
const volatile __u32 sensor_pid = 0;              /* the sensor itself: its own TLS traffic (exporters) is never captured */
const volatile __u32 max_call_bytes = 8 << 20;    /* per SSL call, bytes captured before truncation */
const volatile __u32 judge_connections = 0;       /* 0: capture every connection (`sightline capture`); 1: apply verdicts */
const volatile __u32 undecided_budget_bytes = 4 << 20; /* per direction, bytes sent before a verdict; then the connection is muted */

/* Connection ids: unique while the programs stay loaded, so user space needs no table of its own. */
__u64 next_connection_id = 0;

/* The socket behind a connection, learnt once at SSL_set_fd. */
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
	__u8 reserved;
};

/* Connection -> its verdict, socket and loss accounting. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_TRACKED_CONNECTIONS);
	__type(key, struct connection_key);
	__type(value, struct connection_state);
} connections SEC(".maps");

/* Verdicts user space reached (HTTP/2 after its first request heads), by connection id, picked up by the next hit. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u8);
} user_verdicts SEC(".maps");

/*
 * FNV-1a hashes of the last path segments of LLM API paths (`completions`, `messages`, `invoke`, ...), written by
 * user space from its provider table before any probe is attached. A POST whose path ends in one of them starts
 * an LLM request; a collision only means user space looks at one request it did not need to.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, __u8);
} llm_path_segments SEC(".maps");

/* The SSL call a thread is inside, per direction: task storage costs no hashing and needs no delete. */
struct ssl_call {
	__u64 ssl_ptr;
	__u64 buf;
	__u64 ex_len_ptr; /* SSL_*_ex: where the library stores the byte count; 0 for the plain forms */
	__u64 connection_id;
	struct connection_socket socket;
	__u32 lost_before_bytes;
	__u8 active;      /* 1: capture at return; 2: muted, count the bytes only */
	__u8 stream_start;
	__u8 judge_read;  /* the connection's first bytes are a read: look at them before sending */
	__u8 pending;     /* the verdict is not settled: account the bytes against the undecided budget */
};

struct calls_in_flight {
	struct ssl_call call[2]; /* by enum tls_direction */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct calls_in_flight);
} thread_calls SEC(".maps");

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

struct request_line_buffer {
	__u8 bytes[REQUEST_LINE_BYTES];
};

/* The start of a write, read once to judge it; too large for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct request_line_buffer);
} request_line_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} capture_counters SEC(".maps");

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
	return bpf_ringbuf_query(&tls_events, BPF_RB_AVAIL_DATA) >= WAKEUP_PENDING_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
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

/* ---- Judging a write from its first bytes ---------------------------------------------------------------- */

enum write_kind {
	WRITE_UNCLEAR = 0,     /* too short to tell, or unreadable: keep sending while the verdict is open */
	WRITE_NOT_HTTP,        /* neither an HTTP/1.x request line nor the HTTP/2 preface */
	WRITE_HTTP2_PREFACE,   /* "PRI * HTTP/2.0": an HTTP/2 connection starts */
	WRITE_LLM_REQUEST,     /* a POST whose path ends in an LLM API segment */
	WRITE_OTHER_REQUEST,   /* any other HTTP/1.x request line */
};

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL
#define METHOD_MAX_BYTES 20

#define METHOD_POST ('P' | 'O' << 8 | 'S' << 16 | 'T' << 24)
#define METHOD_PRI ('P' | 'R' << 8 | 'I' << 16)
/* Where the target starts after "POST ". */
#define POST_TARGET_START 5

struct path_scan {
	struct request_line_buffer *line;
	__u64 segment_hash;  /* FNV-1a of the path segment being read */
	__u64 previous_hash; /* of the last non-empty segment before it: a trailing '/' leaves the current one empty */
	__u32 segment_bytes;
	__u32 ended;         /* the path ended (space, '?' or '#') */
};

/*
 * bpf_loop callback over the target's bytes; returns 1 to stop. A callback is verified once, where a plain loop
 * carrying a hash would be verified byte by byte.
 */
static long scan_path_byte(__u64 index, struct path_scan *scan)
{
	__u64 at = index + POST_TARGET_START;
	if (at >= REQUEST_LINE_BYTES)
		return 1;
	__u8 c = scan->line->bytes[at & (REQUEST_LINE_BYTES - 1)];
	if (c == ' ' || c == '?' || c == '#') {
		scan->ended = 1;
		return 1;
	}
	if (c == '/') {
		if (scan->segment_bytes)
			scan->previous_hash = scan->segment_hash;
		scan->segment_hash = FNV_OFFSET;
		scan->segment_bytes = 0;
	} else {
		scan->segment_hash = (scan->segment_hash ^ c) * FNV_PRIME;
		scan->segment_bytes++;
	}
	return 0;
}

/*
 * Global (not static) so the verifier checks it once, not at each of its call sites; its loop is a plain bounded
 * loop, which costs less per byte than a bpf_loop callback and stops at the end of the path.
 */
__noinline int judge_write(__u64 buf, __u64 len)
{
	__u32 zero = 0;
	struct request_line_buffer *line = bpf_map_lookup_elem(&request_line_scratch, &zero);
	if (!line || len == 0)
		return WRITE_UNCLEAR;
	__u32 readable = len < REQUEST_LINE_BYTES ? len : REQUEST_LINE_BYTES;
	asm volatile("" : "+r"(readable));
	if (readable == 0 || readable > REQUEST_LINE_BYTES)
		return WRITE_UNCLEAR;
	if (bpf_probe_read_user(line->bytes, readable, (const void *)buf) != 0)
		return WRITE_UNCLEAR;

	__u32 method_word = 0;
	__u32 method_bytes = 0;
	__u32 i = 0;
	/* The method: an upper-case token (A-Z, '-', '_') ended by a space; registered methods are far shorter. */
	for (; i < METHOD_MAX_BYTES + 1; i++) {
		if (i >= readable)
			return WRITE_UNCLEAR; /* only method characters so far */
		__u8 c = line->bytes[i & (REQUEST_LINE_BYTES - 1)];
		if (c == ' ')
			break;
		if (!((c >= 'A' && c <= 'Z') || c == '-' || c == '_') || i == METHOD_MAX_BYTES)
			return WRITE_NOT_HTTP;
		if (i < 4)
			method_word |= (__u32)c << (8 * i);
	}
	method_bytes = i;
	if (method_bytes == 0)
		return WRITE_NOT_HTTP;
	if (method_bytes == 3 && method_word == METHOD_PRI)
		return WRITE_HTTP2_PREFACE;
	if (method_bytes != 4 || method_word != METHOD_POST)
		return WRITE_OTHER_REQUEST;

	/* The target: FNV-1a of its last non-empty path segment, up to a space, '?' or '#'. */
	struct path_scan scan = { .line = line, .segment_hash = FNV_OFFSET, .previous_hash = FNV_OFFSET };
	bpf_loop(readable - 5, scan_path_byte, &scan, 0);
	int ended = scan.ended;
	__u64 segment_hash = scan.segment_hash;
	__u64 previous_hash = scan.previous_hash;
	__u32 segment_bytes = scan.segment_bytes;
	/* A path longer than the window, or cut by the end of the write, is given to user space to judge. */
	if (!ended)
		return WRITE_LLM_REQUEST;
	__u64 last_segment = segment_bytes ? segment_hash : previous_hash;
	return bpf_map_lookup_elem(&llm_path_segments, &last_segment) ? WRITE_LLM_REQUEST : WRITE_OTHER_REQUEST;
}

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

/* ---- Entry: remember the call ---------------------------------------------------------------------------- */

static __always_inline int remember_call(__u32 direction, __u64 ssl_ptr, __u64 buf, __u64 len, __u64 ex_len_ptr)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 pid = pid_tgid >> 32;
	if (pid == sensor_pid || !ssl_ptr)
		return 0;
	struct calls_in_flight *calls = bpf_task_storage_get(&thread_calls, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!calls)
		return 0;
	struct ssl_call *call = &calls->call[direction & 1];
	call->active = 0;

	struct connection_key key = { .ssl_ptr = ssl_ptr, .pid = pid };
	struct connection_state *state = connection_of(&key);
	if (!state)
		return 0;
	__u8 stream_start, pending;
	/* A read's bytes are only there at return; its verdict is judged now, on what the connection already showed. */
	if (!judge_call(state, direction, buf, len, &stream_start, &pending)) {
		call->active = 2;
		return 0;
	}

	call->ssl_ptr = ssl_ptr;
	call->buf = buf;
	call->ex_len_ptr = ex_len_ptr;
	call->connection_id = state->id;
	call->socket = state->socket;
	call->lost_before_bytes = state->lost_bytes[direction & 1];
	call->stream_start = stream_start;
	call->pending = pending;
	/* The connection's first bytes are read, not written: a server's side, unless they are no request. */
	call->judge_read = judge_connections && direction == TLS_DIRECTION_IN && state->verdict == VERDICT_UNDECIDED;
	call->active = 1;
	if (!call->judge_read)
		mark_reported(state, pid);
	return 0;
}

/* ---- Return: copy the bytes ------------------------------------------------------------------------------ */

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
	__u8 flags;
	__u8 urgent;
	char comm[TASK_COMM_BYTES];
};

static __always_inline void fill_header(struct tls_event *event, struct chunk_loop *loop, __u32 offset, __u32 len)
{
	event->timestamp_ns = loop->timestamp_ns;
	event->connection_id = loop->call->connection_id;
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
	event->flags = loop->flags;
	event->reserved = 0;
	event->peer_port = loop->call->socket.peer_port;
	event->peer_family = loop->call->socket.peer_family;
	__builtin_memcpy(event->peer_addr, loop->call->socket.peer_addr, sizeof(event->peer_addr));
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
		if (bpf_probe_read_user(event->data, bounded, (const void *)(loop->call->buf + offset)) != 0) { \
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

/* Bytes the call moved, or 0 when it failed or moved nothing. */
static __always_inline __u32 bytes_moved(struct ssl_call *call, long ret)
{
	__u64 moved = 0;
	if (call->ex_len_ptr) {
		/* SSL_*_ex return 1 on success and store the byte count through their last argument. */
		if (ret == 1)
			bpf_probe_read_user(&moved, sizeof(moved), (const void *)call->ex_len_ptr);
	} else if (ret > 0) {
		moved = ret;
	}
	return moved > 0x7fffffff ? 0 : moved;
}

static __always_inline int emit_call(__u32 direction, long ret)
{
	struct calls_in_flight *calls = bpf_task_storage_get(&thread_calls, bpf_get_current_task_btf(), 0, 0);
	if (!calls)
		return 0;
	struct ssl_call *call = &calls->call[direction & 1];
	__u8 active = call->active;
	if (!active)
		return 0;
	call->active = 0;
	__u32 moved = bytes_moved(call, ret);
	if (moved == 0)
		return 0;
	if (active == 2) {
		count(COUNTER_MUTED_CALLS, 1);
		count(COUNTER_MUTED_BYTES, moved);
		return 0;
	}

	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 pid = pid_tgid >> 32;
	struct connection_state *state = 0;
	struct connection_key key = { .ssl_ptr = call->ssl_ptr, .pid = pid };
	if (call->pending || call->judge_read || call->lost_before_bytes) {
		state = bpf_map_lookup_elem(&connections, &key);
		if (call->judge_read && state && state->verdict == VERDICT_UNDECIDED && looks_like_request(call->buf, moved)) {
			/* This process is the server of the connection: its peer's requests are no calls it makes. */
			set_verdict(state, VERDICT_MUTE);
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
		.call = call,
		.timestamp_ns = bpf_ktime_get_ns(),
		.cgroup_id = bpf_get_current_cgroup_id(),
		.pid = pid,
		.tid = (__u32)pid_tgid,
		.call_bytes = moved,
		.capture_bytes = moved > max_call_bytes ? max_call_bytes : moved,
		.truncated_bytes = moved > max_call_bytes ? moved - max_call_bytes : 0,
		.lost_before_bytes = call->lost_before_bytes,
		.direction = direction,
		.flags = call->stream_start ? TLS_FLAG_STREAM_START : 0,
		.urgent = call->pending,
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

SEC("uprobe")
int BPF_KPROBE(ssl_write_entry, void *ssl, const void *buf, int num)
{
	return remember_call(TLS_DIRECTION_OUT, (__u64)ssl, (__u64)buf, num > 0 ? num : 0, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_return, int ret)
{
	return emit_call(TLS_DIRECTION_OUT, ret);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_entry, void *ssl, const void *buf, size_t num, size_t *written)
{
	return remember_call(TLS_DIRECTION_OUT, (__u64)ssl, (__u64)buf, num, (__u64)written);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_ex_return, int ret)
{
	return emit_call(TLS_DIRECTION_OUT, ret);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_entry, void *ssl, void *buf, int num)
{
	return remember_call(TLS_DIRECTION_IN, (__u64)ssl, (__u64)buf, 0, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_return, int ret)
{
	return emit_call(TLS_DIRECTION_IN, ret);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_entry, void *ssl, void *buf, size_t num, size_t *readbytes)
{
	return remember_call(TLS_DIRECTION_IN, (__u64)ssl, (__u64)buf, 0, (__u64)readbytes);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_ex_return, int ret)
{
	return emit_call(TLS_DIRECTION_IN, ret);
}

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

/* SSL_free ends the connection: userspace flushes its streams, and a later SSL* at the same address is a new connection. */
SEC("uprobe")
int BPF_KPROBE(ssl_free_entry, void *ssl)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	if (!ssl || pid == sensor_pid)
		return 0;
	struct connection_key key = { .ssl_ptr = (__u64)ssl, .pid = pid };
	struct connection_state *state = bpf_map_lookup_elem(&connections, &key);
	if (!state)
		return 0;
	/* A connection user space never heard of needs no goodbye. */
	if (state->reported)
		emit_lifecycle(TLS_EVENT_CLOSE, state->id);
	bpf_map_delete_elem(&connections, &key);
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
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	if (!ssl || fd < 0 || pid == sensor_pid)
		return 0;
	struct connection_key key = { .ssl_ptr = (__u64)ssl, .pid = pid };
	struct connection_state *state = connection_of(&key);
	if (!state)
		return 0;
	struct connection_socket socket = { .fd = fd };
	resolve_peer(fd, &socket);
	state->socket = socket;
	return 0;
}
