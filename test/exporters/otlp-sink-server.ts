/** A loopback OTLP/HTTP endpoint for tests: records decoded requests, can be stopped and restarted on the same port. */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeExportTraceServiceRequest, type DecodedResourceSpans } from './otlp-protobuf-decoder';

export class OtlpSinkServer {
  readonly requests: Array<{ path: string; contentType: string; headers: http.IncomingHttpHeaders; body: Buffer; resourceSpans: DecodedResourceSpans[] }> = [];
  private server: http.Server | undefined;
  port = 0;
  /** Status to answer with; 200 accepts. */
  status = 200;

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        if (this.status === 200) {
          this.requests.push({
            path: req.url ?? '',
            contentType: req.headers['content-type'] ?? '',
            headers: req.headers,
            body: Buffer.concat(chunks),
            resourceSpans: decodeExportTraceServiceRequest(Buffer.concat(chunks)),
          });
        }
        res.writeHead(this.status, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  spanNames(): string[] {
    return this.requests.flatMap((r) => r.resourceSpans.flatMap((rs) => rs.spans.map((s) => s.name)));
  }
}
