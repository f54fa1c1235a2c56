/**
 * The embedded store of local mode: one SQLite file (better-sqlite3) holding every call, a full-text index
 * (FTS5) over prompt and response text, the conversations calls form, and local alert rules with their firings.
 * It is synchronous by nature; the sensor runs it on a worker thread (store-worker.ts) so neither writes nor the
 * UI's queries ever hold up the event loop that drains the capture ring.
 *
 * SQLite over DuckDB: the UI's queries are point lookups and newest-first pages with filters, which B-tree
 * indexes answer in milliseconds, and FTS5 gives ranked-free, rowid-ordered text search in the same file
 * (docs/local-store.md).
 */
import { hash as digest } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import type {
  AlertFiring,
  AlertRule,
  AlertRuleInput,
  CallDetail,
  CallFilter,
  CallListRequest,
  CallPage,
  CallSummary,
  Conversation,
  ConversationSummary,
  Facets,
  Overview,
  OverviewRequest,
  RankedName,
  StoreInfo,
} from './call-query';
import { callRow, type CallRecord, type CallRow, type EncodedCallRecord, type RawExchange, type SpanDocument } from './stored-call';

export interface StoreLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface CallStoreOptions {
  /** The database file; its directory is created. */
  file: string;
  maxBytes: number;
  maxAgeMs: number;
  /** Threshold of the duration rule a new store starts with. @default 1000 */
  defaultDurationRuleMs?: number;
  log?: StoreLog;
  now?: () => number;
}

export interface InsertResult {
  /** Highest call id so far. */
  lastId: number;
  inserted: number;
  firings: AlertFiring[];
}

export interface RetentionResult {
  deletedByAge: number;
  deletedBySize: number;
}

const SCHEMA_VERSION = '5';
const DEFAULT_PAGE = 100;
const MAX_PAGE = 5000;
const DELETE_CHUNK = 2000;
/** Ids in the first window of a search (see pageRows). */
const SEARCH_WINDOW = 20_000;
/** Kept firings, newest first; older ones go with the calls' retention too. */
const MAX_FIRINGS = 10_000;
const MAX_CONVERSATION_TURNS = 500;

const silentLog: StoreLog = { info: () => {}, warn: () => {}, error: () => {} };

/** Errors that say the file itself is bad, as opposed to a bad query or a full disk. */
const UNREADABLE_CODES = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CORRUPT_VTAB', 'SQLITE_CORRUPT_INDEX', 'SQLITE_CORRUPT_SEQUENCE', 'SQLITE_CANTOPEN', 'SQLITE_IOERR_SHORT_READ']);

export function isUnreadableStoreError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return (typeof code === 'string' && UNREADABLE_CODES.has(code)) || error instanceof UnreadableStoreError;
}

class UnreadableStoreError extends Error {}

const SUMMARY_COLUMNS = `c.id, c.start_ms AS startMs, c.duration_ms AS durationMs, c.provider, c.operation, c.model,
  c.response_model AS responseModel, c.status, c.http_status AS httpStatus, c.error_type AS errorType,
  c.input_tokens AS inputTokens, c.output_tokens AS outputTokens, c.cost_usd AS costUsd, c.ttfc_ms AS ttfcMs,
  c.process, c.pid, c.workload, c.source, c.conversation_id AS conversationId, c.turn, c.preview`;

export class CallStore {
  private db!: Database.Database;
  private nextId = 1;
  private callCount = 0;
  private lastStoredMs = 0;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly facetCache = { provider: new Set<string>(), model: new Set<string>(), process: new Set<string>() };
  private durationRules: AlertRule[] = [];
  private conversationStates = new ConversationStates();
  private readonly log: StoreLog;
  private readonly now: () => number;

  private constructor(private readonly options: CallStoreOptions) {
    this.log = options.log ?? silentLog;
    this.now = options.now ?? Date.now;
  }

  /** Opens (or creates) the store; an unreadable file is moved aside with a clear error and a fresh store starts. */
  static open(options: CallStoreOptions): CallStore {
    const store = new CallStore(options);
    fs.mkdirSync(path.dirname(options.file), { recursive: true });
    try {
      store.openFile(true);
    } catch (error) {
      if (!isUnreadableStoreError(error)) throw error;
      store.recover(error as Error);
    }
    return store;
  }

  get file(): string {
    return this.options.file;
  }

  // ------------------------------------------------------------------------------------------------
  // Opening, schema, recovery

