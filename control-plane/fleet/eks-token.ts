/**
 * The bearer token EKS accepts for IAM principals (what `aws eks get-token` prints): `k8s-aws-v1.` and the base64url
 * of a presigned STS GetCallerIdentity URL that signs the `x-k8s-aws-id` header with the cluster name. The cluster's
 * authenticator replays the URL to learn who signed it; the signature never leaves as a credential of its own.
 */
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';

/** Temporary credentials of the assumed operator role. */
export interface SessionCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export const EKS_TOKEN_PREFIX = 'k8s-aws-v1.';
const CLUSTER_HEADER = 'x-k8s-aws-id';
/** EKS refuses tokens whose URL expires later than this; the token itself is accepted for 15 minutes. */
const PRESIGN_SECONDS = 60;

export async function eksToken(clusterName: string, region: string, credentials: SessionCredentials, signingDate = new Date()): Promise<string> {
  const hostname = `sts.${region}.amazonaws.com`;
  const signer = new SignatureV4({ credentials, region, service: 'sts', sha256: Hash.bind(null, 'sha256') });
  const presigned = await signer.presign({
    method: 'GET',
    protocol: 'https:',
    hostname,
    path: '/',
    query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
    headers: { host: hostname, [CLUSTER_HEADER]: clusterName },
  }, { expiresIn: PRESIGN_SECONDS, signingDate });
  const query = Object.entries(presigned.query ?? {})
    .flatMap(([key, value]) => (Array.isArray(value) ? value : [value]).map((item) => `${encodeURIComponent(key)}=${encodeURIComponent(String(item))}`))
    .join('&');
  return EKS_TOKEN_PREFIX + Buffer.from(`https://${hostname}/?${query}`).toString('base64url');
}

/** The presigned URL inside a token, for checks (the fake API server in the tests plays the EKS authenticator). */
export function decodeEksToken(token: string): URL {
  if (!token.startsWith(EKS_TOKEN_PREFIX)) throw new Error('not an EKS token: missing the k8s-aws-v1. prefix');
  return new URL(Buffer.from(token.slice(EKS_TOKEN_PREFIX.length), 'base64url').toString('utf8'));
}
