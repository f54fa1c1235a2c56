/**
 * Scale-in: a gateway told to stop (SIGTERM from Kubernetes) stops taking spans, reports not-ready so the load
 * balancer moves sensors elsewhere, and keeps delivering its spool for up to exporters.drainSeconds. What a sink still
 * refuses stays on the spool volume, and the next gateway started on that volume sends it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '../../sensor/common/logger';
import { parseConfig } from '../../sensor/config/load-config';
import { DiskSpool } from '../../sensor/exporters/spool';
import { startGateway, type RunningGateway } from '../../sensor/runtime/gateway-runtime';
import { OtlpSinkServer } from '../exporters/otlp-sink-server';

jest.setTimeout(30_000);

let dir: string;
let sink: OtlpSinkServer;
const running: RunningGateway[] = [];

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-drain-'));
  sink = new OtlpSinkServer();
  await sink.start();
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((gateway) => gateway.stop().catch(() => undefined)));
  await sink.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function gateway(drainSeconds: number): Promise<RunningGateway> {
  const config = parseConfig({
    receiver: { host: '127.0.0.1', port: 0 },
    server: { host: '127.0.0.1', httpPort: 0 },
    exporters: {
      // The OTLP exporter forwards what the gateway received; its spool is the one under test.
      otlp: { enabled: true, endpoint: sink.url, timeoutMs: 1000 },
      spool: { dir: path.join(dir, 'spool') },
      batching: { maxDelayMs: 50 },
      retry: { initialDelayMs: 50, maxDelayMs: 200 },
      drainSeconds,
    },
  });
  const started = await startGateway(config, silentLogger());
  running.push(started);
  return started;
}

async function sendCall(otlpPort: number, spanId: string): Promise<void> {
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const span = {
    traceId: '5b8efff798038103d269b633813fc60c', spanId, name: 'chat gpt-4o', kind: 3,
    startTimeUnixNano: String(nowNs - 400_000_000n), endTimeUnixNano: String(nowNs),
    attributes: [
      { key: 'gen_ai.provider.name', value: { stringValue: 'openai' } },
      { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
      { key: 'gen_ai.request.model', value: { stringValue: 'gpt-4o' } },
    ],
  };
  const reply = await fetch(`http://127.0.0.1:${otlpPort}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ spans: [span] }] }] }),
  });
  expect(reply.status).toBe(200); // acknowledged: on disk in the gateway's spool
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const deliveredSpanIds = () => sink.requests.flatMap((request) => request.resourceSpans.flatMap((resource) => resource.spans.map((span) => span.spanId)));

/** Batches a gateway started on this spool now would send: the spool directory read by a fresh DiskSpool. */
function spooledItems(): number {
  const spool = new DiskSpool({ dir: path.join(dir, 'spool', 'otlp'), maxBytes: 1 << 30 });
  try {
    return spool.peekRun(Infinity).reduce((sum, batch) => sum + batch.itemCount, 0);
  } finally {
    spool.close();
  }
}

test('on stop it turns not-ready and delivers its spool to a sink that comes back within drainSeconds', async () => {
  sink.status = 503;
  const first = await gateway(20);
  await sendCall(first.otlpPort, 'eee19b7ec3c1b101');
  await sendCall(first.otlpPort, 'eee19b7ec3c1b102');
  await sleep(300);
  expect(deliveredSpanIds()).toEqual([]);

  const stopping = first.stop();
  await sleep(100);
  // Draining: the receiver is closed and /readyz fails, so the NLB health check takes the pod out of rotation.
  expect((await fetch(`http://127.0.0.1:${first.healthPort}/readyz`)).status).toBe(503);
  await expect(fetch(`http://127.0.0.1:${first.otlpPort}/v1/traces`, { method: 'POST', body: '{}' })).rejects.toThrow();
  // Back after six seconds: longer than a stop waited before drainSeconds existed.
  await sleep(6_000);
  sink.status = 200;
  const startedMs = Date.now();
  await stopping;
  expect(Date.now() - startedMs).toBeLessThan(5_000);
  expect(deliveredSpanIds().sort()).toEqual(['eee19b7ec3c1b101', 'eee19b7ec3c1b102']);
  expect(spooledItems()).toBe(0);
});

test('a sink down past drainSeconds: stop returns on time, the spans stay on the volume, and the next gateway on it sends them', async () => {
  sink.status = 503;
  const first = await gateway(1);
  await sendCall(first.otlpPort, 'eee19b7ec3c1b201');
  const startedMs = Date.now();
  await first.stop();
  const stopMs = Date.now() - startedMs;
  expect(stopMs).toBeGreaterThanOrEqual(900);
  expect(stopMs).toBeLessThan(3_000);
  expect(deliveredSpanIds()).toEqual([]);
  expect(spooledItems()).toBe(1);

  sink.status = 200;
  await gateway(1); // a replacement pod mounting the same volume
  const deadline = Date.now() + 10_000;
  while (deliveredSpanIds().length === 0 && Date.now() < deadline) await sleep(100);
  expect(deliveredSpanIds()).toEqual(['eee19b7ec3c1b201']);
});
