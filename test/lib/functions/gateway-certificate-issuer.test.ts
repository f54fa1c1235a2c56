/**
 * The certificate the issuer writes is one a sensor accepts: parsed and checked by Node's own X.509 code, then served
 * by a real TLS server that a client trusting only the CA connects to under the gateway's name.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as tls from 'node:tls';
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { handleIssuerEvent, type IssuerEvent } from '../../../lib/functions/gateway-certificate-issuer';

const ARNS = {
  CaSecretArn: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:GatewayCa-aaaaaa',
  CaKeySecretArn: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:GatewayCaKey-bbbbbb',
  TlsSecretArn: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:GatewayTls-cccccc',
};
const NAMES = ['sightline-gateway.sightline.svc', 'sightline-gateway.sightline.svc.cluster.local'];

describe('gateway certificate issuer', () => {
  const secretsManager = mockClient(SecretsManagerClient);
  /** What Secrets Manager holds: the issuer's writes, and a generated placeholder before them. */
  let stored: Map<string, string>;

  beforeEach(() => {
    secretsManager.reset();
    stored = new Map(Object.values(ARNS).map((arn) => [arn, 'placeholder-generated-at-creation']));
    secretsManager.on(PutSecretValueCommand).callsFake((input) => {
      stored.set(input.SecretId, input.SecretString);
      return {};
    });
    secretsManager.on(GetSecretValueCommand).callsFake((input) => ({ SecretString: stored.get(input.SecretId) }));
  });
  afterAll(() => secretsManager.restore());

  const event = (requestType: IssuerEvent['RequestType'], generation = '1'): IssuerEvent => ({
    RequestType: requestType,
    PhysicalResourceId: requestType === 'Create' ? undefined : 'sightline-gateway-certificate',
    ResourceProperties: { ...ARNS, ServerNames: NAMES, Generation: generation },
  });
  const server = () => JSON.parse(stored.get(ARNS.TlsSecretArn)!) as { certificate: string; privateKey: string };

  it('creates a CA and a server certificate for the gateway names, signed by it, with the matching key', async () => {
    const result = await handleIssuerEvent(event('Create'), new SecretsManagerClient({}));
    const ca = new X509Certificate(stored.get(ARNS.CaSecretArn)!);
    const leaf = new X509Certificate(server().certificate);
    expect(ca.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.checkPrivateKey(createPrivateKey(server().privateKey))).toBe(true);
    expect(leaf.subjectAltName).toBe(NAMES.map((name) => `DNS:${name}`).join(', '));
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // serverAuth only
    expect(new Date(leaf.validTo).getTime() - Date.now()).toBeGreaterThan(9 * 365 * 24 * 3600 * 1000);
    // Only public facts go back to CloudFormation.
    expect(result.Data?.CaFingerprintSha256).toBe(ca.fingerprint256.replace(/:/g, '').toLowerCase());
    expect(JSON.stringify(result)).not.toContain('PRIVATE KEY');
  });

  it('serves TLS that a client trusting only the CA accepts under the gateway name, and refuses under another', async () => {
    await handleIssuerEvent(event('Create'), new SecretsManagerClient({}));
    const ca = stored.get(ARNS.CaSecretArn)!;
    const listener = tls.createServer({ cert: server().certificate, key: server().privateKey }, (socket) => socket.end('ok'));
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as { port: number }).port;
    const connect = (servername: string) => new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, ca, servername }, () => socket.once('data', (data) => resolve(String(data))));
      socket.on('error', reject);
    });
    try {
      await expect(connect(NAMES[0])).resolves.toBe('ok');
      await expect(connect('gateway.example.com')).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    } finally {
      listener.close();
    }
  });

  it('renews the server certificate from the same CA on update, so sensors need nothing new', async () => {
    await handleIssuerEvent(event('Create'), new SecretsManagerClient({}));
    const ca = stored.get(ARNS.CaSecretArn)!;
    const first = server();
    await handleIssuerEvent(event('Update', '2'), new SecretsManagerClient({}));
    expect(stored.get(ARNS.CaSecretArn)).toBe(ca);
    expect(server().privateKey).not.toBe(first.privateKey);
    expect(new X509Certificate(server().certificate).verify(new X509Certificate(ca).publicKey)).toBe(true);
  });

  it('writes nothing on delete', async () => {
    await handleIssuerEvent(event('Delete'), new SecretsManagerClient({}));
    expect(secretsManager.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });
});
