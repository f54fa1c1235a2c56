/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Records the BPF programs put on their ring buffers, and the values user space and the programs exchange through
 * maps. This header is the one definition of the layout; sensor/capture/event-layout.ts mirrors it, and
 * test/capture/event-layout.test.ts compiles this header to catch any drift in sizes and offsets.
 *
 * Plain C types (no vmlinux.h) so the same header compiles for BPF and for the host test program.
 */
#ifndef SIGHTLINE_EVENTS_H
#define SIGHTLINE_EVENTS_H

/* One ring-buffer record carries at most this much plaintext; larger SSL calls are split into chunks. */
#define TLS_CHUNK_BYTES 16384
#define TASK_COMM_BYTES 16
#define EXEC_FILENAME_BYTES 256

enum tls_direction {
	TLS_DIRECTION_OUT = 0, /* the process wrote the bytes (SSL_write*) */
	TLS_DIRECTION_IN = 1,  /* the process read the bytes (SSL_read*) */
};

/* Address families as the kernel numbers them (AF_INET, AF_INET6); vmlinux.h has no macros. */
#define PEER_FAMILY_IPV4 2
#define PEER_FAMILY_IPV6 10

enum tls_event_kind {
	TLS_EVENT_DATA = 1,
	TLS_EVENT_CLOSE = 2,        /* SSL_free, tls.Conn.Close: the connection object is gone */
	TLS_EVENT_PROCESS_EXIT = 3, /* a process that had TLS traffic exited: all its connections are gone */
};

/* tls_event.flags */
#define TLS_FLAG_STREAM_START 1 /* bytes of this connection were skipped before this record: decode afresh from here */

struct tls_event {
	unsigned long long timestamp_ns;  /* CLOCK_MONOTONIC when the bytes were known: a call's return (a Go write: its start) */
	unsigned long long connection_id; /* unique per TLS connection while the programs stay loaded; 0 on a process exit */
	unsigned long long cgroup_id;
	unsigned int pid;                 /* thread group id */
	unsigned int tid;
	unsigned int call_bytes;          /* bytes the SSL call transferred */
	unsigned int chunk_offset;        /* where this record's data starts within the call */
	unsigned int data_bytes;          /* bytes of data[] that are valid (the record may be reserved larger) */
	unsigned int lost_before_bytes;   /* bytes of this connection and direction lost (ring buffer full) just before this record */
	unsigned int truncated_bytes;     /* on the call's last record: bytes of the call beyond the capture limit */
	int fd;                           /* socket fd, or -1 when not resolved */
	unsigned char kind;               /* enum tls_event_kind */
	unsigned char direction;          /* enum tls_direction */
	unsigned char flags;              /* TLS_FLAG_* */
	unsigned char reserved;
	unsigned short peer_port;         /* the socket's remote port (host order), 0 when not resolved */
	unsigned short peer_family;       /* PEER_FAMILY_*, or 0 when the peer is not resolved */
	char comm[TASK_COMM_BYTES];
	unsigned char peer_addr[16];      /* remote address: IPv4 in the first 4 bytes, or IPv6 (network order) */
	unsigned char data[TLS_CHUNK_BYTES];
};

/* Bytes of a tls_event before data[]: a record on the ring buffer is this header plus at least data_bytes. */
#define TLS_EVENT_HEADER_BYTES ((unsigned long)&((struct tls_event *)0)->data)

enum process_event_kind {
	PROCESS_EVENT_EXEC = 1,
};

struct process_event {
	unsigned long long timestamp_ns;
	unsigned long long cgroup_id;
	unsigned int pid;
	unsigned int kind; /* enum process_event_kind */
	char comm[TASK_COMM_BYTES];
	char filename[EXEC_FILENAME_BYTES]; /* the path the process executed */
};

/*
 * What the capture does with a connection. The kernel judges HTTP/1.1 itself, request by request, from the
 * request line (see tls_capture.bpf.c); HTTP/2 and anything it cannot tell wait for user space's verdict.
 */
