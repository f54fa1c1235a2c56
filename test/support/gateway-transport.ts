/**
 * What a deployment gives a gateway and its sensors, made here for end-to-end tests: a CA and a gateway certificate
 * (openssl), a token directory with one client's token, and the matching sensor settings (CA file, server name,
 * token file). The sensor reaches the gateway by IP, which the certificate does not name: it verifies the gateway's
 * name instead, as a sensor behind a VPC endpoint does.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { generateTestCertificates, type TestCertificates } from '../../sensor/demo/test-ca';

/** The name in the gateway certificate, as the charts use it. */
export const GATEWAY_SERVER_NAME = 'sightline-gateway.sightline.svc';

export interface GatewayTransport {
  certificates: TestCertificates;
  /** The client the token belongs to (its file name in the gateway's token directory). */
  client: string;
  token: string;
  tokenFile: string;
  tokensDir: string;
  /** `receiver` settings of the gateway: TLS and the token directory. */
  gatewayReceiver: { tls: { certFile: string; keyFile: string }; auth: { tokensDir: string } };
  /** `exporters.otlp` settings of a sensor shipping to that gateway (the endpoint comes from --otlp-endpoint). */
  sensorOtlp: { tls: { caFile: string; serverName: string }; auth: { tokenFile: string } };
  endpoint(otlpPort: number): string;
}

export async function createGatewayTransport(dir: string, client = 'e2e-cluster'): Promise<GatewayTransport> {
  const certificates = await generateTestCertificates(path.join(dir, 'gateway-tls'), { hostNames: [GATEWAY_SERVER_NAME] });
  const token = randomBytes(24).toString('hex');
  const tokensDir = path.join(dir, 'gateway-tokens');
  fs.mkdirSync(tokensDir, { recursive: true });
  fs.writeFileSync(path.join(tokensDir, client), `${token}\n`, { mode: 0o600 });
  const tokenFile = path.join(dir, 'sensor-token');
  fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  return {
    certificates,
    client,
    token,
    tokenFile,
    tokensDir,
    gatewayReceiver: { tls: { certFile: certificates.certPath, keyFile: certificates.keyPath }, auth: { tokensDir } },
    sensorOtlp: { tls: { caFile: certificates.caCertPath, serverName: GATEWAY_SERVER_NAME }, auth: { tokenFile } },
    endpoint: (otlpPort) => `https://127.0.0.1:${otlpPort}`,
  };
}
