/**
 * The capture stage's I/O edge: loads the BPF programs, keeps uprobes attached to every TLS library on the host
 * (present and future), drains the ring buffers off the JS thread and turns records into CaptureEvents.
 */
import { bpfObjectPath, loadAddon, type BpfObjectOptions, type NativeBpfObject } from './bpf-addon';
import type { CaptureEvent, ConnectionClosed, SocketPeer } from './capture-event';
import { MonotonicClock } from './clock';
import {
  CAPTURE_COUNTERS,
  ConnectionVerdict,
  PROCESS_EVENT,
  ProcessEventKind,
  TLS_EVENT,
  TlsDirection,
  TlsEventFlag,
  TlsEventKind,
  readCString,
  type CaptureCounterName,
  type TlsCaptureConstants,
} from './event-layout';
import { pathSegmentKey } from './path-segment-key';
import { checkCapturePrerequisites, explainBpfFailure } from './preflight';
import { SocketPeerReader } from './socket-peer';
import { inspectGoExecutable } from './go-executable';
import { GO_CONN_LAYOUT_ROWS, encodeGoConnLayout } from './go-struct-layouts';
import { opensslProbeSites } from './openssl-probe-sites';
import { SESSION_PROGRAMS, attachTlsProbes, type AttachedFile, type ProbeMode } from './tls-probes';
import { captureConfigSchema } from './config';
import { TlsLibraryDiscovery, type TlsLibraryFile } from './tls-library-discovery';
import type { Logger } from '../common/logger';

export interface TlsCaptureOptions {
  /** Bytes captured per SSL call; the rest is counted as truncated. */
  maxCallBytes: number;
  /** Size of the kernel ring buffer (a power of two, at least one page). */
  ringBufferBytes: number;
  /** Bytes drained from the ring but not yet handed to JS before the drain thread waits. */
  maxPendingBytes: number;
  /** How often the ring is read when BPF has not woken its reader (TLS_RING_DRAIN_INTERVAL_MS). */
  ringDrainIntervalMs: number;
  /** Full rescan of /proc for libraries loaded late with dlopen. */
  rescanIntervalMs: number;
  /** After an exec, the process's maps are read again at these delays: the loader maps libraries after exec. */
  execRescanDelaysMs: number[];
  libraryDirs: string[];
  /** Executables to examine at start even if no process runs them yet (e.g. node). */
  executables: string[];
  /** Path prefixes never attached to (as processes see them), e.g. a TLS-heavy daemon that is not of interest. */
  excludePaths: string[];
  /**
   * Judge connections in the kernel and send only those that can carry LLM calls (the sensor). Off, every byte of
   * every TLS connection is sent (`sightline capture`).
   */
  judgeConnections: boolean;
  /** Last path segments of LLM API paths (`completions`, `messages`, ...): HTTP/1.1 POSTs ending in one are followed. */
  llmPathSegments: readonly string[];
  /** Per direction, bytes sent of a connection still waiting for a verdict; past it the connection is muted. */
  undecidedBudgetBytes: number;
  /** Attach the OpenSSL read and write probes as uprobe sessions when the kernel has them (Linux 6.13+). */
  uprobeSessions: boolean;
  logger: Logger;
  onEvent: (event: CaptureEvent) => void;
  onClose?: (closed: ConnectionClosed) => void;
}

const CONFIG_DEFAULTS = captureConfigSchema.parse({});

/**
 * How often the TLS ring is read when BPF has not woken its thread. BPF wakes it at once for a connection still
 * being judged and for a connection's first bytes (so verdicts and process context are not delayed), and once
 * `wakeupPendingBytes` wait; everything else waits for this timer. Each read wakes the JS thread with cold caches, which at light load cost about as much as the calls
 * themselves: at 1,000 calls/s of 1 KiB, one-off runs with 20 ms used 20-25% more sensor CPU per call than with 250 ms
 * (docs/benchmarks.md). A span waits for its export batch (`exporters.batching.maxDelayMs`, 1 s) longer than this
 * anyway, and a graceful stop reads the ring once more (`drainAndStop`).
 */
export const TLS_RING_DRAIN_INTERVAL_MS = 250;

/**
 * How much may wait in the ring before BPF wakes the consumer: 512 KiB (fewer wakeups under load), or an eighth of
 * a smaller ring, so a small ring is read long before it fills between two drains.
 */
export function wakeupPendingBytes(ringBufferBytes: number): number {
  return Math.min(512 * 1024, Math.floor(ringBufferBytes / 8));
}

