/**
 * Custom resource handler (CloudFormation, through the CDK provider framework) that gives the gateway its TLS
 * certificate without a private key ever appearing in a template: it makes a certificate authority of this
 * deployment's own and a server certificate signed by it, and writes them straight into Secrets Manager.
 *
 * - Create: a new CA (ECDSA P-256) and a server certificate for `ServerNames`.
 * - Update (new `ServerNames` or `Generation`): a new server certificate and key from the same CA, so sensors, which
 *   trust the CA, need nothing new.
 * - Delete: nothing; the secrets go (or stay) with their own removal policy.
 *
 * X.509 encoding comes from @peculiar/x509 (it needs reflect-metadata loaded first); keys and signatures from Node's
 * WebCrypto. Only the CA's fingerprint, which is public, goes back to CloudFormation.
 */
import 'reflect-metadata';
import { createHash, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** Node's WebCrypto key (the DOM's CryptoKey type is not in this project's libs). */
type CryptoKey = webcrypto.CryptoKey;

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
/** Both certificates live ten years: nothing renews them unattended, and the CA is this deployment's alone. */
const VALIDITY_MS = 10 * 365 * 24 * 3600 * 1000;

export interface IssuerProperties {
  /** Receives the CA certificate (PEM): what sensors trust. */
  CaSecretArn: string;
  /** Receives the CA certificate and private key (JSON); read back to sign later server certificates. */
  CaKeySecretArn: string;
  /** Receives `{"certificate", "privateKey"}` (PEM) of the gateway. */
  TlsSecretArn: string;
  /** DNS names of the server certificate. */
  ServerNames: string[];
  /** Changed to issue a new server certificate. */
  Generation: string;
}

export interface IssuerEvent {
  RequestType: 'Create' | 'Update' | 'Delete';
  PhysicalResourceId?: string;
  ResourceProperties: IssuerProperties & { ServiceToken?: string };
}

export interface IssuerResult {
  PhysicalResourceId: string;
  Data?: { CaFingerprintSha256: string; ServerCertificateSerial: string };
}

interface CertificateAuthority {
  certificate: x509.X509Certificate;
  privateKey: CryptoKey;
}

const randomSerial = () => Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1');

async function toPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
}

async function fromPem(pem: string): Promise<CryptoKey> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, false, ['sign']);
}

export async function createAuthority(commonName: string, now = new Date()): Promise<CertificateAuthority> {
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${commonName}`,
    notBefore: new Date(now.getTime() - 5 * 60_000),
    notAfter: new Date(now.getTime() + VALIDITY_MS),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certificate, privateKey: keys.privateKey };
}

export async function issueServerCertificate(authority: CertificateAuthority, serverNames: string[], now = new Date()): Promise<{ certificate: x509.X509Certificate; privateKey: CryptoKey }> {
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${serverNames[0]}`,
    issuer: authority.certificate.subject,
    notBefore: new Date(now.getTime() - 5 * 60_000),
    notAfter: new Date(Math.min(now.getTime() + VALIDITY_MS, authority.certificate.notAfter.getTime())),
    publicKey: keys.publicKey,
    signingKey: authority.privateKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(serverNames.map((name) => ({ type: 'dns' as const, value: name }))),
      await x509.AuthorityKeyIdentifierExtension.create(authority.certificate),
    ],
  });
  return { certificate, privateKey: keys.privateKey };
}

async function readAuthority(secrets: SecretsManagerClient, arn: string): Promise<CertificateAuthority | undefined> {
  const answer = await secrets.send(new GetSecretValueCommand({ SecretId: arn }));
  try {
    const stored = JSON.parse(answer.SecretString ?? '') as { certificate?: string; privateKey?: string };
    if (!stored.certificate || !stored.privateKey) return undefined;
    return { certificate: new x509.X509Certificate(stored.certificate), privateKey: await fromPem(stored.privateKey) };
  } catch {
    return undefined; // the placeholder Secrets Manager generated at creation: no CA yet
  }
}

export async function handleIssuerEvent(event: IssuerEvent, secrets: SecretsManagerClient, now = new Date()): Promise<IssuerResult> {
  const physicalResourceId = event.PhysicalResourceId ?? 'sightline-gateway-certificate';
  if (event.RequestType === 'Delete') return { PhysicalResourceId: physicalResourceId };
  const properties = event.ResourceProperties;
  if (!Array.isArray(properties.ServerNames) || properties.ServerNames.length === 0) {
    throw new Error('gateway certificate: ServerNames must list at least one DNS name');
  }
  let authority = event.RequestType === 'Update' ? await readAuthority(secrets, properties.CaKeySecretArn) : undefined;
  if (authority === undefined) {
    authority = await createAuthority('Sightline gateway CA', now);
    const certificate = authority.certificate.toString('pem');
    await secrets.send(new PutSecretValueCommand({ SecretId: properties.CaKeySecretArn, SecretString: JSON.stringify({ certificate, privateKey: await toPem(authority.privateKey) }) }));
    await secrets.send(new PutSecretValueCommand({ SecretId: properties.CaSecretArn, SecretString: `${certificate}\n` }));
  }
  const server = await issueServerCertificate(authority, properties.ServerNames, now);
  await secrets.send(new PutSecretValueCommand({
    SecretId: properties.TlsSecretArn,
    SecretString: JSON.stringify({ certificate: `${server.certificate.toString('pem')}\n`, privateKey: await toPem(server.privateKey) }),
  }));
  return {
    PhysicalResourceId: physicalResourceId,
    Data: {
      CaFingerprintSha256: createHash('sha256').update(Buffer.from(authority.certificate.rawData)).digest('hex'),
      ServerCertificateSerial: server.certificate.serialNumber,
    },
  };
}

/** The Lambda entry point. */
export async function onEvent(event: IssuerEvent): Promise<IssuerResult> {
  return handleIssuerEvent(event, new SecretsManagerClient({}));
}
