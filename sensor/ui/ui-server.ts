/**
 * The web UI's edge: its JSON API over the store, the live event stream, exports, and the bundled front end
 * (dist/ui, built by build-ui.ts from sensor/ui/web). Served by the runtime's HTTP server on the sensor's port.
 *
 * Nobody but the local user may read prompts through it: without a token only loopback host names are answered
 * (a page elsewhere cannot reach it by rebinding a DNS name to 127.0.0.1), with a token every request carries it,
 * and changes (alert rules) need a JSON body from the UI's own origin.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import type { AlertFiring, AlertRuleInput, CallListRequest, CallSummary } from '../store/call-query';
import type { CallStoreReader } from '../store/store-client';
import type { SpanDocument } from '../store/stored-call';

export interface UiServerOptions {
  store: CallStoreReader;
  /** Required of every request when set. */
  accessToken?: string;
  /** Where the bundled front end is. @default dist/ui of this package */
  assetsDir?: string;
  /** Facts for the header (mode, version, attached libraries). */
  about?: () => Record<string, unknown>;
}

export interface UiServer {
  /** Answers a request to any path the health server does not own. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** New calls were stored: tells the open pages (coalesced to a few events a second). */
  notifyCalls(lastId: number): void;
  notifyFirings(firings: AlertFiring[]): void;
  close(): void;
}

const TOKEN_COOKIE = 'sightline_ui';
const EXPORT_DEFAULT_LIMIT = 100_000;
const EXPORT_MAX_LIMIT = 1_000_000;
const MAX_BODY_BYTES = 16 * 1024;
const LOOPBACK_HOST = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?$/i;

export function defaultAssetsDir(): string {
  // dist/sensor/ui when compiled, sensor/ui when run from source (tests): the bundle is always dist/ui.
  const root = __dirname.split(path.sep).includes('dist') ? path.resolve(__dirname, '../../..') : path.resolve(__dirname, '../..');
  return path.join(root, 'dist', 'ui');
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function createUiServer(options: UiServerOptions): UiServer {
  const assets = loadAssets(options.assetsDir ?? defaultAssetsDir());
  const events = new Set<ServerResponse>();
  let announcedLastId = 0;
  let pendingLastId = 0;
  let announceTimer: NodeJS.Timeout | undefined;
  const heartbeat = setInterval(() => broadcast(': keep-alive\n\n'), 15_000);
  heartbeat.unref();

  function broadcast(chunk: string): void {
    for (const res of events) res.write(chunk);
  }

  async function route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts[0] === 'assets') return serveAsset(res, assets, parts.slice(1).join('/'));
    if (parts[0] !== 'api') {
      if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, `${method} is not supported here`);
      return send(res, 200, 'text/html; charset=utf-8', assets.indexHtml);
    }
    const [, resource, idText] = parts;
    const id = idText === undefined ? undefined : wholeNumber(idText, 'id');
    const q = url.searchParams;
    if (method === 'GET') {
      switch (resource) {
        case 'calls':
          if (id !== undefined) return sendJson(res, (await options.store.getCall(id)) ?? notFound(`call ${id}`));
          return sendJson(res, await options.store.listCalls(listRequest(q)));
        case 'calls.jsonl':
          return exportCalls(res, q, 'jsonl');
        case 'calls.csv':
          return exportCalls(res, q, 'csv');
        case 'facets':
          return sendJson(res, await options.store.facets());
        case 'conversations':
          if (id !== undefined) return sendJson(res, (await options.store.getConversation(id)) ?? notFound(`conversation ${id}`));
          return sendJson(res, await options.store.listConversations({ beforeId: optionalNumber(q, 'before'), limit: optionalNumber(q, 'limit'), minTurns: optionalNumber(q, 'minTurns') }));
        case 'overview': {
          const untilMs = optionalNumber(q, 'until') ?? Date.now();
          const sinceMs = optionalNumber(q, 'since') ?? untilMs - 3_600_000;
          if (sinceMs >= untilMs) throw new HttpError(400, 'since must be before until');
          return sendJson(res, await options.store.overview({ sinceMs, untilMs, bucketMs: optionalNumber(q, 'bucketMs') }));
        }
        case 'alerts':
          return sendJson(res, { rules: await options.store.alertRules(), firings: await options.store.firings({ limit: optionalNumber(q, 'limit') }) });
        case 'info':
          return sendJson(res, { store: await options.store.info(), ...(options.about?.() ?? {}) });
        case 'events':
          return openEvents(req, res);
      }
    }
    if (resource === 'alerts' && method === 'POST' && id === undefined) {
      requireSameOrigin(req);
      const input = (await readJson(req)) as AlertRuleInput;
      try {
        return sendJson(res, await options.store.addAlertRule(input), 201);
      } catch (error) {
        throw new HttpError(400, (error as Error).message);
      }
    }
    if (resource === 'alerts' && method === 'DELETE' && id !== undefined) {
      requireSameOrigin(req);
      return (await options.store.deleteAlertRule(id)) ? sendJson(res, { deleted: id }) : notFound(`alert rule ${id}`);
    }
    throw new HttpError(404, `no API ${method} ${url.pathname}`);
  }

  function openEvents(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', ...SECURITY_HEADERS });
    res.write(`retry: 2000\nevent: calls\ndata: ${JSON.stringify({ lastId: announcedLastId })}\n\n`);
    events.add(res);
    req.on('close', () => events.delete(res));
  }

  async function exportCalls(res: ServerResponse, q: URLSearchParams, format: 'jsonl' | 'csv'): Promise<void> {
    const request = listRequest(q);
    let left = Math.min(EXPORT_MAX_LIMIT, optionalNumber(q, 'limit') ?? EXPORT_DEFAULT_LIMIT);
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    res.writeHead(200, {
      'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
      'content-disposition': `attachment; filename="sightline-calls-${stamp}.${format}"`,
      ...SECURITY_HEADERS,
    });
    if (format === 'csv') res.write(`${CSV_COLUMNS.map((column) => column.name).join(',')}\r\n`);
    let beforeId = request.beforeId;
    while (left > 0) {
      const page = await options.store.exportCalls({ ...request, beforeId, limit: Math.min(1000, left) });
      const text = page.calls.map((call) => (format === 'csv' ? csvLine(call) : `${JSON.stringify(call)}\n`)).join('');
      // Waits for the socket when it is behind, so an export of 100,000 calls never sits in memory at once.
      if (!res.write(text)) await new Promise((resolve) => res.once('drain', resolve));
      left -= page.calls.length;
      if (page.nextBeforeId === undefined || res.destroyed) break;
      beforeId = page.nextBeforeId;
    }
    res.end();
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://ui.invalid');
    if (!authorised(req, res, url, options.accessToken)) return;
    route(req, res, url).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : 500;
      const message = error instanceof HttpError ? error.message : `the store could not answer: ${(error as Error).message}`;
      if (res.headersSent) res.destroy();
      else sendJson(res, { error: message }, status);
    });
  }

  return {
    handle,
    notifyCalls(lastId) {
      pendingLastId = Math.max(pendingLastId, lastId);
      // Coalesced: a busy sensor stores calls many times a second, the list needs a few nudges at most.
      announceTimer ??= setTimeout(() => {
        announceTimer = undefined;
        announcedLastId = pendingLastId;
        broadcast(`event: calls\ndata: ${JSON.stringify({ lastId: announcedLastId })}\n\n`);
      }, 250);
    },
    notifyFirings(firings) {
      for (const firing of firings) broadcast(`event: firing\ndata: ${JSON.stringify(firing)}\n\n`);
    },
    close() {
      clearInterval(heartbeat);
      clearTimeout(announceTimer);
      for (const res of events) res.end();
      events.clear();
    },
  };
}

