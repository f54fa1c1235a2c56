// SPDX-License-Identifier: GPL-2.0-only
/*
 * TLS plaintext capture in Go programs: uprobes on crypto/tls.(*Conn).Write, Read and Close, which every Go
 * HTTPS client (net/http over HTTP/1.1 and HTTP/2, gRPC, the cloud SDKs) goes through. Linked into the same object
 * as the OpenSSL probes (tls_capture.h), so a Go connection shares their connection table, verdicts, ring buffer
 * and counters, and reaches user space as the same records.
 *
 * Go differs from C in three ways that shape these programs:
 * - Register ABI (Go 1.17+, amd64): the receiver is in RAX, a []byte argument in RBX (pointer), RCX (length), RDI
 *   (capacity); results come back in RAX (n), RBX and RCX (the error). R14 holds the running goroutine's g.
 * - No return probes: a uretprobe rewrites the return address on the goroutine's stack, which Go copies and unwinds
 *   by return address (it crashes). Read's result is taken by uprobes on each of its RET instructions, found by
 *   decoding its machine code in user space (sensor/capture/go-probe-points.ts). Entry probes sit on the
 *   prologue's stack check (its JBE, a jump the kernel emulates, where the body's first instruction would be
 *   single-stepped) and ignore the hit of a call that goes to grow its stack first, or, when the check has another
 *   shape, after it; either way a call that first grows its stack is seen once.
 * - Goroutines move between threads: a Read that blocks resumes on whatever thread the scheduler picks, so the call
 *   in flight is kept by goroutine (pid, g), not in the thread's storage.
 * - Go posts reads ahead: net/http's connection reader calls Read for the next response before the next request is
 *   written. So a read is judged when it returns, by what its connection carries then (the request written while it
 *   waited), not when it started.
 *
 * Write's bytes are copied at its start. (*Conn).Write writes all of them or returns an error, and any error is
 * kept by the connection (halfConn.err, handshakeErr, the closed flag) and returned by every later Write: so a
 * failed write is the last one of its connection, and the worst it does is report bytes at the very end of a
 * stream that never left the process. Nothing that follows can be misaligned, and no return probe is paid per write.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include "sightline_events.h"
#include "tls_capture.h"

#if defined(__TARGET_ARCH_x86)
#define GO_RECEIVER(ctx) ((ctx)->ax)
#define GO_SLICE_PTR(ctx) ((ctx)->bx)
#define GO_SLICE_LEN(ctx) ((ctx)->cx)
#define GO_RESULT_N(ctx) ((ctx)->ax)
#define GO_G(ctx) ((ctx)->r14)
#define GO_SP(ctx) ((ctx)->sp)
#define GO_FLAGS(ctx) ((ctx)->flags)
#else
/* User space attaches these programs to x86-64 executables only (go-executable.ts); elsewhere they do nothing. */
#define GO_RECEIVER(ctx) 0
#define GO_SLICE_PTR(ctx) 0
#define GO_SLICE_LEN(ctx) 0
#define GO_RESULT_N(ctx) 0
#define GO_G(ctx) 0
#define GO_SP(ctx) 0
#define GO_FLAGS(ctx) 0
#endif

/*
 * A probe on the stack check's JBE (cookie GO_COOKIE_CHECK_*) fires before the jump: when it is taken, the goroutine
 * grows its stack in morestack and the function starts over, reaching the probe again. That first hit is told apart
 * by the flags the check's CMP left, which the JBE reads (taken when CF or ZF is set), and is ignored, so each call is
 * seen once. Not by comparing again: another thread (sysmon) may change g.stackguard0 between the CMP and the probe.
 */
#define X86_FLAGS_CF 0x1
#define X86_FLAGS_ZF 0x40

static __always_inline int going_to_morestack(struct pt_regs *ctx)
{
	if (!(bpf_get_attach_cookie(ctx) & (GO_COOKIE_CHECK_RSP | GO_COOKIE_CHECK_R12)))
		return 0;
	return (GO_FLAGS(ctx) & (X86_FLAGS_CF | X86_FLAGS_ZF)) != 0;
}

#define SOCK_STREAM 1

