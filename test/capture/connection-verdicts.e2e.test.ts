/**
 * Connection verdicts in the kernel, for real: the capture stage loaded with verdicts on, real node clients and
 * servers on loopback. What reaches user space is exactly the LLM exchanges; everything else is counted, not sent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { generateTestCertificates, type TestCertificates } from '../../sensor/demo/test-ca';
import { llmPathSegments } from '../../sensor/provider/registry';
import * as tls from 'node:tls';
import { enableBpfRunStats, programRuns } from '../support/bpf-program-stats';
import { TLS_RING_DRAIN_INTERVAL_MS } from '../../sensor/capture/tls-capture';
import { CaptureHarness } from '../support/capture-harness';
import { startRecordingTlsServer, type RecordingTlsServer } from '../support/recording-tls-server';
import { runProcess } from '../support/tls-clients';

let workDir: string;
let certs: TestCertificates;
let server: RecordingTlsServer;
let harness: CaptureHarness;

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-verdicts-'));
  certs = await generateTestCertificates(path.join(workDir, 'tls'));
  server = await startRecordingTlsServer(certs.certPath, certs.keyPath);
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(workDir, { recursive: true, force: true });
});

/** One keep-alive connection, requests in order: [method, path, body bytes]. */
const KEEP_ALIVE_CLIENT = `
const https = require('node:https');
const fs = require('node:fs');
const [ca, port, plan] = process.argv.slice(2);
const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: fs.readFileSync(ca) });
(async () => {
  for (const [method, path, size] of JSON.parse(plan)) {
    await new Promise((resolve, reject) => {
      const body = Buffer.alloc(size, 'b');
      const req = https.request({ host: '127.0.0.1', port, method, path, agent, headers: size ? { 'content-type': 'application/json', 'content-length': size } : {} }, (res) => {
        res.on('data', () => {}); res.on('end', resolve);
      });
      req.on('error', reject);
      req.end(size ? body : undefined);
    });
  }
  agent.destroy();
})().catch((e) => { console.error(e); process.exit(1); });
`;

function counters() {
  return harness.capture.counters();
}

/** An HTTP/2 client that makes one request per line of stdin (`METHOD PATH`) on one connection, and says `done`. */
const H2_CLIENT = `
const http2 = require('node:http2');
const fs = require('node:fs');
const [ca, port] = process.argv.slice(2);
const session = http2.connect('https://127.0.0.1:' + port, { ca: fs.readFileSync(ca) });
let queue = Promise.resolve();
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const [method, path] = line.split(' ');
  queue = queue.then(() => new Promise((resolve) => {
    const req = session.request({ ':method': method, ':path': path, 'content-type': 'application/json' });
    req.on('data', () => {}); req.on('end', () => { console.log('done'); resolve(); });
    req.end(method === 'POST' ? JSON.stringify({ model: 'gpt-4o', messages: [] }) : undefined);
  }));
}).on('close', () => queue.then(() => session.close()));
`;


