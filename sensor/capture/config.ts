/** The `capture` section: how the eBPF capture stage runs. */
import { z } from 'zod';
import { DEFAULT_LIBRARY_DIRS } from './tls-library-discovery';

export const captureConfigSchema = z
  .object({
    maxCallBytes: z
      .number()
      .int()
      .min(16 * 1024)
      .max(256 * 1024 * 1024)
      .default(8 * 1024 * 1024)
      .describe('Plaintext bytes captured per SSL_read/SSL_write call; the rest is counted as truncated (sightline_capture_truncated_bytes_total).'),
    ringBufferBytes: z
      .number()
      .int()
      .refine((n) => n >= 4096 && (n & (n - 1)) === 0, 'must be a power of two of at least 4096')
      .default(16 * 1024 * 1024)
      .describe('Size of the kernel ring buffer between the BPF programs and the sensor; records that do not fit are counted as dropped. The kernel maps the whole ring into the sensor at start, so the resident memory of the sensor includes this much.'),
    libraryDirs: z
      .array(z.string().min(1))
      .default(DEFAULT_LIBRARY_DIRS)
      .describe('Host folders searched for libssl.so* at start, so the first process that loads OpenSSL is covered.'),
    excludePaths: z.array(z.string().min(1)).default([]).describe('Path prefixes of TLS libraries or executables never attached to.'),
    uprobeSessions: z
      .boolean()
      .default(true)
      .describe(
        'Attach the OpenSSL read and write probes as uprobe sessions when the kernel has them (Linux 6.13+): a call on a connection the kernel judged muted then pays its entry probe only, not a return probe too. Off, or on an older kernel, every call gets an entry and a return probe.',
      ),
    niceness: z
      .number()
      .int()
      .min(0)
      .max(19)
      .default(19)
      .describe(
        "Nice value of the sensor's threads. While the CPU is contended, the workloads' threads run first and the sensor decodes what the kernel ring holds a little later (a ring that fills is counted as dropped); on an idle CPU nothing changes. 0 competes with the workloads on equal terms. A higher nice value the sensor was started with is kept. On Kubernetes the pod's CPU request sets its share against other pods; this acts among the threads of one cgroup, as on a machine without containers.",
      ),
    idleFirst: z
      .boolean()
      .default(true)
      .describe(
        "Run the sensor's JavaScript thread in the idle scheduling class while it keeps up, and at `niceness` in the normal class once it waits for a CPU (more than 10 ms in 20), until it has caught up. A CPU the sensor holds in the normal class is one the scheduler does not place the workloads' woken threads on; in the idle class they take it at once. Needs the right to leave the idle class again (CAP_SYS_NICE, or CAP_SYS_RESOURCE to raise RLIMIT_NICE); without it the thread stays in the normal class and a warning says why.",
      ),
    rescanIntervalSeconds: z.number().positive().default(10).describe('How often all processes are scanned for TLS libraries loaded late (dlopen).'),
    verdicts: z
      .object({
        enabled: z
          .boolean()
          .default(true)
          .describe(
            'Judge each TLS connection in the kernel and send user space only the bytes of connections that can carry LLM calls. HTTP/1.1 is judged request by request from the request line; HTTP/2 is followed or muted whole once its first request heads are decoded. Off, every TLS byte on the host is decoded in user space.',
          ),
        undecidedBudgetBytes: z
          .number()
          .int()
          .min(64 * 1024)
          .max(256 * 1024 * 1024)
          .default(4 * 1024 * 1024)
          .describe('Per direction, bytes of a connection sent to user space before it has a verdict; a connection that exhausts it is muted (sightline_capture_verdict_budget_exhausted_total).'),
        http2MuteAfterRequests: z
          .number()
          .int()
          .min(0)
          .default(4)
          .describe('An HTTP/2 connection whose first this-many request heads show no LLM call, to an authority never seen carrying one, is muted whole. 0 follows every HTTP/2 connection.'),
        followAuthorities: z
          .array(z.string().min(1))
          .default([])
          .describe('Extra hosts (`host`, `host:port` or `*.suffix`) whose HTTP/2 connections are always followed whole, besides the providers\' own API hosts.'),
      })
      .prefault({})
      .describe('Connection verdicts: what the capture sends to user space.'),
  })
  .describe('eBPF capture of TLS plaintext.');

export type CaptureConfig = z.output<typeof captureConfigSchema>;
