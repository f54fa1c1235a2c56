import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { CallStore } from '../../sensor/store/call-store';
import type { CallStoreReader } from '../../sensor/store/store-client';
import { createUiServer, csvLine, type UiServer } from '../../sensor/ui/ui-server';
import { assistant, callSpan, user } from '../store/call-fixtures';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let dir: string;
let store: CallStore;
let server: http.Server;
let port: number;
let ui: UiServer;

/** The store's methods as the store thread's client offers them: promises. */
function reader(target: CallStore): CallStoreReader {
  return new Proxy({} as CallStoreReader, {
    get: (_object, name: string) => async (...args: unknown[]) => (target[name as keyof CallStore] as (...a: unknown[]) => unknown).apply(target, args),
  });
}

async function start(options: { accessToken?: string } = {}): Promise<void> {
  ui = createUiServer({ store: reader(store), accessToken: options.accessToken, assetsDir: path.join(dir, 'assets') });
  server = http.createServer((req, res) => ui.handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
}

function request(pathname: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: pathname, method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-ui-'));
  fs.mkdirSync(path.join(dir, 'assets'));
  fs.writeFileSync(path.join(dir, 'assets', 'app.js'), 'console.log("ui")');
  fs.writeFileSync(path.join(dir, 'assets', 'app.css'), 'body{}');
  store = CallStore.open({ file: path.join(dir, 'calls.sqlite'), maxBytes: 64 << 20, maxAgeMs: 86_400_000 });
  const now = Date.now();
  store.insert([
    { span: callSpan({ input: [user('=HYPERLINK("http://x") tell me about "quotes", commas')], output: [assistant('ok')], startMs: now - 2000, durationMs: 100 }) },
    { span: callSpan({ input: [user('slow one about volcanoes')], output: [assistant('lava')], startMs: now - 1000, durationMs: 2500, model: 'o3-mini' }) },
  ]);
});