  private openFile(checkIfUnclean: boolean): void {
    const db = new Database(this.options.file);
    try {
      // The first statement reads the header: a file that is not SQLite fails here (SQLITE_NOTADB).
      const fresh = (db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'calls'").get() as { n: number }).n === 0;
      // Before the first table and before WAL mode, or SQLite ignores it: lets freed pages go back to the file system.
      if (fresh) db.pragma('auto_vacuum = INCREMENTAL');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      // The WAL is checkpointed every 1,000 pages and cut back to this size, so it never grows unbounded.
      db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
      db.pragma('temp_store = MEMORY');
      db.pragma('cache_size = -32000');
      if (fresh) {
        this.createSchema(db);
      } else {
        const version = (db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value?: string } | undefined)?.value;
        if (version !== SCHEMA_VERSION) throw new UnreadableStoreError(`schema version ${version ?? 'missing'}, expected ${SCHEMA_VERSION}`);
        const clean = (db.prepare("SELECT value FROM meta WHERE key = 'clean_shutdown'").get() as { value?: string } | undefined)?.value === '1';
        // After a crash, check the pages before trusting them; a clean stop skips the check, so starts stay fast.
        if (checkIfUnclean && !clean) {
          const result = db.pragma('quick_check', { simple: true });
          if (result !== 'ok') throw new UnreadableStoreError(`integrity check failed: ${String(result).replace(/\s+/g, ' ').slice(0, 160)}`);
        }
      }
      db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES ('clean_shutdown', '0')").run();
      this.db = db;
      this.statements.clear();
      const newest = db.prepare('SELECT id, stored_ms AS storedMs FROM calls ORDER BY id DESC LIMIT 1').get() as { id: number; storedMs: number } | undefined;
      this.nextId = (newest?.id ?? 0) + 1;
      this.lastStoredMs = newest?.storedMs ?? 0;
      this.callCount = (db.prepare('SELECT count(*) AS n FROM calls').get() as { n: number }).n;
      for (const kind of ['provider', 'model', 'process'] as const) {
        this.facetCache[kind] = new Set((db.prepare('SELECT value FROM facets WHERE kind = ?').all(kind) as Array<{ value: string }>).map((row) => row.value));
      }
      this.loadRules();
      this.conversationStates = ConversationStates.load(db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  private createSchema(db: Database.Database): void {
    db.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      -- Narrow rows that lists and filters scan; the span and raw exchange (kilobytes each) live in call_bodies.
      CREATE TABLE calls (
        id INTEGER PRIMARY KEY,
        stored_ms REAL NOT NULL,
        start_ms REAL NOT NULL,
        duration_ms REAL NOT NULL,
        provider TEXT, operation TEXT, model TEXT, response_model TEXT,
        status TEXT NOT NULL, http_status INTEGER, error_type TEXT,
        input_tokens INTEGER, output_tokens INTEGER, cost_usd REAL, ttfc_ms REAL,
        process TEXT, pid INTEGER, workload TEXT, client TEXT, source TEXT NOT NULL,
        conversation_id INTEGER NOT NULL, turn INTEGER NOT NULL, prefix_len INTEGER NOT NULL,
        scope TEXT NOT NULL, input_hash INTEGER NOT NULL, state_hash INTEGER NOT NULL,
        preview TEXT NOT NULL
      );
      CREATE INDEX calls_start ON calls(start_ms);
      -- Partial indexes: only slow calls, the rare ones a duration filter looks for (see DURATION_INDEXES).
      CREATE INDEX calls_over_1s ON calls(id) WHERE duration_ms > 1000;
      CREATE INDEX calls_over_10s ON calls(id) WHERE duration_ms > 10000;
      CREATE INDEX calls_model ON calls(model, id);
      CREATE INDEX calls_provider ON calls(provider, id);
      CREATE INDEX calls_status ON calls(status, id);
      CREATE INDEX calls_client ON calls(client, id);
      CREATE INDEX calls_conversation ON calls(conversation_id, id);
      CREATE TABLE call_bodies (id INTEGER PRIMARY KEY, span TEXT NOT NULL, raw TEXT);
      -- Contentless: the text lives in call_bodies already; contentless_delete lets retention remove rows. The
      -- facets column holds one token per filter value, so a search with filters is one index intersection.
      CREATE VIRTUAL TABLE calls_fts USING fts5(prompt, response, facets, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2');
      -- Per minute, model and caller: counts, tokens, cost and a latency histogram, so the overview reads a few
      -- thousand rows for a day instead of every call (percentiles from the histogram, within 5%).
      CREATE TABLE rollups (
        minute INTEGER NOT NULL, model TEXT NOT NULL, workload TEXT NOT NULL, process TEXT NOT NULL,
        calls INTEGER NOT NULL, errors INTEGER NOT NULL, input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
        cost_usd REAL NOT NULL, latency TEXT NOT NULL,
        PRIMARY KEY (minute, model, workload, process)
      ) WITHOUT ROWID;
      CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        last_call_id INTEGER NOT NULL,
        turns INTEGER NOT NULL,
        first_ms REAL NOT NULL, last_ms REAL NOT NULL,
        process TEXT, workload TEXT, models TEXT NOT NULL,
        input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, errors INTEGER NOT NULL,
        preview TEXT NOT NULL
      );
      CREATE INDEX conversations_last ON conversations(last_call_id);
      CREATE TABLE facets (kind TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (kind, value)) WITHOUT ROWID;
      CREATE TABLE alert_rules (id INTEGER PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, threshold REAL NOT NULL,
        window_minutes INTEGER NOT NULL, created_ms REAL NOT NULL, firing INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE alert_firings (id INTEGER PRIMARY KEY, rule_id INTEGER NOT NULL, rule_name TEXT NOT NULL, fired_ms REAL NOT NULL,
        value REAL NOT NULL, message TEXT NOT NULL, call_id INTEGER);
    `);
    db.prepare("INSERT INTO meta(key, value) VALUES ('schema', ?)").run(SCHEMA_VERSION);
    const threshold = this.options.defaultDurationRuleMs ?? 1000;
    db.prepare('INSERT INTO alert_rules(name, kind, threshold, window_minutes, created_ms) VALUES (?, ?, ?, ?, ?)').run(
      `Call over ${threshold.toLocaleString('en-US')} ms`,
      'duration',
      threshold,
      5,
      this.now(),
    );
  }

  /** Moves the unreadable file (and its WAL) aside, says so, and starts a fresh store in its place. */
  private recover(cause: Error): void {
    try {
      this.db?.close();
    } catch {
      // Closing a broken handle may fail too; the file is moved aside regardless.
    }
    const stamp = new Date(this.now()).toISOString().replace(/[:.]/g, '-');
    const aside = `${this.options.file}.unreadable-${stamp}`;
    for (const suffix of ['', '-wal', '-shm']) {
      const from = `${this.options.file}${suffix}`;
      if (fs.existsSync(from)) fs.renameSync(from, `${aside}${suffix}`);
    }
    this.log.error(
      `store: ${this.options.file} could not be read (${cause.message}); moved it aside to ${aside} and started a fresh store. ` +
        'Calls in the old file are not shown; nothing else was lost.',
    );
    this.openFile(false);
  }

  /** Runs `work`; when the file turns out to be unreadable, recovers and runs it once more on the fresh store. */
  private guarded<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      if (!isUnreadableStoreError(error)) throw error;
      this.recover(error as Error);
      return work();
    }
  }

  private statement(sql: string): Database.Statement {
    let prepared = this.statements.get(sql);
    if (!prepared) {
      prepared = this.db.prepare(sql);
      this.statements.set(sql, prepared);
    }
    return prepared;
  }

  close(): void {
    try {
      this.db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES ('clean_shutdown', '1')").run();
      this.db.pragma('optimize');
    } finally {
      this.db.close();
    }
  }

  // ------------------------------------------------------------------------------------------------
  // Writing

  insert(records: Array<CallRecord | EncodedCallRecord>): InsertResult {
    if (records.length === 0) return { lastId: this.nextId - 1, inserted: 0, firings: [] };
    // Rows are computed before the transaction, so a span that cannot be read fails alone, outside it.
    const rows = records.map((record) => callRow(record));
    return this.guarded(() => this.db.transaction(() => this.insertRows(rows))());
  }

  private insertRows(rows: CallRow[]): InsertResult {
    const firings: AlertFiring[] = [];
    const insertCall = this.statement(`INSERT INTO calls (id, stored_ms, start_ms, duration_ms, provider, operation, model, response_model, status,
      http_status, error_type, input_tokens, output_tokens, cost_usd, ttfc_ms, process, pid, workload, client, source, conversation_id, turn,
      prefix_len, scope, input_hash, state_hash, preview)
      VALUES (@id, @storedMs, @startMs, @durationMs, @provider, @operation, @model, @responseModel, @status, @httpStatus, @errorType, @inputTokens,
      @outputTokens, @costUsd, @ttfcMs, @process, @pid, @workload, @client, @source, @conversationId, @turn, @prefixLen, @scope, @inputHash,
      @stateHash, @preview)`);
    const insertBody = this.statement('INSERT INTO call_bodies (id, span, raw) VALUES (?, ?, ?)');
    const insertText = this.statement('INSERT INTO calls_fts(rowid, prompt, response, facets) VALUES (?, ?, ?, ?)');
    // Monotonic per store, so the first id stored at or after a time bounds time-range queries (see idBounds).
    const storedMs = Math.max(this.now(), this.lastStoredMs);
    this.lastStoredMs = storedMs;
    const rollups = new Map<string, Rollup>();
    for (const row of rows) {
      const id = this.nextId++;
      const earlier = this.earlierTurn(row);
      const conversationId = earlier?.conversationId ?? id;
      const turn = earlier ? earlier.turn + 1 : 1;
      const client = row.workload ?? row.process;
      const inputHash = row.prefixHashes.at(-1) ?? 0;
      insertCall.run({ ...row, id, storedMs, client, conversationId, turn, prefixLen: earlier?.prefixLen ?? 0, inputHash });
      insertBody.run(id, row.spanJson, row.rawJson);
      insertText.run(id, row.promptText, row.responseText, this.rowTokens(row, client));
      this.conversationStates.remember(id, inputHash, row.stateHash);
      this.callCount++;
      addToRollup(rollups, row);
      this.updateConversation(conversationId, id, row, earlier === undefined);
      this.addFacets(row, client);
      for (const rule of this.durationRules) {
        if (row.durationMs > rule.threshold) {
          firings.push(
            this.fire(rule, row.durationMs, `${row.operation ?? 'call'} ${row.model ?? ''} took ${Math.round(row.durationMs).toLocaleString('en-US')} ms (${row.process ?? 'unknown process'})`, id),
          );
        }
      }
    }
    this.saveRollups(rollups);
    return { lastId: this.nextId - 1, inserted: rows.length, firings };
  }

  /** Merges a batch's rollups into the stored ones: a few rows per batch, whatever its size. */
  private saveRollups(rollups: Map<string, Rollup>): void {
    const read = this.statement('SELECT calls, errors, input_tokens AS inputTokens, output_tokens AS outputTokens, cost_usd AS costUsd, latency FROM rollups WHERE minute = ? AND model = ? AND workload = ? AND process = ?');
    const write = this.statement(`INSERT OR REPLACE INTO rollups (minute, model, workload, process, calls, errors, input_tokens, output_tokens, cost_usd, latency)
      VALUES (@minute, @model, @workload, @process, @calls, @errors, @inputTokens, @outputTokens, @costUsd, @latency)`);
    for (const rollup of rollups.values()) {
      const stored = read.get(rollup.minute, rollup.model, rollup.workload, rollup.process) as
        | { calls: number; errors: number; inputTokens: number; outputTokens: number; costUsd: number; latency: string }
        | undefined;
      if (stored) {
        rollup.calls += stored.calls;
        rollup.errors += stored.errors;
        rollup.inputTokens += stored.inputTokens;
        rollup.outputTokens += stored.outputTokens;
        rollup.costUsd += stored.costUsd;
        mergeHistogram(rollup.latency, JSON.parse(stored.latency) as Record<string, number>);
      }
      write.run({ ...rollup, latency: JSON.stringify(rollup.latency) });
    }
  }

  /**
   * The call this one continues: the latest call of the same process or workload whose messages (input and
   * answer, or input alone) are where this call's input starts. The longest such start wins.
   */
  private earlierTurn(row: CallRow): { conversationId: number; turn: number; prefixLen: number } | undefined {
    const turnOf = this.statement('SELECT conversation_id AS conversationId, turn FROM calls WHERE id = ?');
    for (let length = row.prefixHashes.length - 1; length >= 1; length--) {
      const callId = this.conversationStates.find(row.prefixHashes[length - 1]);
      // A call retention deleted no longer continues anything.
      const match = callId === undefined ? undefined : (turnOf.get(callId) as { conversationId: number; turn: number } | undefined);
      if (match) return { ...match, prefixLen: length };
    }
    return undefined;
  }

  private updateConversation(conversationId: number, callId: number, row: CallRow, first: boolean): void {
    const tokensIn = row.inputTokens ?? 0;
    const tokensOut = row.outputTokens ?? 0;
    const error = row.status === 'error' ? 1 : 0;
    if (first) {
      this.statement(`INSERT INTO conversations (id, last_call_id, turns, first_ms, last_ms, process, workload, models, input_tokens,
        output_tokens, errors, preview) VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
        conversationId, callId, row.startMs, row.startMs, row.process, row.workload, row.model ?? '', tokensIn, tokensOut, error, row.preview,
      );
      return;
    }
    const current = this.statement('SELECT models FROM conversations WHERE id = ?').get(conversationId) as { models: string } | undefined;
    if (!current) return; // its first turns were deleted by retention; the rest still joins by conversation_id
    const models = current.models.split(',').filter(Boolean);
    if (row.model && !models.includes(row.model)) models.push(row.model);
    this.statement(`UPDATE conversations SET last_call_id = ?, turns = turns + 1, last_ms = max(last_ms, ?), models = ?,
      input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, errors = errors + ? WHERE id = ?`).run(
      callId, row.startMs, models.join(','), tokensIn, tokensOut, error, conversationId,
    );
  }

  private addFacets(row: CallRow, client: string | null): void {
    const add = (kind: keyof CallStore['facetCache'], value: string | null) => {
      if (!value || this.facetCache[kind].has(value)) return;
      this.facetCache[kind].add(value);
      this.statement('INSERT OR IGNORE INTO facets(kind, value) VALUES (?, ?)').run(kind, value);
    };
    add('provider', row.provider);
    add('model', row.model);
    add('process', client);
  }

  // ------------------------------------------------------------------------------------------------
  // Calls

  listCalls(request: CallListRequest = {}): CallPage {
    return this.guarded(() => {
      const limit = Math.max(1, Math.min(MAX_PAGE, Math.floor(request.limit ?? DEFAULT_PAGE)));
      const rows = this.pageRows<CallSummary>(SUMMARY_COLUMNS, request, limit + 1);
      const calls = rows.slice(0, limit);
      return rows.length > limit ? { calls, nextBeforeId: calls[calls.length - 1].id } : { calls };
    });
  }

  /** Calls with their spans, for export: the same filters and pages as listCalls. */
  exportCalls(request: CallListRequest = {}): { calls: Array<CallSummary & { span: SpanDocument }>; nextBeforeId?: number } {
    return this.guarded(() => {
      const limit = Math.max(1, Math.min(MAX_PAGE, Math.floor(request.limit ?? 1000)));
      const rows = this.pageRows<CallSummary & { span: string }>(`${SUMMARY_COLUMNS}, b.span`, request, limit + 1, true).map((row) => ({ ...row, span: JSON.parse(row.span) as SpanDocument }));
      const calls = rows.slice(0, limit);
      return rows.length > limit ? { calls, nextBeforeId: calls[calls.length - 1].id } : { calls };
    });
  }

  /**
   * One page, newest first. A search runs over windows of ids, newest first, each eight times wider than the last:
   * a word in every call fills the page from the first window, reading a small part of its index entries instead of
   * all of them, and a rare word costs a handful of cheap windowed lookups.
   */
  private pageRows<T>(columns: string, request: CallListRequest, limit: number, withBody = false): T[] {
    if (!request.search) {
      const { sql, params } = this.callQuery(columns, request, limit, withBody);
      return this.statement(sql).all(params) as T[];
    }
    const rows: T[] = [];
    // Below the first id stored since the range's start, no call can be in the range.
    const lowest = Math.max(request.afterId ?? 0, request.sinceMs !== undefined ? this.firstIdStoredSince(request.sinceMs) - 1 : 0);
    let below = Math.min(request.beforeId ?? this.nextId, this.nextId);
    for (let width = SEARCH_WINDOW; below > lowest + 1 && rows.length < limit; width *= 8) {
      const from = Math.max(lowest, below - width);
      const { sql, params } = this.callQuery(columns, { ...request, beforeId: below, afterId: from }, limit - rows.length, withBody);
      rows.push(...(this.statement(sql).all(params) as T[]));
      below = from + 1;
    }
    return rows;
  }

  /**
   * Newest first. With a search the full-text index drives the loop in descending rowid order (CROSS JOIN keeps
   * that order), and equality filters join the full-text query as facet tokens, so a search with filters is one
   * index intersection that stops after a page, however common the words are. The SQL conditions stay as well:
   * they are exact where a token is a hash.
   */
  private callQuery(columns: string, request: CallListRequest, limit: number, withBody = false): { sql: string; params: Record<string, unknown> } {
    const params: Record<string, unknown> = { limit };
    const text = request.search ? ftsQuery(request.search) : undefined;
    const idColumn = text ? 'f.rowid' : 'c.id';
    const clauses: string[] = [];
    if (text) {
      const facets = this.filterTokens(request);
      params.search = `{prompt response} : (${text})${facets.length > 0 ? ` AND facets : (${facets.map((token) => `"${token}"`).join(' AND ')})` : ''}`;
      clauses.push('calls_fts MATCH @search');
    }
    clauses.push(...filterClauses(request, params));
    const minId = Math.max(request.afterId !== undefined ? request.afterId + 1 : 0, request.sinceMs !== undefined ? this.firstIdStoredSince(request.sinceMs) : 0);
    if (minId > 0) {
      clauses.push(`${idColumn} >= @minId`);
      params.minId = minId;
    }
    if (request.beforeId !== undefined) {
      clauses.push(`${idColumn} < @beforeId`);
      params.beforeId = request.beforeId;
    }
    const from = `${text ? 'calls_fts f CROSS JOIN calls c ON c.id = f.rowid' : 'calls c'}${withBody ? ' CROSS JOIN call_bodies b ON b.id = c.id' : ''}`;
    const where = clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '';
    return { sql: `SELECT ${columns} FROM ${from} ${where} ORDER BY ${idColumn} DESC LIMIT @limit`, params };
  }

  /** The facet tokens of a call: one per filterable value, and one per duration step it is slower than. */
  private rowTokens(row: CallRow, client: string | null): string {
    const tokens = DURATION_STEPS.filter((step) => row.durationMs > step).map((step) => `d${step}`);
    if (row.provider) tokens.push(this.facetToken('p', row.provider));
    if (row.model) tokens.push(this.facetToken('m', row.model));
    tokens.push(this.facetToken('s', row.status));
    if (client) tokens.push(this.facetToken('c', client));
    return tokens.join(' ');
  }

  /** Facet tokens for the equality filters of a request (see rowTokens). */
  private filterTokens(filter: CallFilter): string[] {
    const tokens: string[] = [];
    if (filter.provider) tokens.push(this.facetToken('p', filter.provider));
    if (filter.model) tokens.push(this.facetToken('m', filter.model));
    if (filter.status) tokens.push(this.facetToken('s', filter.status));
    if (filter.process) tokens.push(this.facetToken('c', filter.process));
    if (filter.minDurationMs !== undefined && DURATION_STEPS.includes(filter.minDurationMs)) tokens.push(`d${filter.minDurationMs}`);
    return tokens;
  }

  private readonly facetTokenCache = new Map<string, string>();

  /** A filter value as one full-text token: its kind and a hash, since values hold characters the tokenizer splits on. */
  facetToken(kind: string, value: string): string {
    const key = `${kind}\u0000${value}`;
    let token = this.facetTokenCache.get(key);
    if (!token) {
      token = `${kind}${digest('sha1', value, 'hex').slice(0, 16)}`;
      if (this.facetTokenCache.size > 10_000) this.facetTokenCache.clear();
      this.facetTokenCache.set(key, token);
    }
    return token;
  }

  /**
   * The first call stored at or after `ms`. A call starts before it is stored, so every call that started since
   * `ms` has at least this id: a time range becomes an id range, which the newest-first scans stop at. Found by
   * bisecting ids (stored_ms grows with id), about twenty primary-key lookups.
   */
  private firstIdStoredSince(ms: number): number {
    const at = this.statement('SELECT id, stored_ms AS storedMs FROM calls WHERE id >= ? ORDER BY id LIMIT 1');
    let low = 0;
    let high = this.nextId;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      const row = at.get(middle) as { id: number; storedMs: number } | undefined;
      if (!row) high = middle;
      else if (row.storedMs >= ms) high = middle;
      else low = row.id + 1;
    }
    return low;
  }

  getCall(id: number): CallDetail | undefined {
    return this.guarded(() => {
      const row = this.statement(`SELECT ${SUMMARY_COLUMNS}, b.span, b.raw, c.prefix_len AS sharedPrefix, coalesce(v.turns, 1) AS conversationTurns
        FROM calls c JOIN call_bodies b ON b.id = c.id LEFT JOIN conversations v ON v.id = c.conversation_id WHERE c.id = ?`).get(id) as
        | (CallSummary & { span: string; raw: string | null; sharedPrefix: number; conversationTurns: number })
        | undefined;
      return row ? detail(row) : undefined;
    });
  }

  facets(): Facets {
    const sorted = (set: Set<string>) => [...set].sort((a, b) => a.localeCompare(b));
    return { providers: sorted(this.facetCache.provider), models: sorted(this.facetCache.model), processes: sorted(this.facetCache.process) };
  }

  // ------------------------------------------------------------------------------------------------
  // Conversations

  listConversations(request: { beforeId?: number; limit?: number; minTurns?: number } = {}): ConversationSummary[] {
    return this.guarded(() => {
      const limit = Math.max(1, Math.min(500, Math.floor(request.limit ?? 50)));
      const rows = this.statement(`SELECT id, turns, first_ms AS firstMs, last_ms AS lastMs, process, workload, models, input_tokens AS inputTokens,
        output_tokens AS outputTokens, errors, preview, last_call_id AS lastCallId FROM conversations
        WHERE turns >= @minTurns AND last_call_id < @before ORDER BY last_call_id DESC LIMIT @limit`).all({
        minTurns: request.minTurns ?? 2,
        before: request.beforeId ?? Number.MAX_SAFE_INTEGER,
        limit,
      }) as Array<Omit<ConversationSummary, 'models'> & { models: string; lastCallId: number }>;
      return rows.map(({ models, lastCallId: _lastCallId, ...rest }) => ({ ...rest, models: models.split(',').filter(Boolean) }));
    });
  }

  getConversation(id: number): Conversation | undefined {
    return this.guarded(() => {
      const summary = this.statement(`SELECT id, turns, first_ms AS firstMs, last_ms AS lastMs, process, workload, models, input_tokens AS inputTokens,
        output_tokens AS outputTokens, errors, preview FROM conversations WHERE id = ?`).get(id) as (Omit<ConversationSummary, 'models'> & { models: string }) | undefined;
      const rows = this.statement(`SELECT ${SUMMARY_COLUMNS}, b.span, b.raw, c.prefix_len AS sharedPrefix, 0 AS conversationTurns
        FROM calls c JOIN call_bodies b ON b.id = c.id WHERE c.conversation_id = ? ORDER BY c.id LIMIT ${MAX_CONVERSATION_TURNS}`).all(id) as Array<
        CallSummary & { span: string; raw: string | null; sharedPrefix: number; conversationTurns: number }
      >;
      if (rows.length === 0) return undefined;
      const calls = rows.map((row) => ({ ...detail(row), conversationTurns: rows.length }));
      const base: ConversationSummary = summary
        ? { ...summary, models: summary.models.split(',').filter(Boolean) }
        : {
            id,
            turns: rows.length,
            firstMs: rows[0].startMs,
            lastMs: rows[rows.length - 1].startMs,
            process: rows[0].process,
            workload: rows[0].workload,
            models: [...new Set(rows.map((row) => row.model).filter((model): model is string => !!model))],
            inputTokens: rows.reduce((sum, row) => sum + (row.inputTokens ?? 0), 0),
            outputTokens: rows.reduce((sum, row) => sum + (row.outputTokens ?? 0), 0),
            errors: rows.filter((row) => row.status === 'error').length,
            preview: rows[0].preview,
          };
      return { ...base, calls };
    });
  }

  // ------------------------------------------------------------------------------------------------
  // Overview

  overview(request: OverviewRequest): Overview {
    return this.guarded(() => {
      const range = Math.max(1, request.untilMs - request.sinceMs);
      const bucketMs = Math.max(MINUTE_MS, Math.round((request.bucketMs ?? chooseBucket(range)) / MINUTE_MS) * MINUTE_MS);
      const first = Math.floor(request.sinceMs / bucketMs) * bucketMs;
      const bucketCount = Math.max(1, Math.ceil((request.untilMs - first) / bucketMs));
      const buckets = Array.from({ length: bucketCount }, (_, i) => first + i * bucketMs);
      const perModel = new Map<string, { calls: number[]; tokens: number[]; cost: number[]; latency: Array<Record<string, number>> }>();
      const calls = new Array<number>(bucketCount).fill(0);
      const errors = new Array<number>(bucketCount).fill(0);
      const allLatency: Record<string, number> = {};
      const totals = { calls: 0, errors: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };
      const workloads = new Map<string, RankedName>();
      const processes = new Map<string, RankedName>();
      const rank = (map: Map<string, RankedName>, name: string, count: number, tokens: number, cost: number) => {
        if (!name) return;
        const entry = map.get(name) ?? { name, calls: 0, tokens: 0, costUsd: 0 };
        entry.calls += count;
        entry.tokens += tokens;
        entry.costUsd += cost;
        map.set(name, entry);
      };
      const rows = this.statement(`SELECT minute, model, workload, process, calls, errors, input_tokens AS inputTokens, output_tokens AS outputTokens,
        cost_usd AS costUsd, latency FROM rollups WHERE minute >= ? AND minute < ?`).iterate(Math.floor(request.sinceMs / MINUTE_MS), Math.ceil(request.untilMs / MINUTE_MS)) as Iterable<
        Omit<Rollup, 'latency'> & { latency: string }
      >;
      for (const row of rows) {
        const index = Math.min(bucketCount - 1, Math.max(0, Math.floor((row.minute * MINUTE_MS - first) / bucketMs)));
        let series = perModel.get(row.model);
        if (!series) {
          series = { calls: new Array(bucketCount).fill(0), tokens: new Array(bucketCount).fill(0), cost: new Array(bucketCount).fill(0), latency: buckets.map(() => ({})) };
          perModel.set(row.model, series);
        }
        const latency = JSON.parse(row.latency) as Record<string, number>;
        const tokens = row.inputTokens + row.outputTokens;
        series.calls[index] += row.calls;
        series.tokens[index] += tokens;
        series.cost[index] += row.costUsd;
        mergeHistogram(series.latency[index], latency);
        mergeHistogram(allLatency, latency);
        calls[index] += row.calls;
        errors[index] += row.errors;
        totals.calls += row.calls;
        totals.errors += row.errors;
        totals.inputTokens += row.inputTokens;
        totals.outputTokens += row.outputTokens;
        totals.costUsd += row.costUsd;
        rank(workloads, row.workload, row.calls, tokens, row.costUsd);
        rank(processes, row.process, row.calls, tokens, row.costUsd);
      }
      const top = (map: Map<string, RankedName>) => [...map.values()].sort((a, b) => b.calls - a.calls).slice(0, 10);
      return {
        bucketMs,
        buckets,
        models: [...perModel.entries()]
          .sort((a, b) => sum(b[1].calls) - sum(a[1].calls))
          .map(([model, series]) => ({
            model,
            calls: series.calls,
            tokens: series.tokens,
            costUsd: series.cost,
            p50Ms: series.latency.map((histogram) => histogramPercentile(histogram, 0.5)),
            p90Ms: series.latency.map((histogram) => histogramPercentile(histogram, 0.9)),
            p99Ms: series.latency.map((histogram) => histogramPercentile(histogram, 0.99)),
          })),
        errorRate: calls.map((count, i) => (count === 0 ? null : errors[i] / count)),
        totals: { ...totals, p50Ms: histogramPercentile(allLatency, 0.5), p90Ms: histogramPercentile(allLatency, 0.9), p99Ms: histogramPercentile(allLatency, 0.99) },
        topWorkloads: top(workloads),
        topProcesses: top(processes),
      };
    });
  }

  // ------------------------------------------------------------------------------------------------
  // Alerts

  private loadRules(): void {
    this.durationRules = this.alertRules().filter((rule) => rule.kind === 'duration');
  }

  alertRules(): AlertRule[] {
    const rows = this.statement(`SELECT id, name, kind, threshold, window_minutes AS windowMinutes, created_ms AS createdMs, firing FROM alert_rules ORDER BY id`).all() as Array<
      Omit<AlertRule, 'firing'> & { firing: number }
    >;
    return rows.map((row) => ({ ...row, firing: row.firing === 1 }));
  }

  addAlertRule(input: AlertRuleInput): AlertRule {
    const rule = validateRule(input);
    return this.guarded(() => {
      const id = Number(
        this.statement('INSERT INTO alert_rules(name, kind, threshold, window_minutes, created_ms) VALUES (?, ?, ?, ?, ?)').run(rule.name, rule.kind, rule.threshold, rule.windowMinutes, this.now())
          .lastInsertRowid,
      );
      this.loadRules();
      return this.alertRules().find((candidate) => candidate.id === id)!;
    });
  }

  deleteAlertRule(id: number): boolean {
    return this.guarded(() => {
      const deleted = this.statement('DELETE FROM alert_rules WHERE id = ?').run(id).changes > 0;
      this.loadRules();
      return deleted;
    });
  }

  firings(request: { limit?: number; ruleId?: number } = {}): AlertFiring[] {
    return this.guarded(() =>
      this.statement(`SELECT id, rule_id AS ruleId, rule_name AS ruleName, fired_ms AS firedMs, value, message, call_id AS callId FROM alert_firings
        WHERE (@ruleId IS NULL OR rule_id = @ruleId) ORDER BY id DESC LIMIT @limit`).all({
        ruleId: request.ruleId ?? null,
        limit: Math.max(1, Math.min(1000, request.limit ?? 200)),
      }) as AlertFiring[],
    );
  }

  /** Error-rate and token-budget rules, over their windows; each fires when it crosses its threshold. */
  evaluateRateRules(): AlertFiring[] {
    return this.guarded(() => {
      const now = this.now();
      const firings: AlertFiring[] = [];
      for (const rule of this.alertRules()) {
        if (rule.kind === 'duration') continue;
        let value: number;
        let message: string;
        if (rule.kind === 'error_rate') {
          const windowStart = now - rule.windowMinutes * 60_000;
          const { calls, errors } = this.statement(`SELECT count(*) AS calls, coalesce(sum(status = 'error'), 0) AS errors FROM calls WHERE start_ms >= ?`).get(windowStart) as {
            calls: number;
            errors: number;
          };
          value = calls === 0 ? 0 : (errors / calls) * 100;
          message = `${errors} of ${calls} calls failed in the last ${rule.windowMinutes} min (${value.toFixed(1)}%)`;
        } else {
          const { tokens } = this.statement('SELECT coalesce(sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0)), 0) AS tokens FROM calls WHERE start_ms >= ?').get(now - 3_600_000) as {
            tokens: number;
          };
          value = tokens;
          message = `${tokens.toLocaleString('en-US')} tokens in the last hour`;
        }
        const breached = value > rule.threshold;
        if (breached && !rule.firing) firings.push(this.fire(rule, value, message, null));
        if (breached !== rule.firing) this.statement('UPDATE alert_rules SET firing = ? WHERE id = ?').run(breached ? 1 : 0, rule.id);
      }
      return firings;
    });
  }

  private fire(rule: AlertRule, value: number, message: string, callId: number | null): AlertFiring {
    const firedMs = this.now();
    const id = Number(
      this.statement('INSERT INTO alert_firings(rule_id, rule_name, fired_ms, value, message, call_id) VALUES (?, ?, ?, ?, ?, ?)').run(rule.id, rule.name, firedMs, value, message, callId)
        .lastInsertRowid,
    );
    return { id, ruleId: rule.id, ruleName: rule.name, firedMs, value, message, callId };
  }

  // ------------------------------------------------------------------------------------------------
  // Retention

  /** Deletes calls older than the age limit, then the oldest calls while the file is over its size limit. */
  enforceRetention(): RetentionResult {
    return this.guarded(() => {
      const cutoff = this.now() - this.options.maxAgeMs;
      let deletedByAge = 0;
      for (;;) {
        const ids = (this.statement(`SELECT id FROM calls WHERE start_ms < ? LIMIT ${DELETE_CHUNK}`).all(cutoff) as Array<{ id: number }>).map((row) => row.id);
        if (ids.length === 0) break;
        this.deleteCalls(ids);
        deletedByAge += ids.length;
      }
      this.statement('DELETE FROM alert_firings WHERE fired_ms < ? OR id <= (SELECT max(id) FROM alert_firings) - ?').run(cutoff, MAX_FIRINGS);
      this.statement('DELETE FROM rollups WHERE minute < ?').run(Math.floor(cutoff / MINUTE_MS));

      let deletedBySize = 0;
      const target = this.options.maxBytes * 0.9;
      for (let round = 0; round < 50 && this.usedBytes() > this.options.maxBytes && this.callCount > 0; round++) {
        const used = this.usedBytes();
        // In proportion to the overshoot, so one round usually suffices; rounds repeat while pages are still held.
        const count = Math.max(100, Math.ceil((this.callCount * (used - target)) / used));
        for (let left = count; left > 0 && this.callCount > 0; ) {
          const ids = (this.statement(`SELECT id FROM calls ORDER BY id LIMIT ?`).all(Math.min(left, DELETE_CHUNK)) as Array<{ id: number }>).map((row) => row.id);
          if (ids.length === 0) break;
          this.deleteCalls(ids);
          deletedBySize += ids.length;
          left -= ids.length;
        }
        // Deleted rows leave tombstones in the full-text index until its segments are merged.
        this.statement("INSERT INTO calls_fts(calls_fts, rank) VALUES ('merge', 500)").run();
        this.db.pragma('incremental_vacuum');
      }
      if (deletedBySize > 0) {
        // The overview forgets what the list no longer has.
        const oldest = this.statement('SELECT start_ms AS startMs FROM calls ORDER BY id LIMIT 1').get() as { startMs: number } | undefined;
        this.statement('DELETE FROM rollups WHERE minute < ?').run(oldest ? Math.floor(oldest.startMs / MINUTE_MS) : Number.MAX_SAFE_INTEGER);
      }
      if (deletedByAge > 0) this.db.pragma('incremental_vacuum');
      // In WAL mode the file shrinks only when the pages given back reach it, at a checkpoint.
      if (deletedByAge + deletedBySize > 0) this.db.pragma('wal_checkpoint(TRUNCATE)');
      return { deletedByAge, deletedBySize };
    });
  }

  private deleteCalls(ids: number[]): void {
    this.db.transaction(() => {
      const deleteText = this.statement('DELETE FROM calls_fts WHERE rowid = ?');
      const deleteBody = this.statement('DELETE FROM call_bodies WHERE id = ?');
      const deleteCall = this.statement('DELETE FROM calls WHERE id = ? RETURNING conversation_id AS conversationId');
      const touched = new Set<number>();
      for (const id of ids) {
        deleteText.run(id);
        deleteBody.run(id);
        const row = deleteCall.get(id) as { conversationId: number } | undefined;
        if (row) {
          touched.add(row.conversationId);
          this.callCount--;
        }
      }
      for (const conversationId of touched) {
        const left = this.statement('SELECT count(*) AS n FROM calls WHERE conversation_id = ?').get(conversationId) as { n: number };
        if (left.n === 0) this.statement('DELETE FROM conversations WHERE id = ?').run(conversationId);
        else this.statement('UPDATE conversations SET turns = ? WHERE id = ?').run(left.n, conversationId);
      }
    })();
  }

  /** Bytes of the file's pages in use (free pages are reused or given back by incremental vacuum). */
  usedBytes(): number {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * pageSize;
  }

  info(): StoreInfo {
    return this.guarded(() => ({
      file: this.options.file,
      calls: this.callCount,
      usedBytes: this.usedBytes(),
      maxBytes: this.options.maxBytes,
      maxAgeDays: this.options.maxAgeMs / 86_400_000,
      oldestMs: (this.statement('SELECT min(start_ms) AS oldest FROM calls').get() as { oldest: number | null }).oldest,
    }));
  }
}

/** Duration thresholds the UI offers; each has a facet token on the calls slower than it. */
const DURATION_STEPS = [100, 500, 1000, 2000, 5000, 10000];
/** Thresholds with a partial index of the calls slower than them (rare enough that scanning would be slow). */
const DURATION_INDEXES = [1000, 10000];

/**
 * Where each conversation state was last seen, in memory: message-history hash -> call id. A hash index in the
 * store file would take two writes at random places per call; this map takes none. It holds the newest
 * MAX_CALLS calls' states (a few MiB) and is rebuilt from the calls' hash columns when the store opens, so a
 * conversation continues across restarts as long as its last turn is among those calls.
 */
class ConversationStates {
  static readonly MAX_CALLS = 100_000;
  private readonly states = new Map<number, number>();

