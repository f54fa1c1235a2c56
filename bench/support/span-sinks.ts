/** Where the benchmarked sensor's spans land, counted there: what reached the sink, not what the sensor meant to send. */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { decodeTraceRequest } from '../../sensor/receiver/otlp-codec';

/**
 * An OTLP/HTTP endpoint standing in for the gateway: accepts protobuf requests and counts their spans. Over TLS with
 * a bearer token when given them, as the gateway is reached from a node.
 *
 * Requests are decoded when the count is read, not as they arrive: the sink shares the machine with the workload
 * being measured, and decoding every span while it runs took ~90 µs of CPU per call from the client and server
 * (the gateway runs on other nodes). The bench reads the count before and after a measured side, so every request
 * is still fully decoded, just outside the measured seconds.
 */
export class CountingOtlpSink {
  private decoded = 0;
  private undecoded: Buffer[] = [];
  /** Requests that did not decode as an OTLP protobuf ExportTraceServiceRequest. */
  malformedRequests = 0;
  private server?: http.Server;

  get spans(): number {
    const bodies = this.undecoded;
    this.undecoded = [];
    for (const body of bodies) {
      try {
        this.decoded += decodeTraceRequest(body, 'protobuf').spans.length;
      } catch {
        this.malformedRequests++;
      }
    }
    return this.decoded;
  }

  async start(secure?: { certPath: string; keyPath: string; token: string }): Promise<string> {
    const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (secure && req.headers.authorization !== `Bearer ${secure.token}`) {
        res.writeHead(401).end();
        req.resume();
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        this.undecoded.push(Buffer.concat(chunks));
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    };
    this.server = secure ? https.createServer({ cert: fs.readFileSync(secure.certPath), key: fs.readFileSync(secure.keyPath) }, handle) : http.createServer(handle);
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `${secure ? 'https' : 'http'}://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** Spans in an OTLP/JSON lines file (the sensor's `--otlp-file`), complete lines only: the sensor may be mid-write. */
export function spansInFile(file: string): number {
  if (!fs.existsSync(file)) return 0;
  let spans = 0;
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines.pop(); // after the last newline: empty, or a line still being written
  for (const line of lines) {
    if (!line) continue;
    for (const resource of JSON.parse(line).resourceSpans ?? []) for (const scope of resource.scopeSpans ?? []) spans += (scope.spans ?? []).length;
  }
  return spans;
}

/** Polls `count` until it reaches `expected` or stops growing for `quietMs`. */
export async function waitForCount(count: () => number | Promise<number>, expected: number, quietMs = 1500, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const now = await count();
    if (now >= expected || Date.now() > deadline) return now;
    if (now !== last) {
      last = now;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > quietMs) {
      return now;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
