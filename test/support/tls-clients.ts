/** Real TLS clients that nobody here wrote (curl, Debian's python3, node's https), driven from tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { patternBody } from './recording-tls-server';

export interface ClientRun {
  pid: number;
  exitCode: number;
  stdout: string;
  stderr: string;
}

export function runProcess(command: string, args: string[], env: NodeJS.ProcessEnv = process.env, input?: string): Promise<ClientRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ pid: child.pid!, exitCode: code ?? -1, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** curl POSTing one body over HTTP/1.1. */
export async function curlPost(workDir: string, caPath: string, port: number, size: number): Promise<ClientRun> {
  const bodyPath = path.join(workDir, `curl-body-${size}.bin`);
  fs.writeFileSync(bodyPath, patternBody(size, 1));
  return runProcess('curl', ['-sS', '--http1.1', '--cacert', caPath, '--data-binary', `@${bodyPath}`, '-o', '/dev/null', `https://127.0.0.1:${port}/upload`]);
}

/** Debian's python3 (it sees Debian's OpenSSL): one connection per request, sizes read from stdin, one per line. */
export const PYTHON_CLIENT = `
import http.client, ssl, sys
context = ssl.create_default_context(cafile=sys.argv[1])
print("ready", flush=True)
for line in sys.stdin:
    size = int(line)
    body = bytes(97 + ((i * 7 + 2) % 26) for i in range(size))
    connection = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[2]), context=context)
    connection.request("POST", "/upload", body=body, headers={"content-type": "application/octet-stream"})
    response = connection.getresponse()
    print(len(response.read()), flush=True)
    connection.close()
`;

/** node's https with a keep-alive agent: all requests share one TLS connection. */
export const NODE_CLIENT = `
const https = require('node:https');
const fs = require('node:fs');
const [ca, port, ...sizes] = process.argv.slice(2);
const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: fs.readFileSync(ca) });
function pattern(n, seed) { const b = Buffer.allocUnsafe(n); for (let i = 0; i < n; i++) b[i] = 97 + ((i * 7 + seed) % 26); return b; }
(async () => {
  for (const size of sizes.map(Number)) {
    const length = await new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port, method: 'POST', path: '/upload', agent, headers: { 'content-type': 'application/octet-stream', 'content-length': size } }, (res) => {
        let n = 0; res.on('data', (c) => (n += c.length)); res.on('end', () => resolve(n));
      });
      req.on('error', reject);
      req.end(pattern(size, 3));
    });
    console.log(length);
  }
  agent.destroy();
})().catch((e) => { console.error(e); process.exit(1); });
`;

/** A long-running python3 client: started before the sensor, fed sizes later. */
export class PythonClient {
  private readonly child: ChildProcess;
  private output = '';

  constructor(scriptPath: string, caPath: string, port: number) {
    fs.writeFileSync(scriptPath, PYTHON_CLIENT);
    this.child = spawn('/usr/bin/python3', [scriptPath, caPath, String(port)], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child.stdout!.on('data', (chunk) => (this.output += chunk));
  }

  get pid(): number {
    return this.child.pid!;
  }

  async waitForLines(count: number, timeoutMs = 30_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = this.output.split('\n').filter(Boolean);
      if (lines.length >= count) return lines;
      if (Date.now() > deadline) throw new Error(`python client printed ${JSON.stringify(this.output)}; expected ${count} lines`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  send(size: number): void {
    this.child.stdin!.write(`${size}\n`);
  }

  stop(): void {
    this.child.stdin!.end();
    this.child.kill();
  }
}