enum connection_verdict {
	VERDICT_UNDECIDED = 0, /* the client has written nothing yet: bytes are sent, within the undecided budget */
	VERDICT_PENDING = 1,   /* HTTP/2, or not yet recognisable: bytes are sent within the budget until user space decides */
	VERDICT_FOLLOW = 2,    /* carries LLM calls: every byte is sent */
	VERDICT_WATCH = 3,     /* HTTP/1.1 without an LLM request in flight: nothing is sent, each request line is checked */
	VERDICT_MUTE = 4,      /* not an LLM client connection (not HTTP, a server's side, HTTP/2 without LLM calls): nothing is sent */
	VERDICT_COUNT,
};

/* Key of the `connections` map: an SSL* (or a Go *tls.Conn) is only unique within its process. */
struct connection_key {
	unsigned long long ssl_ptr;       /* the connection object: SSL* or *tls.Conn */
	unsigned int pid;
	unsigned int reserved;
};

/* Index of each counter in the per-CPU `capture_counters` array; userspace sums over CPUs. */
enum capture_counter {
	COUNTER_CALLS = 0,           /* SSL read/write calls that returned data and were captured */
	COUNTER_EVENTS,              /* records written to the ring buffer */
	COUNTER_BYTES,               /* plaintext bytes written to the ring buffer */
	COUNTER_DROPPED_EVENTS,      /* records lost because the ring buffer was full */
	COUNTER_DROPPED_BYTES,       /* plaintext bytes in those records */
	COUNTER_TRUNCATED_BYTES,     /* bytes beyond the per-call capture limit */
	COUNTER_READ_ERRORS,         /* user memory that could not be read (bytes counted as dropped too) */
	COUNTER_MUTED_CALLS,         /* TLS calls on muted or watched connections: nothing copied */
	COUNTER_MUTED_BYTES,         /* plaintext bytes those calls moved (not counted: a muted Go read, and with uprobe sessions a read on a muted connection) */
	COUNTER_BUDGET_EXHAUSTED,    /* connections muted because no verdict came within the undecided budget */
	COUNTER_VERDICT_PENDING,     /* verdict changes, by the verdict taken (VERDICT_PENDING .. VERDICT_MUTE) */
	COUNTER_VERDICT_FOLLOW,
	COUNTER_VERDICT_WATCH,
	COUNTER_VERDICT_MUTE,
	COUNTER_MAX,
};

/*
 * Where a Go release keeps the socket of a *tls.Conn: the value of the `go_conn_layouts` array, which user space fills
 * from its table of Go versions (sensor/capture/go-struct-layouts.ts); a Go probe's attach cookie is the index of its
 * executable's row, 0 for a Go version the table does not know, whose structs are then never read.
 */
struct go_conn_layout {
	unsigned int known;     /* 1 when the offsets below apply */
	unsigned int conn_data; /* tls.Conn.conn is a net.Conn interface: offset of its data word (the *net.TCPConn) */
	unsigned int netfd;     /* offset of net.conn.fd (*netFD) in the net.TCPConn */
	unsigned int sysfd;     /* offset of netFD.pfd.Sysfd (int) */
	unsigned int family;    /* offset of netFD.family (int): AF_INET or AF_INET6 for a TCP socket */
	unsigned int sotype;    /* offset of netFD.sotype (int): SOCK_STREAM */
};

#define GO_CONN_LAYOUTS_MAX 16

/*
 * A Go probe's attach cookie: the executable's row in `go_conn_layouts`, and on Read's RETs this flag when user space
 * found (by decoding Read) that Read stores its receiver and buffer in their spill slots on its one path in.
 */
#define GO_COOKIE_LAYOUT_MASK 0xffff
#define GO_COOKIE_SPILLED 0x10000
/* On Write, Read and Close probed at their stack check's JBE: the register the check compares with stackguard0. */
#define GO_COOKIE_CHECK_RSP 0x20000
#define GO_COOKIE_CHECK_R12 0x40000

#endif