/** The `capture` config section's defaults, plus the settings only code changes. */
export const DEFAULT_CAPTURE_OPTIONS = {
  maxCallBytes: CONFIG_DEFAULTS.maxCallBytes,
  ringBufferBytes: CONFIG_DEFAULTS.ringBufferBytes,
  maxPendingBytes: 256 * 1024 * 1024,
  ringDrainIntervalMs: TLS_RING_DRAIN_INTERVAL_MS,
  rescanIntervalMs: CONFIG_DEFAULTS.rescanIntervalSeconds * 1000,
  execRescanDelaysMs: [0, 50, 200, 500, 1000],
  libraryDirs: CONFIG_DEFAULTS.libraryDirs,
  executables: [] as string[],
  excludePaths: CONFIG_DEFAULTS.excludePaths,
  judgeConnections: false,
  llmPathSegments: [] as string[],
  undecidedBudgetBytes: CONFIG_DEFAULTS.verdicts.undecidedBudgetBytes,
  uprobeSessions: CONFIG_DEFAULTS.uprobeSessions,
};

/** What user space can decide about a connection the kernel left open (HTTP/2, or not yet recognisable). */
export type UserVerdict = 'follow' | 'mute';

/** Facts of a connection that every one of its records repeats: decoded once, on its first record. */
interface KnownConnection {
  conn: string;
  pid: number;
  comm: string;
  cgroupId: bigint;
  fd: number;
  peer?: SocketPeer;
  lastSeenMs: number;
}

export type CaptureCounters = Record<CaptureCounterName, number> & {
  attachedFiles: number;
  /** 1 when the OpenSSL probes are uprobe sessions, 0 when they are entry and return probes. */
  uprobeSessions: number;
  attachFailures: number;
  malformedRecords: number;
  openConnections: number;
  /** Records whose handling threw downstream (a bug, logged): counted so the native callback never throws. */
  internalErrors: number;
  /** Verdicts user space gave the kernel, by verdict. */
  userVerdictsFollow: number;
  userVerdictsMute: number;
};

interface PendingScan {
  pid: number;
  dueMs: number;
  step: number;
}

const MAX_PENDING_SCANS = 10_000;
/** Matches the streams stage's default idle timeout: a connection silent this long is treated as gone. */
const CONNECTION_ID_IDLE_MS = 300_000;
const SCAN_TICK_MS = 25;

export class TlsCapture {
  private readonly options: TlsCaptureOptions;
  private tls?: NativeBpfObject;
  /** How the OpenSSL read and write probes are attached, known once start() loaded the capture object. */
  probeMode: ProbeMode = 'entry-return';
  private lifecycle?: NativeBpfObject;
  private discovery?: TlsLibraryDiscovery;
  private readonly attached = new Map<string, AttachedFile>();
  /** By the kernel's connection id. */
  private readonly connections = new Map<number, KnownConnection>();
  private readonly clock = new MonotonicClock();
  private pendingScans: PendingScan[] = [];
  private scanTimer?: NodeJS.Timeout;
  private rescanTimer?: NodeJS.Timeout;
  private attachFailures = 0;
  private malformedRecords = 0;
  private internalErrors = 0;
  private userVerdicts = { follow: 0, mute: 0 };
  private readonly verdictKey = Buffer.alloc(8);
  private readonly verdictValue = Buffer.alloc(1);
  private lastCounters?: CaptureCounters;
  private stopped = false;
  private rescanning = false;
  private readonly peers = new SocketPeerReader();

  constructor(options: Partial<TlsCaptureOptions> & Pick<TlsCaptureOptions, 'onEvent' | 'logger'>) {
    const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
    this.options = { ...DEFAULT_CAPTURE_OPTIONS, ...given } as unknown as TlsCaptureOptions;
  }

