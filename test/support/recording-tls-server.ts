/**
 * An HTTP/1.1-over-TLS server on loopback that records, per connection, exactly the bytes it received and sent,
 * so a test can compare them with what the sensor captured on the client side.
 * Each response body has the request body's length, so large uploads also exercise large reads.
 */
import * as tls from 'node:tls';
import * as fs from 'node:fs';
import type { AddressInfo } from 'node:net';

export interface RecordedConnection {
  received: Buffer[];
  sent: Buffer[];
  /** Each request as received (head and body) and the response sent to it, in order. */
  exchanges: Array<{ request: Buffer; response: Buffer }>;
}

export interface RecordingTlsServer {
  port: number;
  connections: RecordedConnection[];
  close(): Promise<void>;
}

/** A deterministic body pattern whose bytes differ from position to position. */
export function patternBody(length: number, seed = 0): Buffer {
  const body = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) body[i] = 97 + ((i * 7 + seed) % 26);
  return body;
}

export async function startRecordingTlsServer(certPath: string, keyPath: string, host = '127.0.0.1'): Promise<RecordingTlsServer> {
  const connections: RecordedConnection[] = [];
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ cert: fs.readFileSync(certPath), key: fs.readFileSync(keyPath), ALPNProtocols: ['http/1.1'] }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const record: RecordedConnection = { received: [], sent: [], exchanges: [] };
    connections.push(record);
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      record.received.push(chunk);
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const headEnd = pending.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const head = pending.subarray(0, headEnd).toString('latin1');
        const lengthMatch = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        const bodyLength = lengthMatch ? Number(lengthMatch[1]) : 0;
        if (pending.length < headEnd + 4 + bodyLength) return;
        const request = Buffer.from(pending.subarray(0, headEnd + 4 + bodyLength));
        pending = pending.subarray(headEnd + 4 + bodyLength);
        const body = patternBody(Math.max(bodyLength, 16), bodyLength % 26);
        const response = Buffer.concat([
          Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: ${body.length}\r\n\r\n`, 'latin1'),
          body,
        ]);
        record.sent.push(response);
        record.exchanges.push({ request, response });
        socket.write(response);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
