/**
 * An executable that carries OpenSSL inside it, linked statically from libssl.a (as Envoy, many Rust and C++
 * services and BoringSSL users do): its SSL_* functions are in its symbol table only, not exported. The capture
 * must find them there and see its traffic, for real.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileKeyOf } from '../../sensor/capture/tls-library-discovery';
import { generateTestCertificates, type TestCertificates } from '../../sensor/demo/test-ca';
import { CaptureHarness } from '../support/capture-harness';
import { startRecordingTlsServer, type RecordingTlsServer } from '../support/recording-tls-server';

/** Prints "ready", waits for a line, then POSTs a body of argv[3] bytes over TLS and prints the response's length. */
const CLIENT_SOURCE = `
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  char line[16];
  printf("ready\\n");
  fflush(stdout);
  if (!fgets(line, sizeof line, stdin)) return 2;
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!SSL_CTX_load_verify_locations(ctx, argv[1], NULL)) return 3;
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) return 4;
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "localhost");
  if (SSL_connect(ssl) != 1) { ERR_print_errors_fp(stderr); return 5; }
  int size = atoi(argv[3]);
  char *request = malloc(size + 256);
  int head = sprintf(request, "POST /upload HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nContent-Length: %d\\r\\n\\r\\n", size);
  for (int i = 0; i < size; i++) request[head + i] = 'a' + (i * 7 + 1) % 26;
  if (SSL_write(ssl, request, head + size) != head + size) return 6;
  /* The answer: a head with a content-length, then that many bytes; the connection stays open after it. */
  size_t room = size + 4096, total = 0;
  char *response = malloc(room);
  int n;
  while (total < room && (n = SSL_read(ssl, response + total, room - total)) > 0) {
    total += n;
    char *end = memmem(response, total, "\\r\\n\\r\\n", 4);
    char *length = memmem(response, total, "content-length: ", 16);
    if (end && length && total >= (size_t)(end + 4 - response) + strtoul(length + 16, NULL, 10)) break;
  }
  printf("%zu\\n", total);
  SSL_shutdown(ssl);
  SSL_free(ssl);
  close(fd);
  return 0;
}
`;

let workDir: string;
let certs: TestCertificates;
let server: RecordingTlsServer;
let client: string;
const harness = new CaptureHarness();

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-static-openssl-'));
  certs = await generateTestCertificates(path.join(workDir, 'tls'));
  server = await startRecordingTlsServer(certs.certPath, certs.keyPath);
  fs.writeFileSync(path.join(workDir, 'client.c'), CLIENT_SOURCE);
  client = path.join(workDir, 'static-openssl-client');
  // libssl.a and libcrypto.a linked in; glibc stays shared (a fully static glibc build trips over NSS).
  execFileSync('gcc', ['-O2', '-o', client, path.join(workDir, 'client.c'), '-Wl,-Bstatic', '-lssl', '-lcrypto', '-Wl,-Bdynamic', '-ldl', '-lpthread']);
  harness.start();
}, 120_000);

afterAll(async () => {
  harness.stop();
  await server?.close();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

test('the client carries SSL_write and SSL_read in its symbol table only, and maps no libssl', () => {
  const exported = execFileSync('readelf', ['--dyn-syms', '--wide', client], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const all = execFileSync('readelf', ['--syms', '--wide', client], { encoding: 'utf8', maxBuffer: 64 << 20 });
  expect(exported).not.toMatch(/\bSSL_write\b/);
  expect(all).toMatch(/FUNC +GLOBAL +DEFAULT +\d+ SSL_write$/m);
  expect(execFileSync('ldd', [client], { encoding: 'utf8' })).not.toMatch(/libssl/);
});

test('started after the capture, it is attached through its symbol table and its exchange captured exactly', async () => {
  const size = 20_000;
  const child = spawn(client, [certs.caCertPath, String(server.port), String(size)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  let errors = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (errors += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  try {
    await harness.waitFor(() => output.startsWith('ready'), 10_000, 'the client to start');
    const fileKey = fileKeyOf(fs.statSync(client));
    await harness.waitFor(() => harness.capture.attachedFiles.some((file) => file.fileKey === fileKey), 10_000, 'probes on the static client');
    const attached = harness.capture.attachedFiles.find((file) => file.fileKey === fileKey)!;
    expect(Object.keys(attached.offsets).sort()).toEqual(['SSL_free', 'SSL_read', 'SSL_read_ex', 'SSL_set_fd', 'SSL_write', 'SSL_write_ex']);
    expect(attached.go).toBeUndefined();
    // Debian's libssl.a has the same wrappers as its libssl.so: the read and write probes sit on the internal functions.
    expect(attached.internalSites).toEqual(['SSL_write_ex', 'SSL_read_ex']);
    expect(Object.keys(attached.probeSites!).sort()).toEqual(['SSL_free', 'SSL_read_ex', 'SSL_set_fd', 'SSL_write_ex']);
    const before = server.connections.length;
    child.stdin.end('go\n');
    expect(await exited).toBe(0);
    expect(errors).toBe('');
    expect(Number(output.split('\n')[1])).toBeGreaterThan(size);
    const [recorded] = server.connections.slice(before);
    const sent = Buffer.concat(recorded.received);
    const answered = Buffer.concat(recorded.sent);
    await harness.waitFor(
      () => harness.connectionsOf(child.pid!).some((c) => c.out.equals(sent) && c.in.equals(answered)),
      15_000,
      'the static client\'s exchange',
    );
    const [captured] = harness.connectionsOf(child.pid!);
    // It hands its socket to OpenSSL (SSL_set_fd), so the peer is resolved as for a shared libssl.
    expect(captured.events[0].peer).toEqual({ address: '127.0.0.1', port: server.port });
    await harness.waitFor(() => harness.closes.some((closed) => closed.conn === captured.conn), 5_000, 'SSL_free');
  } finally {
    child.kill('SIGKILL');
  }
});