// ------------------------------------------------------------------------------------------------
// Access

/** Loopback host names only without a token; the token (header, cookie, or `?token=` once) with one. */
function authorised(req: IncomingMessage, res: ServerResponse, url: URL, token: string | undefined): boolean {
  if (!token) {
    if (LOOPBACK_HOST.test(req.headers.host ?? '')) return true;
    sendJson(res, { error: `this UI answers only as localhost or 127.0.0.1 (asked for host "${req.headers.host ?? ''}"); to serve other addresses set server.host and ui.accessToken` }, 403);
    return false;
  }
  const offered = url.searchParams.get('token');
  if (offered !== null && sameSecret(offered, token) && req.method === 'GET' && !url.pathname.startsWith('/api/')) {
    // The token leaves the address bar at once: a cookie carries it from here on.
    url.searchParams.delete('token');
    res.writeHead(303, { location: `${url.pathname}${url.search}`, 'set-cookie': `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`, ...SECURITY_HEADERS });
    res.end();
    return false;
  }
  const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  const cookie = cookieValue(req.headers.cookie, TOKEN_COOKIE);
  if ((bearer !== undefined && sameSecret(bearer, token)) || (cookie !== undefined && sameSecret(cookie, token))) return true;
  sendJson(res, { error: 'access token required: open /?token=<ui.accessToken> once in the browser, or send Authorization: Bearer <token>' }, 401);
  return false;
}

function sameSecret(offered: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(offered), digest(expected));
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) {
      try {
        return decodeURIComponent(rest.join('='));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** A change must come from the UI's own page: a JSON body (which a form on another site cannot send) and no foreign Origin. */
function requireSameOrigin(req: IncomingMessage): void {
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== 'null') {
    let originHost: string;
    try {
      originHost = new URL(origin).host;
    } catch {
      throw new HttpError(403, 'bad Origin header');
    }
    if (originHost !== req.headers.host) throw new HttpError(403, `changes are accepted from this UI's own pages only (Origin ${origin})`);
  }
  if (req.method === 'POST' && !(req.headers['content-type'] ?? '').startsWith('application/json')) throw new HttpError(415, 'send the body as application/json');
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new HttpError(400, 'the body is not valid JSON'));
      }
    });
    req.on('error', reject);
  });
}

// ------------------------------------------------------------------------------------------------
// Requests and answers

