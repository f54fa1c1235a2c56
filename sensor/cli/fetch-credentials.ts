/**
 * `sightline credentials --plan FILE`: the init container of the Sightline pods on EKS. It reads secrets from AWS
 * Secrets Manager with the pod's own role (EKS Pod Identity) and writes each to the file the process is configured to
 * read (`receiver.tls.*`, `receiver.auth.tokensDir`, `exporters.otlp.tls.caFile`, `exporters.otlp.auth.tokenFile`),
 * on a memory-backed volume. The plan (which secret goes to which file) is a ConfigMap: it holds ARNs, no secret. So
 * neither the CloudFormation template nor the Kubernetes objects ever hold a credential, and a sensor cluster in
 * another account reads its token through the secret's resource policy.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

export const credentialPlanSchema = z
  .object({
    region: z.string().min(1).optional().describe('Region of the secrets; default: the region in each ARN.'),
    directories: z.array(z.string().startsWith('/')).default([]).describe('Directories to create even when no file goes into them (an empty token directory).'),
    files: z
      .array(
        z
          .object({
            secretId: z.string().min(1).describe('ARN of the secret.'),
            path: z.string().startsWith('/').describe('Absolute path of the file to write.'),
            jsonKey: z.string().min(1).optional().describe('Write this key of a JSON secret instead of the whole string.'),
            versionStage: z.string().min(1).default('AWSCURRENT').describe('AWSCURRENT, or AWSPREVIOUS for the token being rotated out.'),
            optional: z.boolean().default(false).describe('A missing secret version writes nothing (AWSPREVIOUS before the first rotation).'),
          })
          .strict(),
      ),
  })
  .strict();

export type CredentialPlan = z.output<typeof credentialPlanSchema>;

export interface FetchLog {
  (message: string): void;
}

/** The region of a Secrets Manager ARN (`arn:aws:secretsmanager:<region>:...`). */
function regionOf(secretId: string): string | undefined {
  return /^arn:[^:]+:secretsmanager:([^:]+):/.exec(secretId)?.[1];
}

/** Replaces the file in one step: a reader never sees half a key, and a token directory never a half-written token. */
function writeAtomically(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // A dot file: token directories skip dot files, so the temporary one is never taken for a client's token.
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(temporary, content, { mode: 0o400 });
  fs.renameSync(temporary, file);
}

function isMissingVersion(error: unknown): boolean {
  return (error as { name?: string }).name === 'ResourceNotFoundException';
}

/**
 * Writes every file of the plan; `clientFor(region)` gives the Secrets Manager client (a mock in tests). Throws, naming
 * the secret and the file, on the first one it cannot write (the pod then does not start, and says why).
 */
export async function fetchCredentials(plan: CredentialPlan, clientFor: (region: string | undefined) => SecretsManagerClient, log: FetchLog): Promise<number> {
  const { GetSecretValueCommand } = require('@aws-sdk/client-secrets-manager') as typeof import('@aws-sdk/client-secrets-manager');
  const clients = new Map<string | undefined, SecretsManagerClient>();
  let written = 0;
  for (const dir of plan.directories) fs.mkdirSync(dir, { recursive: true });
  for (const file of plan.files) {
    const region = plan.region ?? regionOf(file.secretId);
    if (!clients.has(region)) clients.set(region, clientFor(region));
    let secretString: string | undefined;
    try {
      const answer = await clients.get(region)!.send(new GetSecretValueCommand({ SecretId: file.secretId, VersionStage: file.versionStage }));
      secretString = answer.SecretString;
    } catch (error) {
      if (file.optional && isMissingVersion(error)) {
        // No such version (yet): a stale file from an earlier rotation must not stay accepted.
        fs.rmSync(file.path, { force: true });
        log(`${file.path}: ${file.secretId} has no ${file.versionStage} version; nothing written`);
        continue;
      }
      const reason = (error as { name?: string; message?: string }).name ?? 'Error';
      throw new Error(`credentials: cannot read ${file.versionStage} of ${file.secretId} for ${file.path} (${reason}: ${(error as Error).message}); check the pod's role (EKS Pod Identity) and the secret's resource policy`);
    }
    if (secretString === undefined) throw new Error(`credentials: ${file.secretId} holds binary data; ${file.path} needs a string secret`);
    let content = secretString;
    if (file.jsonKey !== undefined) {
      let value: unknown;
      try {
        value = (JSON.parse(secretString) as Record<string, unknown>)[file.jsonKey];
      } catch {
        throw new Error(`credentials: ${file.secretId} is not JSON, so it has no key "${file.jsonKey}" for ${file.path}`);
      }
      if (typeof value !== 'string') throw new Error(`credentials: ${file.secretId} has no string key "${file.jsonKey}" for ${file.path}`);
      content = value;
    }
    writeAtomically(file.path, content);
    written++;
    log(`${file.path}: written from ${file.versionStage} of ${file.secretId}`);
  }
  return written;
}

export function readCredentialPlan(planFile: string): CredentialPlan {
  let document: unknown;
  try {
    document = JSON.parse(fs.readFileSync(planFile, 'utf8'));
  } catch (error) {
    throw new Error(`credentials: cannot read the plan ${planFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const parsed = credentialPlanSchema.safeParse(document);
  if (!parsed.success) {
    throw new Error(`credentials: ${planFile} is not a credential plan: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ')}`);
  }
  return parsed.data;
}

export async function runCredentialsCommand(options: { plan: string }): Promise<void> {
  const { SecretsManagerClient } = require('@aws-sdk/client-secrets-manager') as typeof import('@aws-sdk/client-secrets-manager');
  const plan = readCredentialPlan(options.plan);
  const written = await fetchCredentials(plan, (region) => new SecretsManagerClient({ region }), (message) => process.stderr.write(`sightline credentials: ${message}\n`));
  process.stderr.write(`sightline credentials: ${written} file(s) written\n`);
}
