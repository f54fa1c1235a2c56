/**
 * /readyz, /healthz and Prometheus /metrics on one small HTTP server, for probes and scrapers; in local mode the
 * web UI answers every other path (setFallback).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HealthServer {
  port: number;
  setReady(ready: boolean): void;
  /** Answers the paths this server does not own (the web UI). */
  setFallback(handler: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | undefined): void;
  close(): Promise<void>;
}

export async function startHealthServer(host: string, port: number, registry: Registry, beforeScrape?: () => void): Promise<HealthServer> {
  let ready = false;
  let fallback: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | undefined;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const ownPath = path === '/healthz' || path === '/readyz' || path === '/metrics';
    if (!ownPath && fallback) {
      fallback(req, res);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'starting: probes not attached yet\n');
    } else if (path === '/metrics') {
      try {
        beforeScrape?.();
      } catch (error) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics: ${(error as Error).message}\n`);
        return;
      }
      registry
        .metrics()
        .then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text))
        .catch((error: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics: ${error.message}\n`));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /readyz, /healthz or /metrics\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new Error(`port ${port} is already in use: choose another with --http-port`) : error),
    );
    server.listen(port, host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    setReady: (value) => (ready = value),
    setFallback: (handler) => (fallback = handler),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
