import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { readTokenDirectory } from '../../sensor/common/secret-file';
import { credentialPlanSchema, fetchCredentials, readCredentialPlan } from '../../sensor/cli/fetch-credentials';

const TLS_ARN = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:GatewayTls-AbCdEf';
const TOKEN_ARN = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:SensorToken-payments-XyZ123';
const CURRENT = 'c'.repeat(40);
const PREVIOUS = 'p'.repeat(40);

describe('sightline credentials', () => {
  const secretsManager = mockClient(SecretsManagerClient);
  let dir: string;
  let logged: string[];

  beforeEach(() => {
    secretsManager.reset();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-credentials-'));
    logged = [];
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  afterAll(() => secretsManager.restore());

  const run = (files: unknown[]) => fetchCredentials(credentialPlanSchema.parse({ files }), (region) => new SecretsManagerClient({ region }), (line) => logged.push(line));

  it('writes each secret (or one key of a JSON secret) to its file, readable by the owner only, and logs no value', async () => {
    secretsManager.on(GetSecretValueCommand, { SecretId: TLS_ARN }).resolves({ SecretString: JSON.stringify({ certificate: 'CERT PEM', privateKey: 'KEY PEM' }) });
    secretsManager.on(GetSecretValueCommand, { SecretId: TOKEN_ARN, VersionStage: 'AWSCURRENT' }).resolves({ SecretString: CURRENT });
    secretsManager.on(GetSecretValueCommand, { SecretId: TOKEN_ARN, VersionStage: 'AWSPREVIOUS' }).resolves({ SecretString: PREVIOUS });
    const written = await run([
      { secretId: TLS_ARN, jsonKey: 'certificate', path: `${dir}/tls/tls.crt` },
      { secretId: TLS_ARN, jsonKey: 'privateKey', path: `${dir}/tls/tls.key` },
      { secretId: TOKEN_ARN, path: `${dir}/tokens/payments` },
      { secretId: TOKEN_ARN, versionStage: 'AWSPREVIOUS', optional: true, path: `${dir}/tokens/payments.previous` },
    ]);
    expect(written).toBe(4);
    expect(fs.readFileSync(`${dir}/tls/tls.key`, 'utf8')).toBe('KEY PEM');
    expect(fs.statSync(`${dir}/tls/tls.key`).mode & 0o777).toBe(0o400);
    expect(readTokenDirectory(`${dir}/tokens`, 'receiver.auth.tokensDir')).toEqual(new Map([['payments', CURRENT], ['payments.previous', PREVIOUS]]));
    expect(fs.readdirSync(`${dir}/tokens`)).toEqual(['payments', 'payments.previous']);
    expect(logged.join('\n')).not.toMatch(/KEY PEM|cccc|pppp/);
    // The region comes from the ARN.
    expect(await secretsManager.call(0).thisValue.config.region()).toBe('eu-west-1');
  });

  it('writes nothing, and removes a stale file, when the previous version does not exist yet', async () => {
    fs.mkdirSync(`${dir}/tokens`);
    fs.writeFileSync(`${dir}/tokens/payments.previous`, PREVIOUS);
    secretsManager.on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' }).rejects(Object.assign(new Error("Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS"), { name: 'ResourceNotFoundException' }));
    await run([{ secretId: TOKEN_ARN, versionStage: 'AWSPREVIOUS', optional: true, path: `${dir}/tokens/payments.previous` }]);
    expect(fs.existsSync(`${dir}/tokens/payments.previous`)).toBe(false);
    expect(logged).toEqual([`${dir}/tokens/payments.previous: ${TOKEN_ARN} has no AWSPREVIOUS version; nothing written`]);
  });

  it('stops, naming the secret, the file and what to check, when a secret cannot be read', async () => {
    secretsManager.on(GetSecretValueCommand).rejects(Object.assign(new Error('User is not authorized to perform: secretsmanager:GetSecretValue'), { name: 'AccessDeniedException' }));
    await expect(run([{ secretId: TOKEN_ARN, path: `${dir}/token` }])).rejects.toThrow(
      `credentials: cannot read AWSCURRENT of ${TOKEN_ARN} for ${dir}/token (AccessDeniedException: User is not authorized to perform: secretsmanager:GetSecretValue); check the pod's role (EKS Pod Identity) and the secret's resource policy`,
    );
    expect(fs.existsSync(`${dir}/token`)).toBe(false);
  });

  it('refuses a plan it does not understand, saying where', () => {
    const plan = path.join(dir, 'plan.json');
    fs.writeFileSync(plan, JSON.stringify({ files: [{ secretId: TOKEN_ARN, path: 'relative/token' }] }));
    expect(() => readCredentialPlan(plan)).toThrow(/^credentials: .*plan\.json is not a credential plan: files\.0\.path: /);
  });
});