  /** Loads and attaches everything; resolves once probes are on every TLS file found. */
  start(): void {
    checkCapturePrerequisites();
    const addon = loadAddon();
    const constants: TlsCaptureConstants = {
      sensor_pid: process.pid,
      max_call_bytes: this.options.maxCallBytes,
      judge_connections: this.options.judgeConnections ? 1 : 0,
      undecided_budget_bytes: this.options.undecidedBudgetBytes,
      wakeup_pending_bytes: wakeupPendingBytes(this.options.ringBufferBytes),
    };
    try {
      const options = { mapMaxEntries: { tls_events: this.options.ringBufferBytes }, constants: { ...constants } };
      const sessions = this.options.uprobeSessions ? this.loadSessionObject(addon, options) : undefined;
      this.probeMode = sessions ? 'session' : 'entry-return';
      this.tls = sessions ?? new addon.BpfObject(bpfObjectPath('tls_capture'), options);
      this.lifecycle = new addon.BpfObject(bpfObjectPath('process_lifecycle'));
    } catch (error) {
      throw explainBpfFailure(error);
    }
    // Before any probe is attached, so the first request the kernel judges is judged with the whole table.
    const present = Buffer.from([1]);
    for (const segment of this.options.llmPathSegments) this.tls.updateMapElement('llm_path_segments', pathSegmentKey(segment), present);
    this.tls.attachTracepoints();
    this.lifecycle.attachTracepoints();
    this.tls.consumeRingBuffer('tls_events', (batch) => this.onTlsBatch(batch), this.options.maxPendingBytes, {
      headerBytes: TLS_EVENT.data,
      lengthOffset: TLS_EVENT.dataBytes,
      drainIntervalMs: this.options.ringDrainIntervalMs,
    });
    this.lifecycle.consumeRingBuffer('process_events', (batch) => this.onProcessBatch(batch), 16 * 1024 * 1024);

    // Every Go version's struct layout is known before a Go probe can fire.
    GO_CONN_LAYOUT_ROWS.forEach((row, index) => this.tls!.updateMapElement('go_conn_layouts', u32(index + 1), encodeGoConnLayout(row.layout)));
    this.discovery = new TlsLibraryDiscovery(
      addon.findElfSymbols,
      '/proc',
      (message) => this.options.logger.debug(message),
      this.options.excludePaths,
      (filePath) => inspectGoExecutable(filePath, addon),
      (message) => this.options.logger.warn(`capture: ${message}`),
      (filePath, offsets) => opensslProbeSites(filePath, offsets, addon),
    );
    this.attachAll(this.discovery.scanPaths(this.options.libraryDirs, this.options.executables));
    this.attachAll(this.discovery.scanAllProcesses());
    this.rescanTimer = setInterval(() => {
      this.rescanInBackground();
      this.forgetIdleConnections(Date.now() - CONNECTION_ID_IDLE_MS);
    }, this.options.rescanIntervalMs);
    this.rescanTimer.unref();
    this.options.logger.info(
      { files: [...this.attached.values()].map((a) => describeFile(a.file)), probeMode: this.probeMode },
      `capture: TLS probes attached to ${this.attached.size} file(s)`,
    );
  }

  /**
   * The capture object with the OpenSSL probes as uprobe sessions, or undefined when this kernel cannot load it
   * (before Linux 6.13 the session kfuncs do not exist): the entry and return probes of tls_capture.bpf.o do the same
   * work, paying a return trap on every call.
   */
  private loadSessionObject(addon: ReturnType<typeof loadAddon>, options: BpfObjectOptions): NativeBpfObject | undefined {
    try {
      return new addon.BpfObject(bpfObjectPath('tls_capture_session'), { ...options, sessionPrograms: SESSION_PROGRAMS });
    } catch (error) {
      const reason = (error as Error).message.split('\n')[0];
      this.options.logger.info(`capture: uprobe sessions unavailable (${reason}); OpenSSL calls get entry and return probes`);
      return undefined;
    }
  }

