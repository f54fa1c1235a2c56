import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';
import { decodeEksToken, eksToken } from '../../control-plane/fleet/eks-token';

const credentials = { accessKeyId: 'ASIAEXAMPLE123', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', sessionToken: 'session-token' };

test('the token is a presigned STS GetCallerIdentity URL that signs the cluster name, as the EKS authenticator expects', async () => {
  const signingDate = new Date('2025-06-01T08:00:00Z');
  const token = await eksToken('SightlineDataPlane-gateway', 'eu-west-1', credentials, signingDate);
  expect(token).toMatch(/^k8s-aws-v1\.[A-Za-z0-9_-]+$/);
  const url = decodeEksToken(token);
  expect(url.origin).toBe('https://sts.eu-west-1.amazonaws.com');
  expect(Object.fromEntries(url.searchParams)).toMatchObject({
    Action: 'GetCallerIdentity', Version: '2011-06-15', 'X-Amz-Algorithm': 'AWS4-HMAC-SHA256', 'X-Amz-Credential': 'ASIAEXAMPLE123/20250601/eu-west-1/sts/aws4_request',
    'X-Amz-Date': '20250601T080000Z', 'X-Amz-Expires': '60', 'X-Amz-SignedHeaders': 'host;x-k8s-aws-id', 'X-Amz-Security-Token': 'session-token',
  });
  // The authenticator replays the URL with the cluster's own name in x-k8s-aws-id: the signature holds for that
  // cluster and no other.
  const verify = async (clusterName: string) => {
    const signer = new SignatureV4({ credentials, region: 'eu-west-1', service: 'sts', sha256: Hash.bind(null, 'sha256') });
    const expected = await signer.presign({
      method: 'GET', protocol: 'https:', hostname: url.hostname, path: '/', query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host: url.hostname, 'x-k8s-aws-id': clusterName },
    }, { expiresIn: 60, signingDate });
    return expected.query!['X-Amz-Signature'] === url.searchParams.get('X-Amz-Signature');
  };
  expect(await verify('SightlineDataPlane-gateway')).toBe(true);
  expect(await verify('payments')).toBe(false);
  // The secret key itself is nowhere in the token.
  expect(Buffer.from(token.slice(11), 'base64url').toString()).not.toContain(credentials.secretAccessKey);
  expect(() => decodeEksToken('Bearer abc')).toThrow(/k8s-aws-v1\. prefix/);
});