afterEach(async () => {
  ui?.close();
  await new Promise((resolve) => server?.close(resolve));
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('web UI server', () => {
  test('lists, filters, searches and opens calls; pages are the app; bad input is a 400', async () => {
    await start();
    const all = JSON.parse((await request('/api/calls')).body);
    expect(all.calls.map((call: { model: string }) => call.model)).toEqual(['o3-mini', 'gpt-4o-mini']);
    expect(JSON.parse((await request('/api/calls?minDurationMs=1000')).body).calls).toHaveLength(1);
    expect(JSON.parse((await request('/api/calls?q=volcanoes')).body).calls[0].model).toBe('o3-mini');
    const one = await request('/api/calls/2');
    expect(JSON.parse(one.body).span.attributes['gen_ai.request.model']).toBe('o3-mini');
    expect((await request('/api/calls/99')).status).toBe(404);
    const bad = await request('/api/calls?minDurationMs=fast');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error).toMatch(/minDurationMs must be a number/);
    expect((await request('/api/calls?status=maybe')).status).toBe(400);

    const page = await request('/calls/2');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toMatch(/<script src="\/assets\/app\.js\?v=[0-9a-f]{12}"><\/script>/);
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    const script = await request('/assets/app.js');
    expect(script.body).toBe('console.log("ui")');
    expect(script.headers['cache-control']).toContain('immutable');
  });

  test('exports the filtered list as JSONL and as CSV that a spreadsheet reads as text', async () => {
    await start();
    const jsonl = await request('/api/calls.jsonl?minDurationMs=1000');
    expect(jsonl.headers['content-disposition']).toMatch(/attachment; filename="sightline-calls-.*\.jsonl"/);
    const lines = jsonl.body.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ model: 'o3-mini', span: { attributes: { 'gen_ai.request.model': 'o3-mini' } } });

    const csv = await request('/api/calls.csv');
    const rows = csv.body.trim().split('\r\n');
    expect(rows[0]).toBe('id,start_time,duration_ms,provider,operation,request_model,response_model,status,http_status,error_type,input_tokens,output_tokens,cost_usd,time_to_first_chunk_ms,process,pid,workload,conversation_id,turn,trace_id,span_id,prompt_preview');
    expect(rows).toHaveLength(3);
    // The formula is defused and the quotes and comma survive quoting.
    expect(rows[2]).toContain(`"'=HYPERLINK(""http://x"") tell me about ""quotes"", commas"`);
    expect((await request('/api/calls.csv?limit=1')).body.trim().split('\r\n')).toHaveLength(2);
  });

  test('without a token it answers loopback host names only (no DNS rebinding)', async () => {
    await start();
    expect((await request('/api/calls', { headers: { host: 'localhost:9464' } })).status).toBe(200);
    expect((await request('/api/calls', { headers: { host: '[::1]:9464' } })).status).toBe(200);
    const rebound = await request('/api/calls', { headers: { host: 'attacker.example' } });
    expect(rebound.status).toBe(403);
    expect(rebound.body).toMatch(/answers only as localhost/);
  });

  test('with a token every request needs it: once in the address, then as a cookie, or as a bearer token', async () => {
    const token = 'a-long-enough-secret-token-1234';
    await start({ accessToken: token });
    const denied = await request('/api/calls', { headers: { host: '192.0.2.10:9464' } });
    expect(denied.status).toBe(401);
    expect(denied.body).toMatch(/access token required/);
    expect((await request('/calls?token=wrong')).status).toBe(401);
    const login = await request(`/calls?q=x&token=${token}`);
    expect(login.status).toBe(303);
    expect(login.headers.location).toBe('/calls?q=x');
    const cookie = String(login.headers['set-cookie']).split(';')[0];
    expect(login.headers['set-cookie']![0]).toMatch(/HttpOnly; SameSite=Strict/);
    expect((await request('/api/calls', { headers: { cookie } })).status).toBe(200);
    expect((await request('/api/calls', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await request('/api/calls', { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
  });

  test('alert rules change only through JSON from the UI itself', async () => {
    await start();
    const json = { 'content-type': 'application/json' };
    const added = await request('/api/alerts', { method: 'POST', headers: json, body: JSON.stringify({ kind: 'error_rate', threshold: 10 }) });
    expect(added.status).toBe(201);
    const rule = JSON.parse(added.body);
    expect(rule).toMatchObject({ kind: 'error_rate', threshold: 10, windowMinutes: 5 });
    expect((await request('/api/alerts', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"kind":"duration","threshold":5}' })).status).toBe(415);
    const foreign = await request('/api/alerts', { method: 'POST', headers: { ...json, origin: 'https://evil.example' }, body: '{"kind":"duration","threshold":5}' });
    expect(foreign.status).toBe(403);
    const invalid = await request('/api/alerts', { method: 'POST', headers: json, body: '{"kind":"vibes","threshold":5}' });
    expect(invalid.status).toBe(400);
    expect(JSON.parse(invalid.body).error).toMatch(/kind must be one of duration, error_rate, tokens_per_hour/);
    expect((await request(`/api/alerts/${rule.id}`, { method: 'DELETE', headers: { origin: `http://127.0.0.1:${port}` } })).status).toBe(200);
    const { rules, firings } = JSON.parse((await request('/api/alerts')).body);
    expect(rules.map((entry: { kind: string }) => entry.kind)).toEqual(['duration']);
    // The slow call of beforeEach fired the default rule.
    expect(firings).toMatchObject([{ ruleName: 'Call over 1,000 ms', callId: 2 }]);
  });

  test('the event stream tells open pages about new calls', async () => {
    await start();
    const received = await new Promise<string>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/api/events', agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          if (text.includes('"lastId":7')) {
            resolve(text);
            req.destroy();
          }
        });
        ui.notifyCalls(5);
        ui.notifyCalls(7);
      });
      req.on('error', reject);
    });
    expect(received).toMatch(/^retry: 2000\nevent: calls\ndata: \{"lastId":0\}\n\n/);
    // Two notifications close together arrive as one event, with the newest id.
    expect(received).not.toContain('"lastId":5');
  });

  test('csvLine keeps numbers plain and empties absent values', () => {
    const line = csvLine({ ...JSON.parse(JSON.stringify(store.getCall(1))), costUsd: null });
    expect(line.split(',')[12]).toBe('');
    expect(line).toMatch(/^1,\d{4}-\d\d-\d\dT/);
  });
});