/* Offsets of the socket behind a *tls.Conn, per Go version row (struct go_conn_layout); row 0 stays unknown. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GO_CONN_LAYOUTS_MAX);
	__type(key, __u32);
	__type(value, struct go_conn_layout);
} go_conn_layouts SEC(".maps");

/* A goroutine of a process: a g is never moved while its goroutine lives, whichever thread runs it. */
struct goroutine_key {
	__u64 g;
	__u32 pid;
	__u32 reserved;
};

/* runtime.g starts with its stack bounds; the compiler's own prologues depend on that layout, so it is fixed. */
struct go_stack {
	__u64 lo;
	__u64 hi;
};

/* A Read in flight: its connection and buffer, and where the goroutine's stack and frame were when it started. */
struct go_read {
	__u64 conn;
	__u64 buf;
	struct go_stack stack;
	__u64 sp;
};

/*
 * Reads in flight, by goroutine. An idle keep-alive connection keeps one goroutine parked in Read, so this holds
 * about one entry per open connection; LRU, because a process that exits leaves its entries behind.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_TRACKED_CONNECTIONS);
	__type(key, struct goroutine_key);
	__type(value, struct go_read);
} go_reads SEC(".maps");

/*
 * The socket of a new connection, read once through the *tls.Conn: conn (a net.Conn holding a *net.TCPConn) →
 * fd (*netFD) → pfd.Sysfd, with the offsets of the executable's Go version. What is read is checked (a TCP
 * stream of family IPv4 or IPv6) and the fd must be a connected socket in this process's fd table; anything else
 * (a Go version without a row, a net.Conn of another kind) leaves the peer unknown.
 */
static __always_inline void learn_socket(struct pt_regs *ctx, struct connection_state *state, __u64 conn)
{
	if (state->socket_checked)
		return;
	state->socket_checked = 1;
	__u32 row = bpf_get_attach_cookie(ctx) & GO_COOKIE_LAYOUT_MASK;
	if (row == 0)
		return;
	struct go_conn_layout *layout = bpf_map_lookup_elem(&go_conn_layouts, &row);
	if (!layout || !layout->known)
		return;
	__u64 tcp_conn = 0, netfd = 0;
	__s64 fd = -1, family = 0, sotype = 0;
	if (bpf_probe_read_user(&tcp_conn, sizeof(tcp_conn), (const void *)(conn + layout->conn_data)) || !tcp_conn)
		return;
	if (bpf_probe_read_user(&netfd, sizeof(netfd), (const void *)(tcp_conn + layout->netfd)) || !netfd)
		return;
	if (bpf_probe_read_user(&fd, sizeof(fd), (const void *)(netfd + layout->sysfd)) ||
	    bpf_probe_read_user(&family, sizeof(family), (const void *)(netfd + layout->family)) ||
	    bpf_probe_read_user(&sotype, sizeof(sotype), (const void *)(netfd + layout->sotype)))
		return;
	if (sotype != SOCK_STREAM || (family != PEER_FAMILY_IPV4 && family != PEER_FAMILY_IPV6) || fd < 0 || fd > 0x7fffffff)
		return;
	struct connection_socket socket = { .fd = -1 };
	resolve_peer(fd, &socket);
	if (!socket.peer_family)
		return;
	socket.fd = fd;
	state->socket = socket;
}

/* The connection of a call, created on first sight, its socket looked for once. */
static __always_inline struct connection_state *go_connection(struct pt_regs *ctx, __u32 pid, __u64 conn)
{
	struct connection_key key = { .ssl_ptr = conn, .pid = pid };
	struct connection_state *state = connection_of(&key);
	if (state)
		learn_socket(ctx, state, conn);
	return state;
}

/* crypto/tls.(*Conn).Write(b []byte) (int, error), at its stack check (see going_to_morestack) or after it: the bytes are copied now (see the top). */
SEC("uprobe")
int go_tls_write(struct pt_regs *ctx)
{
	if (going_to_morestack(ctx))
		return 0;
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 conn = GO_RECEIVER(ctx);
	__s64 len = GO_SLICE_LEN(ctx);
	if (pid == sensor_pid || !conn || len <= 0 || len > 0x7fffffff)
		return 0;
	struct connection_state *state = go_connection(ctx, pid, conn);
	if (!state)
		return 0;
	struct tls_call call = {};
	__u8 active = start_call(&call, state, pid, TLS_DIRECTION_OUT, conn, GO_SLICE_PTR(ctx), len, 0);
	return finish_call(&call, active, TLS_DIRECTION_OUT, len);
}

