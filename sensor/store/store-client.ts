/**
 * The sensor's handle on the store thread: posts batches to write (without waiting for them), and turns the UI's
 * queries into promises. If the thread dies, the sensor keeps capturing and exporting; only the store is gone.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type {
  AlertFiring,
  AlertRule,
  AlertRuleInput,
  CallDetail,
  CallListRequest,
  CallPage,
  CallSummary,
  Conversation,
  ConversationSummary,
  Facets,
  Overview,
  OverviewRequest,
  StoreInfo,
} from './call-query';
import type { StoreLog } from './call-store';
import type { FromWorker, StoreQuery, StoreWorkerData, ToWorker } from './store-protocol';
import type { EncodedCallRecord, SpanDocument } from './stored-call';

export interface StoreClientOptions {
  file: string;
  maxBytes: number;
  maxAgeMs: number;
  defaultDurationRuleMs?: number;
  /** @default 60_000 */
  retentionIntervalMs?: number;
  /** @default 15_000 */
  rateRuleIntervalMs?: number;
  log: StoreLog;
  /** New calls were stored (the UI's live list listens). */
  onStored?: (lastId: number) => void;
  onFirings?: (firings: AlertFiring[]) => void;
}

/** What the UI reads: every method answers from the store thread. */
export interface CallStoreReader {
  listCalls(request?: CallListRequest): Promise<CallPage>;
  exportCalls(request?: CallListRequest): Promise<{ calls: Array<CallSummary & { span: SpanDocument }>; nextBeforeId?: number }>;
  getCall(id: number): Promise<CallDetail | undefined>;
  facets(): Promise<Facets>;
  listConversations(request?: { beforeId?: number; limit?: number; minTurns?: number }): Promise<ConversationSummary[]>;
  getConversation(id: number): Promise<Conversation | undefined>;
  overview(request: OverviewRequest): Promise<Overview>;
  alertRules(): Promise<AlertRule[]>;
  addAlertRule(input: AlertRuleInput): Promise<AlertRule>;
  deleteAlertRule(id: number): Promise<boolean>;
  firings(request?: { limit?: number; ruleId?: number }): Promise<AlertFiring[]>;
  info(): Promise<StoreInfo>;
}

export interface StoreWriteStats {
  stored: number;
  /** Spans a batch write failed on (disk full, a span that could not be read). */
  failed: number;
}

/** The compiled worker, or its TypeScript source run through tsx where the sensor itself runs from source (tests). */
function workerEntry(): { file: string; execArgv: string[] } {
  const compiled = path.join(__dirname, 'store-worker.js');
  if (fs.existsSync(compiled)) return { file: compiled, execArgv: [] };
  const source = path.join(__dirname, 'store-worker.ts');
  if (!fs.existsSync(source)) {
    // The container image's runtime bundle carries the sensor and the gateway, not local mode's store.
    throw new Error('the local store is not part of this build: ship spans to a gateway (--otlp-endpoint) or turn the store off (store.enabled: false)');
  }
  return { file: source, execArgv: ['--require', require.resolve('tsx/cjs')] };
}

export class StoreClient implements CallStoreReader {
  readonly stats: StoreWriteStats = { stored: 0, failed: 0 };
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextQueryId = 1;
  private spansInFlight = 0;
  private drainWaiters: Array<() => void> = [];
  private failure: string | undefined;
  private closed: Promise<void> | undefined;
  private exited = false;

