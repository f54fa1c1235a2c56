// SPDX-License-Identifier: GPL-2.0-only
/*
 * TLS plaintext capture: uprobes on OpenSSL's SSL_write, SSL_write_ex, SSL_read and SSL_read_ex (and SSL_free,
 * SSL_set_fd), and the state every TLS probe shares (tls_capture.h), defined here once; go_tls_capture.bpf.c adds
 * Go's crypto/tls and is linked into the same object.
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
#include "tls_capture.h"

/* Debian's libbpf 1.1 predates BPF_UPROBE; BPF_KPROBE reads the same pt_regs argument registers. */

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 sensor_pid = 0;
const volatile __u32 max_call_bytes = 8 << 20;
const volatile __u32 judge_connections = 0;
const volatile __u32 undecided_budget_bytes = 4 << 20;
const volatile __u32 wakeup_pending_bytes = 512 << 10;

__u64 next_connection_id = 0;

struct connections_map connections SEC(".maps");
struct user_verdicts_map user_verdicts SEC(".maps");
struct tls_processes_map tls_processes SEC(".maps");
struct tls_events_map tls_events SEC(".maps");
struct capture_counters_map capture_counters SEC(".maps");

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

/* The OpenSSL call a thread is inside, per direction: task storage costs no hashing and needs no delete. */
struct calls_in_flight {
	struct tls_call call[2]; /* by enum tls_direction */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct calls_in_flight);
} thread_calls SEC(".maps");

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

/* ---- Judging a write from its first bytes ---------------------------------------------------------------- */

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

/* ---- OpenSSL: entry remembers the call, return copies the bytes ------------------------------------------ */

/*
 * The start of a call: judged, and remembered in task storage for its end. Returns the call's kind (CALL_CAPTURE,
 * CALL_MUTED, or 0 when the call is not followed at all).
 */
static __always_inline __u8 remember_call(__u32 direction, __u64 ssl_ptr, __u64 buf, __u64 len, __u64 ex_len_ptr)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	if (pid == sensor_pid || !ssl_ptr)
		return 0;
	struct calls_in_flight *calls = bpf_task_storage_get(&thread_calls, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!calls)
		return 0;
	struct tls_call *call = &calls->call[direction & 1];
	call->active = 0;

	struct connection_key key = { .ssl_ptr = ssl_ptr, .pid = pid };
	struct connection_state *state = connection_of(&key);
	if (!state)
		return 0;
	return start_call(call, state, pid, direction, ssl_ptr, buf, len, ex_len_ptr);
}

/* Bytes the call moved, or 0 when it failed or moved nothing. */
static __always_inline __u32 bytes_moved(struct tls_call *call, long ret)
{
	__u64 moved = 0;
	if (call->ex_len_ptr) {
		/*
		 * SSL_*_ex return 1 on success and store the byte count through their last argument; the internal functions
		 * they wrap (probed instead where that is cheaper, see openssl-probe-sites.ts) return above 0.
		 */
		if ((int)ret > 0)
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
	struct tls_call *call = &calls->call[direction & 1];
	__u8 active = call->active;
	if (!active)
		return 0;
	call->active = 0;
	return finish_call(call, active, direction, bytes_moved(call, ret));
}

#ifdef SIGHTLINE_UPROBE_SESSIONS

/*
 * Uprobe sessions (Linux 6.13+): one program per function runs at its entry and, only when the entry asks for it,
 * at its return. A call on a connection that carries no LLM call then costs the entry trap alone, where an entry
 * probe plus a return probe pay two. Built into tls_capture_session.bpf.o; user space loads it when the kernel
 * has sessions and tls_capture.bpf.o (the entry and return programs below) otherwise.
 */
extern bool bpf_session_is_return(void) __ksym;

/*
 * The entry's half: returns 0 when the call's end must run (its bytes are copied), 1 when it need not. A muted
 * write's bytes are counted here, as offered; a muted read (a muted connection, or HTTP/1.1 between LLM requests)
 * is counted as a call, its size unknown without the return it saves.
 */
static __always_inline int session_entry(__u32 direction, __u64 ssl_ptr, __u64 buf, __u64 len, __u64 ex_len_ptr)
{
	__u8 active = remember_call(direction, ssl_ptr, buf, len, ex_len_ptr);
	if (active == CALL_CAPTURE)
		return 0;
	if (active != CALL_MUTED)
		return 1;
	count(COUNTER_MUTED_CALLS, 1);
	if (direction == TLS_DIRECTION_OUT && len > 0)
		count(COUNTER_MUTED_BYTES, len);
	return 1;
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_session, void *ssl, const void *buf, int num)
{
	if (bpf_session_is_return())
		return emit_call(TLS_DIRECTION_OUT, PT_REGS_RC(ctx));
	return session_entry(TLS_DIRECTION_OUT, (__u64)ssl, (__u64)buf, num > 0 ? num : 0, 0);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_session, void *ssl, const void *buf, size_t num, size_t *written)
{
	if (bpf_session_is_return())
		return emit_call(TLS_DIRECTION_OUT, PT_REGS_RC(ctx));
	return session_entry(TLS_DIRECTION_OUT, (__u64)ssl, (__u64)buf, num, (__u64)written);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_session, void *ssl, void *buf, int num)
{
	if (bpf_session_is_return())
		return emit_call(TLS_DIRECTION_IN, PT_REGS_RC(ctx));
	return session_entry(TLS_DIRECTION_IN, (__u64)ssl, (__u64)buf, 0, 0);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_session, void *ssl, void *buf, size_t num, size_t *readbytes)
{
	if (bpf_session_is_return())
		return emit_call(TLS_DIRECTION_IN, PT_REGS_RC(ctx));
	return session_entry(TLS_DIRECTION_IN, (__u64)ssl, (__u64)buf, 0, (__u64)readbytes);
}

#else

SEC("uprobe")
int BPF_KPROBE(ssl_write_entry, void *ssl, const void *buf, int num)
{
	remember_call(TLS_DIRECTION_OUT, (__u64)ssl, (__u64)buf, num > 0 ? num : 0, 0);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_return, int ret)
{
	return emit_call(TLS_DIRECTION_OUT, ret);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_entry, void *ssl, const void *buf, size_t num, size_t *written)
{
	remember_call(TLS_DIRECTION_OUT, (__u64)ssl, (__u64)buf, num, (__u64)written);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_ex_return, int ret)
{
	return emit_call(TLS_DIRECTION_OUT, ret);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_entry, void *ssl, void *buf, int num)
{
	remember_call(TLS_DIRECTION_IN, (__u64)ssl, (__u64)buf, 0, 0);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_return, int ret)
{
	return emit_call(TLS_DIRECTION_IN, ret);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_entry, void *ssl, void *buf, size_t num, size_t *readbytes)
{
	remember_call(TLS_DIRECTION_IN, (__u64)ssl, (__u64)buf, 0, (__u64)readbytes);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_ex_return, int ret)
{
	return emit_call(TLS_DIRECTION_IN, ret);
}

#endif

/* SSL_free ends the connection. */
SEC("uprobe")
int BPF_KPROBE(ssl_free_entry, void *ssl)
{
	end_connection((__u64)ssl);
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