// Every test runs with the OpenSSL probes as uprobe sessions (this kernel has them) and as the entry and return
// probes that kernels before 6.13 get: the verdicts must hold alike.
describe.each([
  ['uprobe sessions', true],
  ['entry and return probes', false],
])('OpenSSL probes as %s', (_mode, uprobeSessions) => {
  beforeAll(() => {
    harness = new CaptureHarness({ judgeConnections: true, llmPathSegments, uprobeSessions });
    harness.start();
    expect(harness.capture.probeMode).toBe(uprobeSessions ? 'session' : 'entry-return');
  });

  afterAll(() => harness?.stop());

  test('HTTP/1.1 keep-alive: only the LLM exchanges reach user space, each starting a fresh stream', async () => {
    const script = path.join(workDir, 'keep-alive.js');
    fs.writeFileSync(script, KEEP_ALIVE_CLIENT);
    const plan: Array<[string, string, number]> = [
      ['GET', '/v1/models', 0],
      ['POST', '/v1/chat/completions', 900],
      ['POST', '/api/orders', 1500],
      ['POST', '/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21', 700],
      ['GET', '/healthz', 0],
      ['POST', '/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke/', 500],
      ['POST', '/v1/embeddings', 300],
    ];
    const before = counters();
    const connectionsBefore = server.connections.length;
    const run = await runProcess(process.execPath, [script, certs.caCertPath, String(server.port), JSON.stringify(plan)]);
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);

    const recorded = server.connections.slice(connectionsBefore);
    expect(recorded).toHaveLength(1);
    const exchanges = recorded[0].exchanges;
    expect(exchanges.map((e) => e.request.toString('latin1').split(' ').slice(0, 2).join(' '))).toEqual(plan.map(([method, p]) => `${method} ${p}`));
    const llm = [1, 3, 5, 6].map((index) => exchanges[index]);
    const wantOut = Buffer.concat(llm.map((e) => e.request));
    const wantIn = Buffer.concat(llm.map((e) => e.response));
    await harness.waitFor(() => harness.connectionsOf(run.pid).some((c) => c.out.length >= wantOut.length && c.in.length >= wantIn.length), 10_000, 'the LLM exchanges');

    const [connection, ...others] = harness.connectionsOf(run.pid);
    expect(others).toHaveLength(0);
    expect(connection.out.equals(wantOut)).toBe(true);
    expect(connection.in.equals(wantIn)).toBe(true);
    // An LLM request after skipped bytes (the request before it was muted) starts a stream; one right after another
    // LLM exchange continues the stream it is on.
    const starts = connection.events.filter((e) => e.streamStart);
    const requestLine = (bytes: Buffer) => bytes.toString('latin1').split(' ').slice(0, 2).join(' ');
    expect(starts.map((e) => requestLine(e.data))).toEqual([1, 3, 5].map((index) => requestLine(exchanges[index].request)));

    const after = counters();
    // A skipped request's bytes are counted as written; its response's only where a read's return is probed (with
    // uprobe sessions a read between LLM requests asks for no return, so its size is not known).
    const skippedExchanges = exchanges.filter((_, index) => ![1, 3, 5, 6].includes(index));
    const skipped = skippedExchanges.reduce((sum, e) => sum + e.request.length + (uprobeSessions ? 0 : e.response.length), 0);
    expect(after.mutedBytes - before.mutedBytes).toBeGreaterThanOrEqual(skipped);
    expect(after.verdictsWatch - before.verdictsWatch).toBeGreaterThanOrEqual(3);
    expect(after.verdictsFollow - before.verdictsFollow).toBeGreaterThanOrEqual(3);
  });

  test('a traced server never has its side sent, and a connection that is not HTTP is muted at its first write', async () => {
    const serverScript = path.join(workDir, 'server.js');
    fs.writeFileSync(
      serverScript,
      `const https = require('node:https'); const fs = require('node:fs');
       https.createServer({ cert: fs.readFileSync(process.argv[2]), key: fs.readFileSync(process.argv[3]) }, (req, res) => {
         req.on('data', () => {}); req.on('end', () => res.end(JSON.stringify({ id: 'chatcmpl-1', choices: [] })));
       }).listen(0, '127.0.0.1', function () { console.log(this.address().port); });`,
    );
    const child: ChildProcess = spawn(process.execPath, [serverScript, certs.certPath, certs.keyPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<string>((resolve) => child.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())));
      const before = counters();
      const script = path.join(workDir, 'keep-alive.js');
      fs.writeFileSync(script, KEEP_ALIVE_CLIENT);
      const run = await runProcess(process.execPath, [script, certs.caCertPath, port, JSON.stringify([['POST', '/v1/chat/completions', 200]])]);
      expect(run.exitCode).toBe(0);
      await harness.waitFor(() => harness.connectionsOf(run.pid).some((c) => c.in.length > 0), 10_000, 'the client side of the call');
      expect(harness.events.filter((e) => e.pid === child.pid)).toHaveLength(0);

      const raw = await runProcess(process.execPath, [
        '-e',
        `const tls = require('node:tls'); const s = tls.connect({ host: '127.0.0.1', port: ${port}, ca: require('fs').readFileSync(${JSON.stringify(certs.caCertPath)}) }, () => { s.write('\\x16binary protocol, not HTTP\\n'.repeat(50)); setTimeout(() => s.end(), 50); }); s.on('error', () => {}); s.on('close', () => process.exit(0));`,
      ]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(harness.events.filter((e) => e.pid === raw.pid)).toHaveLength(0);
      const after = counters();
      // The server's side of both connections and the raw client: each muted once.
      expect(after.verdictsMute - before.verdictsMute).toBeGreaterThanOrEqual(3);
    } finally {
      child.kill();
    }
  });


  test('HTTP/2: bytes are sent while the verdict is open; after a mute nothing more, after a follow everything', async () => {
    const h2 = http2.createSecureServer({ cert: fs.readFileSync(certs.certPath), key: fs.readFileSync(certs.keyPath) }, (req, res) => {
      req.on('data', () => undefined);
      req.on('end', () => res.end(`answer to ${req.url}`));
    });
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    const port = (h2.address() as AddressInfo).port;
    const script = path.join(workDir, 'h2-client.js');
    fs.writeFileSync(script, H2_CLIENT);
    const clients: ChildProcess[] = [];
    const start = () => {
      const child = spawn(process.execPath, [script, certs.caCertPath, String(port)], { stdio: ['pipe', 'pipe', 'inherit'] });
      clients.push(child);
      let output = '';
      child.stdout!.on('data', (chunk) => (output += chunk));
      const request = async (line: string) => {
        const done = output.split('\n').filter(Boolean).length;
        child.stdin!.write(`${line}\n`);
        const deadline = Date.now() + 10_000;
        while (output.split('\n').filter(Boolean).length <= done) {
          if (Date.now() > deadline) throw new Error(`h2 client did not answer ${line}`);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      };
      return { child, request };
    };
    try {
      for (const verdict of ['mute', 'follow'] as const) {
        const client = start();
        await client.request('GET /v1/models');
        await harness.waitFor(() => harness.connectionsOf(client.child.pid!).some((c) => c.in.includes('answer to /v1/models')), 10_000, 'the pending HTTP/2 connection');
        const [connection] = harness.connectionsOf(client.child.pid!);
        expect(connection.out.subarray(0, 24).toString('latin1')).toBe('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
        harness.capture.setVerdict(connection.events[0].connectionId, verdict);
        const bytesBefore = connection.in.length + connection.out.length;
        await client.request('POST /v1/chat/completions');
        await client.request('GET /after-the-verdict');
        if (verdict === 'mute') {
          // Records of a judged connection wait for the ring's drain timer: wait past two of them.
          await new Promise((resolve) => setTimeout(resolve, 2 * TLS_RING_DRAIN_INTERVAL_MS + 100));
          const [after] = harness.connectionsOf(client.child.pid!);
          expect(after.in.length + after.out.length).toBe(bytesBefore);
        } else {
          await harness.waitFor(() => harness.connectionsOf(client.child.pid!).some((c) => c.in.includes('answer to /after-the-verdict')), 10_000, 'the followed connection after its verdict');
        }
        client.child.stdin!.end();
      }
      expect(harness.capture.counters()).toMatchObject({ userVerdictsMute: expect.any(Number), userVerdictsFollow: expect.any(Number) });
      expect(harness.capture.counters().userVerdictsMute).toBeGreaterThanOrEqual(1);
      expect(harness.capture.counters().userVerdictsFollow).toBeGreaterThanOrEqual(1);
    } finally {
      for (const child of clients) child.kill();
      h2.close();
    }
  });

  test('HTTP/1.1 between LLM requests: with sessions a read runs no return program (kernel BPF statistics)', async () => {
    const requests = 12;
    const responseBytes = 256 * 1024;
    // Large answers to small GETs: the client's reads (many per answer) outnumber the server's. The server runs in
    // this process, the harness's own, whose calls the probes pass over at their entry.
    const tlsServer = tls.createServer({ cert: fs.readFileSync(certs.certPath), key: fs.readFileSync(certs.keyPath) }, (socket) => {
      let pending = '';
      socket.on('data', (chunk: Buffer) => {
        pending += chunk.toString('latin1');
        for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
          pending = pending.slice(end + 4);
          socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: ${responseBytes}\r\n\r\n`);
          socket.write(Buffer.alloc(responseBytes, 'r'));
        }
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    const { port } = tlsServer.address() as AddressInfo;
    const script = path.join(workDir, 'keep-alive-gets.js');
    fs.writeFileSync(script, KEEP_ALIVE_CLIENT);
    const plan = Array.from({ length: requests }, () => ['GET', '/api/export', 0]);
    const names = uprobeSessions ? ['ssl_read_session'] : ['ssl_read_entry', 'ssl_read_return'];
    const restoreStats = enableBpfRunStats();
    try {
      const before = programRuns(names);
      const mutedBefore = counters().mutedCalls;
      const run = await runProcess(process.execPath, [script, certs.caCertPath, String(port), JSON.stringify(plan)]);
      expect(run.stderr).toBe('');
      expect(run.exitCode).toBe(0);
      const after = programRuns(names);
      const muted = counters().mutedCalls - mutedBefore;
      expect(harness.events.filter((e) => e.pid === run.pid)).toHaveLength(0);
      // At least one read per 16 KiB record of every answer, each a muted call.
      expect(muted).toBeGreaterThanOrEqual(requests * (responseBytes / 16384));
      if (uprobeSessions) {
        // Every muted call of the client (its reads and its GETs) is counted at its entry, so the program's runs are
        // those calls plus the server's few reads per request: no second run at a read's return.
        expect(after.ssl_read_session - before.ssl_read_session).toBeLessThanOrEqual(muted + 4 * requests);
      } else {
        expect(after.ssl_read_return - before.ssl_read_return).toBeGreaterThanOrEqual(requests * (responseBytes / 16384));
      }
    } finally {
      restoreStats();
      await new Promise((resolve) => tlsServer.close(resolve));
    }
  });

  test('a muted connection pays the entry probe only: with sessions its calls run no return program (kernel BPF statistics)', async () => {
    const writes = 400;
    const tlsServer = tls.createServer({ cert: fs.readFileSync(certs.certPath), key: fs.readFileSync(certs.keyPath) }, (socket) => {
      socket.on('data', () => {});
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    const { port } = tlsServer.address() as AddressInfo;
    const client = `const tls = require('node:tls');
      const s = tls.connect({ host: '127.0.0.1', port: ${port}, ca: require('fs').readFileSync(${JSON.stringify(certs.caCertPath)}) }, async () => {
        for (let i = 0; i < ${writes}; i++) await new Promise((resolve) => s.write('\\x16not HTTP, record ' + i, resolve));
        s.end();
      });
      s.on('error', (e) => { console.error(e); process.exit(1); }); s.on('close', () => process.exit(0));`;
    const names = uprobeSessions ? ['ssl_write_session'] : ['ssl_write_entry', 'ssl_write_return'];
    const restoreStats = enableBpfRunStats();
    try {
      const before = programRuns(names);
      const mutedBefore = counters().mutedCalls;
      const run = await runProcess(process.execPath, ['-e', client]);
      expect(run.stderr).toBe('');
      expect(run.exitCode).toBe(0);
      const after = programRuns(names);
      const runs = Object.fromEntries(names.map((name) => [name, after[name] - before[name]]));
      expect(harness.events.filter((e) => e.pid === run.pid)).toHaveLength(0);
      expect(counters().mutedCalls - mutedBefore).toBeGreaterThanOrEqual(writes - 1);
      if (uprobeSessions) {
        // One run per write at its entry (a few more for other traffic on the host), not two.
        expect(runs.ssl_write_session).toBeGreaterThanOrEqual(writes);
        expect(runs.ssl_write_session).toBeLessThan(writes * 1.25);
      } else {
        expect(runs.ssl_write_entry).toBeGreaterThanOrEqual(writes);
        expect(runs.ssl_write_return).toBeGreaterThanOrEqual(writes);
      }
    } finally {
      restoreStats();
      await new Promise((resolve) => tlsServer.close(resolve));
    }
  });
});
