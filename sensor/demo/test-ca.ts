/**
 * A throwaway certificate authority and a server certificate for loopback, made with the `openssl`
 * command, for the demo's mock provider and for end-to-end tests. The CA key is deleted after signing,
 * so the CA can vouch for this one server and nothing else.
 */
import { execFile } from 'child_process';
import { chmod, mkdir, rm, writeFile } from 'fs/promises';
import { join } from 'path';
import { randomBytes } from 'crypto';

export interface TestCertificates {
  /** PEM of the CA: what clients trust (`ca` option, `NODE_EXTRA_CA_CERTS`, `SSL_CERT_FILE`). */
  caCertPath: string;
  /** PEM of the server certificate, for 127.0.0.1, ::1, localhost and any extra host names. */
  certPath: string;
  /** PEM of the server's private key (mode 0600). */
  keyPath: string;
}

export interface TestCertificateOptions {
  /** Extra DNS names for the server certificate. @default [] */
  hostNames?: string[];
  /** Validity in days. @default 30 */
  days?: number;
  /** The openssl executable. @default 'openssl' */
  openssl?: string;
}

export async function generateTestCertificates(dir: string, options: TestCertificateOptions = {}): Promise<TestCertificates> {
  const openssl = options.openssl ?? 'openssl';
  const days = String(options.days ?? 30);
  await mkdir(dir, { recursive: true });
  const path = (name: string): string => join(dir, name);
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const altNames = ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1', ...(options.hostNames ?? []).map((name) => `DNS:${name}`)];

  await run(openssl, [
    'req', '-x509', ...ecKey, '-keyout', path('ca.key'), '-out', path('ca.pem'), '-days', days,
    '-subj', '/CN=Sightline demo CA (throwaway)',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await run(openssl, ['req', ...ecKey, '-keyout', path('server.key'), '-out', path('server.csr'), '-subj', '/CN=localhost']);
  await writeFile(
    path('server.ext'),
    [
      `subjectAltName=${altNames.join(',')}`,
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      '',
    ].join('\n'),
  );
  await run(openssl, [
    'x509', '-req', '-in', path('server.csr'), '-CA', path('ca.pem'), '-CAkey', path('ca.key'),
    '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', days, '-sha256',
    '-extfile', path('server.ext'), '-out', path('server.pem'),
  ]);
  await Promise.all([rm(path('ca.key')), rm(path('server.csr')), rm(path('server.ext'))]);
  await chmod(path('server.key'), 0o600);
  return { caCertPath: path('ca.pem'), certPath: path('server.pem'), keyPath: path('server.key') };
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 30_000 }, (error, _stdout, stderr) => {
      if (!error) return resolve();
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(
          new Error(`demo: the '${command}' command was not found; install OpenSSL (e.g. 'apt-get install openssl') to create the demo TLS certificate`),
        );
      }
      reject(new Error(`demo: '${command} ${args[0]}' failed while creating the demo TLS certificate: ${String(stderr).trim() || error.message}`));
    });
  });
}