function listRequest(q: URLSearchParams): CallListRequest {
  const request: CallListRequest = {};
  for (const key of ['provider', 'model', 'process'] as const) {
    const value = q.get(key);
    if (value) request[key] = value.slice(0, 200);
  }
  const status = q.get('status');
  if (status) {
    if (status !== 'ok' && status !== 'error') throw new HttpError(400, `status must be ok or error, got "${status}"`);
    request.status = status;
  }
  const search = q.get('q');
  if (search && search.trim()) request.search = search.slice(0, 500);
  request.minDurationMs = optionalNumber(q, 'minDurationMs');
  request.sinceMs = optionalNumber(q, 'since');
  request.untilMs = optionalNumber(q, 'until');
  request.beforeId = optionalNumber(q, 'before');
  request.afterId = optionalNumber(q, 'after');
  request.limit = optionalNumber(q, 'limit');
  return request;
}

function optionalNumber(q: URLSearchParams, name: string): number | undefined {
  const text = q.get(name);
  if (text === null || text === '') return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new HttpError(400, `${name} must be a number of 0 or more, got "${text}"`);
  return value;
}

function wholeNumber(text: string, name: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new HttpError(400, `${name} must be a whole number, got "${text}"`);
  return value;
}

function notFound(what: string): never {
  throw new HttpError(404, `${what} not found (it may have been deleted by retention)`);
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
};

function send(res: ServerResponse, status: number, contentType: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', ...SECURITY_HEADERS, ...extra }).end(body);
}

function sendJson(res: ServerResponse, value: unknown, status = 200): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

// ------------------------------------------------------------------------------------------------
// CSV

const CSV_COLUMNS: Array<{ name: string; value: (call: CallSummary & { span: SpanDocument }) => unknown }> = [
  { name: 'id', value: (call) => call.id },
  { name: 'start_time', value: (call) => new Date(call.startMs).toISOString() },
  { name: 'duration_ms', value: (call) => Math.round(call.durationMs * 1000) / 1000 },
  { name: 'provider', value: (call) => call.provider },
  { name: 'operation', value: (call) => call.operation },
  { name: 'request_model', value: (call) => call.model },
  { name: 'response_model', value: (call) => call.responseModel },
  { name: 'status', value: (call) => call.status },
  { name: 'http_status', value: (call) => call.httpStatus },
  { name: 'error_type', value: (call) => call.errorType },
  { name: 'input_tokens', value: (call) => call.inputTokens },
  { name: 'output_tokens', value: (call) => call.outputTokens },
  { name: 'cost_usd', value: (call) => call.costUsd },
  { name: 'time_to_first_chunk_ms', value: (call) => call.ttfcMs },
  { name: 'process', value: (call) => call.process },
  { name: 'pid', value: (call) => call.pid },
  { name: 'workload', value: (call) => call.workload },
  { name: 'conversation_id', value: (call) => call.conversationId },
  { name: 'turn', value: (call) => call.turn },
  { name: 'trace_id', value: (call) => call.span.traceId },
  { name: 'span_id', value: (call) => call.span.spanId },
  { name: 'prompt_preview', value: (call) => call.preview },
];

export function csvLine(call: CallSummary & { span: SpanDocument }): string {
  return `${CSV_COLUMNS.map((column) => csvCell(column.value(call))).join(',')}\r\n`;
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  // A cell a spreadsheet would run as a formula is kept as text.
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

// ------------------------------------------------------------------------------------------------
// Front end

interface Assets {
  indexHtml: string;
  files: Map<string, { body: Buffer; type: string }>;
}

const ASSET_TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };

function loadAssets(dir: string): Assets {
  const files = new Map<string, { body: Buffer; type: string }>();
  if (fs.existsSync(dir)) {
    for (const name of fs.readdirSync(dir)) {
      const type = ASSET_TYPES[path.extname(name)];
      if (type) files.set(name, { body: fs.readFileSync(path.join(dir, name)), type });
    }
  }
  const version = createHash('sha256')
    .update(files.get('app.js')?.body ?? '')
    .digest('hex')
    .slice(0, 12);
  const body = files.has('app.js')
    ? `<div id="app"></div><script src="/assets/app.js?v=${version}"></script>`
    : '<main style="font-family:sans-serif;padding:2rem"><h1>Sightline</h1><p>The web UI is not built yet: run <code>npm run build</code> and restart.</p></main>';
  const indexHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sightline</title>
<link rel="icon" href="/assets/favicon.svg">
${files.has('app.css') ? `<link rel="stylesheet" href="/assets/app.css?v=${version}">` : ''}
</head>
<body>${body}</body>
</html>`;
  return { indexHtml, files };
}

function serveAsset(res: ServerResponse, assets: Assets, name: string): void {
  const file = assets.files.get(name);
  if (!file) return send(res, 404, 'text/plain; charset=utf-8', `no asset ${name}\n`);
  // Names are fixed and the page asks with ?v=<hash of the bundle>, so a new build is fetched anew.
  send(res, 200, file.type, file.body, { 'cache-control': 'public, max-age=31536000, immutable' });
}