/*
 * crypto/tls.(*Conn).Read(b []byte) (int, error), at or after its stack check: remembers the call by goroutine. A read on
 * a muted connection is not remembered (a mute is final, so this costs the one lookup of its verdict); it is counted
 * as a muted call, its bytes unknown.
 */
SEC("uprobe")
int go_tls_read(struct pt_regs *ctx)
{
	if (going_to_morestack(ctx))
		return 0;
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 conn = GO_RECEIVER(ctx);
	__u64 g = GO_G(ctx);
	if (pid == sensor_pid || !conn || !g)
		return 0;
	struct connection_state *state = go_connection(ctx, pid, conn);
	if (!state)
		return 0;
	if (judge_connections && state->verdict == VERDICT_MUTE) {
		count(COUNTER_MUTED_CALLS, 1);
		return 0;
	}
	struct go_read read = { .conn = conn, .buf = GO_SLICE_PTR(ctx), .sp = GO_SP(ctx) };
	if (bpf_probe_read_user(&read.stack, sizeof(read.stack), (const void *)g) != 0)
		return 0;
	struct goroutine_key key = { .g = g, .pid = pid };
	bpf_map_update_elem(&go_reads, &key, &read, BPF_ANY);
	return 0;
}

/*
 * A RET of crypto/tls.(*Conn).Read: n is in RAX. Two things may have changed while the goroutine was parked in the
 * read: its thread (hence the goroutine key) and its stack, which Go copies to grow or shrink it. A buffer on the
 * goroutine's own stack moved with it, by as much as the stack's top moved (Go's copystack keeps offsets from the
 * top), so it is found again from the stack bounds now in g. The frame is matched the same way: the stack pointer at
 * RET is the one at entry, relative to the stack's top, so an entry left behind by a call that never returned (a
 * panic) cannot be taken for this one.
 *
 * A read that started before the probes were attached has no entry; a keep-alive connection's reader is parked in
 * such a read when the sensor starts, and the answer it returns belongs to a request the sensor may have seen
 * written. When Read keeps its receiver and buffer in their spill slots (GO_COOKIE_SPILLED, checked in user space
 * by decoding it), they are read there, so that answer is captured too and requests and answers stay paired.
 */
SEC("uprobe")
int go_tls_read_return(struct pt_regs *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__s64 n = GO_RESULT_N(ctx);
	struct goroutine_key key = { .g = GO_G(ctx), .pid = pid };
	struct go_read *read = bpf_map_lookup_elem(&go_reads, &key);
	__u64 conn, buf;
	if (read) {
		struct go_stack stack = {};
		if (bpf_probe_read_user(&stack, sizeof(stack), (const void *)key.g) != 0 ||
		    GO_SP(ctx) - stack.hi != read->sp - read->stack.hi) {
			bpf_map_delete_elem(&go_reads, &key);
			return 0;
		}
		conn = read->conn;
		buf = read->buf;
		if (buf >= read->stack.lo && buf < read->stack.hi)
			buf += stack.hi - read->stack.hi;
		bpf_map_delete_elem(&go_reads, &key);
	} else {
		if (n <= 0 || pid == sensor_pid || !(bpf_get_attach_cookie(ctx) & GO_COOKIE_SPILLED))
			return 0;
		__u64 spilled[2];
		if (bpf_probe_read_user(spilled, sizeof(spilled), (const void *)(GO_SP(ctx) + 8)) != 0 || !spilled[0])
			return 0;
		conn = spilled[0];
		buf = spilled[1];
	}
	if (n <= 0 || n > 0x7fffffff)
		return 0;
	struct connection_state *state = go_connection(ctx, pid, conn);
	if (!state)
		return 0;
	/* No entry and muted: the entry saw the mute and counted the call already. */
	if (!read && judge_connections && state->verdict == VERDICT_MUTE)
		return 0;
	struct tls_call call = {};
	__u8 active = start_call(&call, state, pid, TLS_DIRECTION_IN, conn, buf, 0, 0);
	return finish_call(&call, active, TLS_DIRECTION_IN, n);
}

/* crypto/tls.(*Conn).Close ends the connection (Go has no SSL_free; process exit ends the rest). */
SEC("uprobe")
int go_tls_close(struct pt_regs *ctx)
{
	if (going_to_morestack(ctx))
		return 0;
	end_connection(GO_RECEIVER(ctx));
	return 0;
}