  private constructor(
    options: StoreClientOptions,
    readyInfo: (info: StoreInfo) => void,
    startFailed: (error: Error) => void,
  ) {
    const entry = workerEntry();
    const data: StoreWorkerData = {
      file: options.file,
      maxBytes: options.maxBytes,
      maxAgeMs: options.maxAgeMs,
      defaultDurationRuleMs: options.defaultDurationRuleMs ?? 1000,
      retentionIntervalMs: options.retentionIntervalMs ?? 60_000,
      rateRuleIntervalMs: options.rateRuleIntervalMs ?? 15_000,
    };
    this.worker = new Worker(entry.file, { workerData: data, execArgv: entry.execArgv });
    let started = false;
    this.worker.on('message', (message: FromWorker) => {
      switch (message.type) {
        case 'ready':
          started = true;
          readyInfo(message.info);
          return;
        case 'failed':
          this.fail(message.message);
          startFailed(new Error(`store: cannot open ${options.file}: ${message.message}`));
          return;
        case 'inserted':
          this.stats.stored += message.stored;
          this.stats.failed += message.count - message.stored;
          this.settleSpans(message.count);
          if (message.stored > 0) options.onStored?.(message.lastId);
          if (message.firings.length > 0) options.onFirings?.(message.firings);
          return;
        case 'insert-failed':
          this.stats.failed += message.count;
          this.settleSpans(message.count);
          options.log.error(`store: ${message.count} call(s) could not be stored: ${message.message}`);
          return;
        case 'firings':
          options.onFirings?.(message.firings);
          return;
        case 'result': {
          const waiter = this.pending.get(message.id);
          this.pending.delete(message.id);
          if (message.error !== undefined) waiter?.reject(new Error(message.error));
          else waiter?.resolve(message.value);
          return;
        }
        case 'log':
          options.log[message.level](message.message);
          return;
        case 'closed':
          return;
      }
    });
    this.worker.on('error', (error) => {
      this.fail(error.message);
      options.log.error(`store: its thread failed (${error.message}); calls are no longer stored, capture and the other exporters go on`);
      if (!started) startFailed(error);
    });
    this.worker.on('exit', (code) => {
      this.exited = true;
      if (!this.closed && !this.failure) {
        this.fail(`thread exited with code ${code}`);
        options.log.error(`store: its thread exited (code ${code}); calls are no longer stored`);
      }
      if (!started) startFailed(new Error(`store: its thread exited (code ${code}) before the store opened`));
    });
  }

  /** Starts the store thread and resolves once the file is open (a fresh one, if the old could not be read). */
  static start(options: StoreClientOptions): Promise<{ client: StoreClient; info: StoreInfo }> {
    return new Promise((resolve, reject) => {
      const client: StoreClient = new StoreClient(options, (info) => resolve({ client, info }), reject);
    });
  }

  /** Spans posted and not yet written. */
  get spansWaiting(): number {
    return this.spansInFlight;
  }

  get available(): boolean {
    return this.failure === undefined;
  }

  /** Posts calls to be written; returns at once. */
  write(records: EncodedCallRecord[]): void {
    if (records.length === 0) return;
    if (this.failure !== undefined || this.closed) {
      this.stats.failed += records.length;
      return;
    }
    this.spansInFlight += records.length;
    this.post({ type: 'insert', records });
  }

  /** Resolves once every posted batch is written (or failed). */
  drain(): Promise<void> {
    if (this.spansInFlight === 0 || this.failure !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.drain();
      if (this.exited) return;
      const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
      if (this.failure === undefined) this.post({ type: 'close' });
      else await this.worker.terminate();
      await exited;
    })();
    return this.closed;
  }

  listCalls = (request: CallListRequest = {}) => this.query<CallPage>('listCalls', request);
  exportCalls = (request: CallListRequest = {}) => this.query<{ calls: Array<CallSummary & { span: SpanDocument }>; nextBeforeId?: number }>('exportCalls', request);
  getCall = (id: number) => this.query<CallDetail | undefined>('getCall', id);
  facets = () => this.query<Facets>('facets');
  listConversations = (request: { beforeId?: number; limit?: number; minTurns?: number } = {}) => this.query<ConversationSummary[]>('listConversations', request);
  getConversation = (id: number) => this.query<Conversation | undefined>('getConversation', id);
  overview = (request: OverviewRequest) => this.query<Overview>('overview', request);
  alertRules = () => this.query<AlertRule[]>('alertRules');
  addAlertRule = (input: AlertRuleInput) => this.query<AlertRule>('addAlertRule', input);
  deleteAlertRule = (id: number) => this.query<boolean>('deleteAlertRule', id);
  firings = (request: { limit?: number; ruleId?: number } = {}) => this.query<AlertFiring[]>('firings', request);
  info = () => this.query<StoreInfo>('info');

  private query<T>(method: StoreQuery, ...args: unknown[]): Promise<T> {
    if (this.failure !== undefined) return Promise.reject(new Error(`store is not available: ${this.failure}`));
    if (this.closed) return Promise.reject(new Error('store is closed'));
    const id = this.nextQueryId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.post({ type: 'query', id, method, args });
    });
  }

  private post(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  private settleSpans(count: number): void {
    this.spansInFlight = Math.max(0, this.spansInFlight - count);
    if (this.spansInFlight === 0) for (const resolve of this.drainWaiters.splice(0)) resolve();
  }

  private fail(reason: string): void {
    this.failure ??= reason;
    for (const waiter of this.pending.values()) waiter.reject(new Error(`store is not available: ${reason}`));
    this.pending.clear();
    this.spansInFlight = 0;
    for (const resolve of this.drainWaiters.splice(0)) resolve();
  }
}