  static load(db: Database.Database): ConversationStates {
    const loaded = new ConversationStates();
    const rows = db
      .prepare(`SELECT id, input_hash AS inputHash, state_hash AS stateHash FROM (SELECT id, input_hash, state_hash FROM calls ORDER BY id DESC LIMIT ${ConversationStates.MAX_CALLS}) ORDER BY id`)
      .iterate() as Iterable<{ id: number; inputHash: number; stateHash: number }>;
    for (const row of rows) loaded.remember(row.id, row.inputHash, row.stateHash);
    return loaded;
  }

  remember(callId: number, inputHash: number, stateHash: number): void {
    for (const hash of [inputHash, stateHash]) {
      if (!hash) continue;
      // Re-inserted, so the map is in order of last use and the oldest state goes first.
      this.states.delete(hash);
      this.states.set(hash, callId);
    }
    while (this.states.size > ConversationStates.MAX_CALLS * 2) this.states.delete(this.states.keys().next().value!);
  }

  find(hash: number): number | undefined {
    return this.states.get(hash);
  }
}

function filterClauses(filter: CallFilter, params: Record<string, unknown>): string[] {
  const clauses: string[] = [];
  const equal = (column: string, name: keyof CallFilter) => {
    const value = filter[name];
    if (value === undefined || value === '') return;
    clauses.push(`${column} = @${name}`);
    params[name] = value;
  };
  equal('c.provider', 'provider');
  equal('c.model', 'model');
  equal('c.status', 'status');
  if (filter.process) {
    // A call's client: its workload on Kubernetes, else its process.
    clauses.push('c.client = @process');
    params.process = filter.process;
  }
  if (filter.minDurationMs !== undefined) {
    clauses.push('c.duration_ms > @minDurationMs');
    params.minDurationMs = filter.minDurationMs;
    // Spelled out, so SQLite may use the partial index of the slow calls.
    const indexed = DURATION_INDEXES.filter((step) => filter.minDurationMs! >= step).pop();
    if (indexed !== undefined) clauses.push(`c.duration_ms > ${indexed}`);
  }
  if (filter.sinceMs !== undefined) {
    clauses.push('c.start_ms >= @sinceMs');
    params.sinceMs = filter.sinceMs;
  }
  if (filter.untilMs !== undefined) {
    clauses.push('c.start_ms < @untilMs');
    params.untilMs = filter.untilMs;
  }
  return clauses;
}

/**
 * What a person types, as an FTS5 query: every word must appear (AND), quoted so that FTS5 syntax characters
 * are plain text, a "quoted phrase" stays a phrase, and the last word also matches as a prefix (search as you type).
 */
export function ftsQuery(search: string): string | undefined {
  const pieces = search.match(/"[^"]*"|[^\s"]+/g) ?? [];
  const terms: string[] = [];
  pieces.forEach((piece, index) => {
    const quoted = piece.startsWith('"');
    const tokens = piece.replace(/"/g, '').split(/[^\p{L}\p{N}]+/u).filter(Boolean);
    if (tokens.length === 0) return;
    const last = index === pieces.length - 1;
    const prefix = last && !quoted && tokens[tokens.length - 1].length >= 3;
    terms.push(`"${tokens.join(' ')}"${prefix ? '*' : ''}`);
  });
  return terms.length > 0 ? terms.join(' AND ') : undefined;
}