  /**
   * Hands over what the kernel ring still holds (up to a drain interval of captured calls), then stops: a graceful
   * stop loses nothing already captured. Gives up waiting after `timeoutMs` (JS far behind) and stops anyway.
   */
  async drainAndStop(timeoutMs = 2_000): Promise<void> {
    const tls = this.tls;
    if (!this.stopped && tls) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        tls.finishRingBuffer('tls_events', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.stop();
  }

  /** Detaches every probe and frees the BPF objects. Safe to call twice. */
  stop(): void {
    if (this.stopped) return;
    this.lastCounters = this.counters();
    this.stopped = true;
    clearInterval(this.rescanTimer);
    clearTimeout(this.scanTimer);
    // Closing the object detaches every probe at once (in parallel, in the addon): one by one took seconds.
    this.attached.clear();
    this.tls?.close();
    this.lifecycle?.close();
  }

  get attachedFiles(): TlsLibraryFile[] {
    return [...this.attached.values()].map((a) => a.file);
  }

  /** The counters; after stop(), the last values read before the BPF objects were freed. */
  counters(): CaptureCounters {
    if (this.stopped && this.lastCounters) return this.lastCounters;
    const kernel = this.stopped ? [] : this.tls?.readPerCpuCounters('capture_counters', CAPTURE_COUNTERS.length) ?? [];
    const counters = {} as CaptureCounters;
    CAPTURE_COUNTERS.forEach((name, index) => (counters[name] = Number(kernel[index] ?? 0n)));
    counters.attachedFiles = this.attached.size;
    counters.uprobeSessions = this.probeMode === 'session' ? 1 : 0;
    counters.attachFailures = this.attachFailures;
    counters.malformedRecords = this.malformedRecords;
    counters.openConnections = this.connections.size;
    counters.internalErrors = this.internalErrors;
    counters.userVerdictsFollow = this.userVerdicts.follow;
    counters.userVerdictsMute = this.userVerdicts.mute;
    return counters;
  }

  /**
   * Tells the kernel what to do with a connection it left to user space (HTTP/2 after its first request heads, or
   * one the decoders gave up on). The kernel applies it on the connection's next probe hit; a connection it already
   * judged itself (HTTP/1.1) keeps its own verdict.
   */
  setVerdict(connectionId: number, verdict: UserVerdict): void {
    if (this.stopped || !this.tls) return;
    this.verdictKey.writeBigUInt64LE(BigInt(connectionId));
    this.verdictValue[0] = verdict === 'follow' ? ConnectionVerdict.follow : ConnectionVerdict.mute;
    try {
      this.tls.updateMapElement('user_verdicts', this.verdictKey, this.verdictValue);
      this.userVerdicts[verdict]++;
    } catch (error) {
      this.options.logger.warn({ err: (error as Error).message }, 'capture: a connection verdict could not be written');
    }
  }

  private forgetIdleConnections(olderThanMs: number): void {
    for (const [id, known] of this.connections) if (known.lastSeenMs < olderThanMs) this.connections.delete(id);
  }

  /** Catches libraries loaded late (dlopen) that no exec announced; one rescan at a time. */
  private rescanInBackground(): void {
    if (this.rescanning || this.stopped) return;
    this.rescanning = true;
    this.discovery!.scanAllProcessesInBackground()
      .then((files) => this.attachAll(files))
      .catch((error: unknown) => this.options.logger.warn({ err: (error as Error)?.message }, 'capture: process rescan failed'))
      .finally(() => (this.rescanning = false));
  }

  private attachAll(files: TlsLibraryFile[]): void {
    if (this.stopped || !this.tls) return;
    for (const file of files) {
      if (this.attached.has(file.fileKey)) continue;
      try {
        this.attached.set(file.fileKey, attachTlsProbes(this.tls, file, this.probeMode));
        this.options.logger.debug({ file: describeFile(file) }, 'capture: attached');
      } catch (error) {
        this.attachFailures++;
        this.options.logger.warn({ file: file.displayPath, err: (error as Error).message }, 'capture: attach failed');
      }
    }
  }

  private onTlsBatch(batch: Buffer): void {
    let offset = 0;
    while (offset + 4 <= batch.length) {
      const length = batch.readUInt32LE(offset);
      const record = batch.subarray(offset + 4, offset + 4 + length);
      offset += 4 + length;
      if (record.length < TLS_EVENT.data) {
        this.malformedRecords++;
        continue;
      }
      try {
        this.onTlsRecord(record);
      } catch (error) {
        this.internalErrors++;
        this.options.logger.error({ err: (error as Error)?.message }, 'capture: handling a record failed');
      }
    }
  }

  /**
   * Per event: plain 32-bit reads, and the connection's own facts (command, cgroup, peer) decoded only on its first
   * record, so decoding stays cheap at high event rates.
   */
  private onTlsRecord(record: Buffer): void {
    const pid = record.readUInt32LE(TLS_EVENT.pid);
    // Ids count up from 1 while the programs stay loaded: far below 2^53, so a number holds them exactly.
    const connectionId = record.readUInt32LE(TLS_EVENT.connectionId + 4) * 4294967296 + record.readUInt32LE(TLS_EVENT.connectionId);
    const tsMs = this.clock.toEpochMs(record.readUInt32LE(TLS_EVENT.timestampNs + 4), record.readUInt32LE(TLS_EVENT.timestampNs));
    const kind = record[TLS_EVENT.kind];
    if (kind === TlsEventKind.close) {
      const known = this.connections.get(connectionId);
      if (!known) return;
      this.connections.delete(connectionId);
      this.options.onClose?.({ conn: known.conn, connectionId, pid, tsMs });
      return;
    }
    if (kind === TlsEventKind.processExit) {
      for (const [id, known] of this.connections) {
        if (known.pid !== pid) continue;
        this.connections.delete(id);
        this.options.onClose?.({ conn: known.conn, connectionId: id, pid, tsMs });
      }
      return;
    }
    const dataBytes = record.readUInt32LE(TLS_EVENT.dataBytes);
    if (kind !== TlsEventKind.data || TLS_EVENT.data + dataBytes > record.length) {
      this.malformedRecords++;
      return;
    }
    let known = this.connections.get(connectionId);
    if (!known) {
      known = {
        conn: `${pid}-${connectionId}`,
        pid,
        comm: readCString(record, TLS_EVENT.comm, TLS_EVENT.commBytes),
        cgroupId: record.readBigUInt64LE(TLS_EVENT.cgroupId),
        fd: record.readInt32LE(TLS_EVENT.fd),
        peer: this.peers.read(record),
        lastSeenMs: tsMs,
      };
      this.connections.set(connectionId, known);
    }
    known.lastSeenMs = tsMs;
    this.options.onEvent({
      tsMs,
      pid,
      tid: record.readUInt32LE(TLS_EVENT.tid),
      comm: known.comm,
      conn: known.conn,
      connectionId,
      dir: record[TLS_EVENT.direction] === TlsDirection.in ? 'in' : 'out',
      // A copy: a view would keep the whole 1 MiB delivery batch alive for as long as a decoder holds a few bytes.
      data: Buffer.from(record.subarray(TLS_EVENT.data, TLS_EVENT.data + dataBytes)),
      cgroupId: known.cgroupId,
      fd: known.fd,
      peer: known.peer,
      lostBeforeBytes: record.readUInt32LE(TLS_EVENT.lostBeforeBytes),
      truncatedBytes: record.readUInt32LE(TLS_EVENT.truncatedBytes),
      streamStart: (record[TLS_EVENT.flags] & TlsEventFlag.streamStart) !== 0,
    });
  }

  private onProcessBatch(batch: Buffer): void {
    let offset = 0;
    while (offset + 4 <= batch.length) {
      const length = batch.readUInt32LE(offset);
      const record = batch.subarray(offset + 4, offset + 4 + length);
      offset += 4 + length;
      if (record.length < PROCESS_EVENT.size) {
        this.malformedRecords++;
        continue;
      }
      if (record.readUInt32LE(PROCESS_EVENT.kind) === ProcessEventKind.exec) this.scheduleScans(record.readUInt32LE(PROCESS_EVENT.pid));
    }
  }

  private scheduleScans(pid: number): void {
    if (this.stopped || this.pendingScans.length >= MAX_PENDING_SCANS) return; // the periodic full rescan catches up
    this.pendingScans.push({ pid, dueMs: Date.now() + this.options.execRescanDelaysMs[0], step: 0 });
    this.runDueScans();
  }

  private runDueScans(): void {
    clearTimeout(this.scanTimer);
    this.scanTimer = undefined;
    const now = Date.now();
    const later: PendingScan[] = [];
    for (const scan of this.pendingScans) {
      if (scan.dueMs > now) {
        later.push(scan);
        continue;
      }
      this.attachAll(this.discovery!.scanProcess(scan.pid));
      const nextStep = scan.step + 1;
      if (nextStep < this.options.execRescanDelaysMs.length) {
        later.push({ pid: scan.pid, step: nextStep, dueMs: now + this.options.execRescanDelaysMs[nextStep] - this.options.execRescanDelaysMs[scan.step] });
      }
    }
    this.pendingScans = later;
    if (later.length > 0 && !this.stopped) {
      this.scanTimer = setTimeout(() => this.runDueScans(), SCAN_TICK_MS);
      this.scanTimer.unref();
    }
  }
}

/** A file as logs name it: its path, and for a Go executable the Go that built it and where its symbols came from. */
function describeFile(file: TlsLibraryFile): string {
  if (file.go) return `${file.displayPath} (Go crypto/tls, ${file.go.goVersion}, functions from ${file.go.functionsFrom})`;
  return file.internalSites ? `${file.displayPath} (${file.internalSites.join(', ')} probed at the internal functions they call)` : file.displayPath;
}

function u32(value: number): Buffer {
  const key = Buffer.alloc(4);
  key.writeUInt32LE(value);
  return key;
}