function detail(row: CallSummary & { span: string; raw: string | null; sharedPrefix: number; conversationTurns: number }): CallDetail {
  const { span, raw, ...rest } = row;
  return { ...rest, span: JSON.parse(span) as SpanDocument, ...(raw ? { raw: JSON.parse(raw) as RawExchange } : {}) };
}

const MINUTE_MS = 60_000;

interface Rollup {
  minute: number;
  model: string;
  workload: string;
  process: string;
  calls: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** Latency histogram: bucket index (see latencyBucket) -> calls. */
  latency: Record<string, number>;
}

/** Latency buckets grow by 10%: bucket b holds durations in (1.1^(b-1), 1.1^b] ms. */
const BUCKET_GROWTH = 1.1;

function latencyBucket(ms: number): number {
  return ms <= 1 ? 0 : Math.ceil(Math.log(ms) / Math.log(BUCKET_GROWTH));
}

function addToRollup(rollups: Map<string, Rollup>, row: CallRow): void {
  const minute = Math.floor(row.startMs / MINUTE_MS);
  const model = row.model ?? row.responseModel ?? '(unknown)';
  const workload = row.workload ?? '';
  const process = row.process ?? '';
  const key = `${minute}\u0000${model}\u0000${workload}\u0000${process}`;
  let rollup = rollups.get(key);
  if (!rollup) {
    rollup = { minute, model, workload, process, calls: 0, errors: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, latency: {} };
    rollups.set(key, rollup);
  }
  rollup.calls++;
  if (row.status === 'error') rollup.errors++;
  rollup.inputTokens += row.inputTokens ?? 0;
  rollup.outputTokens += row.outputTokens ?? 0;
  rollup.costUsd += row.costUsd ?? 0;
  const bucket = latencyBucket(row.durationMs);
  rollup.latency[bucket] = (rollup.latency[bucket] ?? 0) + 1;
}

function mergeHistogram(into: Record<string, number>, from: Record<string, number>): void {
  for (const [bucket, count] of Object.entries(from)) into[bucket] = (into[bucket] ?? 0) + count;
}

/** The percentile's bucket, as its geometric middle: within 5% of the exact value. */
function histogramPercentile(histogram: Record<string, number>, p: number): number | null {
  const entries = Object.entries(histogram)
    .map(([bucket, count]) => [Number(bucket), count] as const)
    .sort((a, b) => a[0] - b[0]);
  const total = entries.reduce((sum, [, count]) => sum + count, 0);
  if (total === 0) return null;
  const rank = Math.ceil(p * total);
  let seen = 0;
  for (const [bucket, count] of entries) {
    seen += count;
    if (seen >= rank) return bucket === 0 ? 1 : Math.pow(BUCKET_GROWTH, bucket - 0.5);
  }
  return null;
}

const NICE_BUCKETS_MS = [60_000, 5 * 60_000, 15 * 60_000, 3_600_000, 3 * 3_600_000, 6 * 3_600_000, 86_400_000];

/** A bucket width that gives at most about 60 points over the range. */
function chooseBucket(rangeMs: number): number {
  return NICE_BUCKETS_MS.find((width) => rangeMs / width <= 60) ?? 86_400_000;
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function validateRule(input: AlertRuleInput): Required<AlertRuleInput> {
  const kinds = ['duration', 'error_rate', 'tokens_per_hour'];
  if (!kinds.includes(input.kind)) throw new RangeError(`alert rule: kind must be one of ${kinds.join(', ')}, got "${String(input.kind)}"`);
  if (typeof input.threshold !== 'number' || !Number.isFinite(input.threshold) || input.threshold < 0) {
    throw new RangeError(`alert rule: threshold must be a number of 0 or more, got ${JSON.stringify(input.threshold)}`);
  }
  if (input.kind === 'error_rate' && input.threshold > 100) throw new RangeError('alert rule: an error-rate threshold is a percentage from 0 to 100');
  const windowMinutes = input.windowMinutes ?? 5;
  if (!Number.isInteger(windowMinutes) || windowMinutes < 1 || windowMinutes > 1440) throw new RangeError('alert rule: windowMinutes must be a whole number from 1 to 1440');
  const defaults: Record<string, string> = {
    duration: `Call over ${input.threshold.toLocaleString('en-US')} ms`,
    error_rate: `Error rate over ${input.threshold}% (${windowMinutes} min)`,
    tokens_per_hour: `Over ${input.threshold.toLocaleString('en-US')} tokens per hour`,
  };
  const name = (input.name ?? '').trim().slice(0, 120) || defaults[input.kind];
  return { name, kind: input.kind, threshold: input.threshold, windowMinutes };
}
