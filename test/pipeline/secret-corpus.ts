/**
 * Realistic command lines and LLM payloads holding credentials, and ordinary text that holds none. Every credential
 * here is made up, in the real shape of its kind. Used by secrets.test.ts (unit) and the sensor end-to-end test.
 */

export const FAKE = {
  openaiProjectKey: 'sk-proj-4fQx9TbLm2VwZr7KcH1sJd8NyPq3GtEa6UoBiXzW5lMn0RvYk',
  openaiLegacyKey: 'sk-8XyQ2bN4vT7mLk1pR9sW3dF6hJ0cG5aZ2eU8iO4y',
  anthropicKey: 'sk-ant-api03-Zx8Qm2Lp9Vt4Rk7Nb1Wc6Yh3Js5Df0Ga-Uo2Ie8Tr4Yw6Qp-1AbCdEfGhAA',
  awsKeyId: 'AKIA5QXZ2LMN7RTV4WYB',
  awsTemporaryKeyId: 'ASIA3JKL8MNP2QRS6TUV',
  awsSecret: '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',
  awsSessionToken: 'IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDx7example+session+token+value==',
  jwt: 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI4ZjJhIiwiZXhwIjoxOTAwMDAwMDAwfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
  githubToken: 'ghp_R8mK2xV9qL4tZ7wN1cB5yH3jD6fS0gA2pE8u',
  githubFineGrained: 'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV',
  githubAppToken: 'ghs_Q2w3E4r5T6y7U8i9O0pAsDfGhJkLzXcVbNm12',
  slackBotToken: 'xoxb-2048123456-4096123456789-AbCdEfGhIjKlMnOpQrStUvWx',
  slackWebhook: 'https://hooks.slack.com/services/T0A1B2C3D/B4E5F6G7H/XyZ123abcDEF456ghiJKL789',
  googleApiKey: 'AIzaSyD4x9Lq2Vz7Tb1Nk8Wm3Rc6Yh5Jp0Gs2Fa',
  googleOauthToken: 'ya29.a0AfB_byC1d2E3f4G5h6I7j8K9l0MnOpQrStUv',
  stripeKey: 'sk_live_51HxQ2bN4vT7mLk1pR9sW3dF6',
  huggingFaceToken: 'hf_QxRz8Lm2Vt9Kp4Nb7Wc1Yh6Js3Df5Ga0Ue',
  password: 'hunter2-Prod!',
  databasePassword: 'Sup3rS3cret',
  azureStorageKey: 'Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdo==',
  basicCredentials: 'YWxpY2U6czNjcjN0LXBhc3M=',
  pemBody: 'MIIEowIBAAKCAQEAx4fakeKeyMaterialLine1',
  wandbKey: '0a1b2c3d4e5f60718293a4b5c6d7e8f901234567',
  sigV4Signature: 'fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024',
} as const;

const PEM = `-----BEGIN RSA PRIVATE KEY-----\n${FAKE.pemBody}\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END RSA PRIVATE KEY-----`;

export interface CommandLineCase {
  what: string;
  argv: string[];
  /** None of these may remain. */
  secrets: string[];
  /** All of these must remain. */
  kept: string[];
}

export const SECRET_COMMAND_LINES: CommandLineCase[] = [
  {
    what: 'node with its keys as one JSON argument (the reported leak)',
    argv: ['node', 'app.mjs', JSON.stringify({ openai: FAKE.openaiProjectKey, awsKeyId: FAKE.awsKeyId, awsSecret: FAKE.awsSecret, awsToken: FAKE.awsSessionToken })],
    secrets: [FAKE.openaiProjectKey, FAKE.awsKeyId, FAKE.awsSecret, FAKE.awsSessionToken],
    kept: ['node app.mjs', '"awsSecret":'],
  },
  {
    what: 'a pretty-printed JSON config argument',
    argv: ['node', 'worker.js', '--config', JSON.stringify({ anthropic_api_key: FAKE.anthropicKey, region: 'us-east-1', db: { password: FAKE.password } }, null, 1)],
    secrets: [FAKE.anthropicKey, FAKE.password],
    kept: ['"region": "us-east-1"', '--config'],
  },
  {
    what: 'AWS credentials as environment settings before the command',
    argv: ['env', `AWS_ACCESS_KEY_ID=${FAKE.awsKeyId}`, `AWS_SECRET_ACCESS_KEY=${FAKE.awsSecret}`, `AWS_SESSION_TOKEN=${FAKE.awsSessionToken}`, 'AWS_REGION=us-west-2', 'python3', 'app.py'],
    secrets: [FAKE.awsKeyId, FAKE.awsSecret, FAKE.awsSessionToken],
    kept: ['AWS_REGION=us-west-2', 'python3 app.py'],
  },
  {
    what: '--key value',
    argv: ['python3', 'bot.py', '--openai-api-key', FAKE.openaiLegacyKey, '--model', 'gpt-4o-mini', '--max-tokens', '512'],
    secrets: [FAKE.openaiLegacyKey],
    kept: ['--model gpt-4o-mini', '--max-tokens 512'],
  },
  {
    what: '--key=value',
    argv: ['./server', `--db-password=${FAKE.password}`, '--port', '8080', `--auth-token=${FAKE.githubAppToken}`],
    secrets: [FAKE.password, FAKE.githubAppToken],
    kept: ['--port 8080', '--db-password='],
  },
  {
    what: 'aws configure set with a secret as a plain word',
    argv: ['aws', 'configure', 'set', 'aws_secret_access_key', FAKE.awsSecret, '--profile', 'prod'],
    secrets: [FAKE.awsSecret],
    kept: ['--profile prod'],
  },
  {
    what: 'a database URL with a password',
    argv: ['psql', `postgres://app:${FAKE.databasePassword}@db.internal:5432/app`, '-c', 'select 1'],
    secrets: [FAKE.databasePassword],
    kept: ['db.internal:5432/app', 'select 1'],
  },
  {
    what: 'an access token in a URL query string',
    argv: ['curl', '-sS', `https://api.example.com/v1/data?format=json&access_token=${FAKE.googleOauthToken}`],
    secrets: [FAKE.googleOauthToken],
    kept: ['https://api.example.com/v1/data', 'format=json'],
  },
  {
    what: 'a Google API key as the key query parameter',
    argv: ['curl', `https://generativelanguage.googleapis.com/v1beta/models/gemini-1.5-flash:generateContent?key=${FAKE.googleApiKey}`],
    secrets: [FAKE.googleApiKey],
    kept: ['gemini-1.5-flash:generateContent'],
  },
  {
    what: 'a Bearer JWT header',
    argv: ['curl', '-H', `Authorization: Bearer ${FAKE.jwt}`, 'https://internal.example.com/llm'],
    secrets: [FAKE.jwt],
    kept: ['https://internal.example.com/llm'],
  },
  {
    what: 'an Anthropic x-api-key header',
    argv: ['curl', 'https://api.anthropic.com/v1/messages', '-H', `x-api-key: ${FAKE.anthropicKey}`, '-H', 'anthropic-version: 2023-06-01'],
    secrets: [FAKE.anthropicKey],
    kept: ['anthropic-version: 2023-06-01'],
  },
  {
    what: 'docker run -e settings',
    argv: ['docker', 'run', '-e', `OPENAI_API_KEY=${FAKE.openaiProjectKey}`, '-e', `HF_TOKEN=${FAKE.huggingFaceToken}`, '-e', 'LOG_LEVEL=debug', 'ghcr.io/acme/agent:1.4'],
    secrets: [FAKE.openaiProjectKey, FAKE.huggingFaceToken],
    kept: ['LOG_LEVEL=debug', 'ghcr.io/acme/agent:1.4'],
  },
  {
    what: 'a Java system property',
    argv: ['java', `-Dspring.datasource.password=${FAKE.password}`, '-Dserver.port=8081', '-jar', 'app.jar'],
    secrets: [FAKE.password],
    kept: ['-Dserver.port=8081', '-jar app.jar'],
  },
  {
    what: 'a GitHub token as URL user-info',
    argv: ['git', 'clone', `https://x-access-token:${FAKE.githubAppToken}@github.com/acme/agents.git`],
    secrets: [FAKE.githubAppToken],
    kept: ['github.com/acme/agents.git'],
  },
  {
    what: 'a key inside an inline script',
    argv: ['node', '-e', `const client = new OpenAI({ apiKey: '${FAKE.openaiProjectKey}' }); main(client)`],
    secrets: [FAKE.openaiProjectKey],
    kept: ['main(client)'],
  },
  {
    what: 'kubectl --token=',
    argv: ['kubectl', `--token=${FAKE.jwt}`, 'get', 'pods', '-n', 'ml'],
    secrets: [FAKE.jwt],
    kept: ['get pods -n ml'],
  },
  {
    what: 'a training run with a Hugging Face token and a W&B key',
    argv: ['python', 'train.py', '--hf-token', FAKE.huggingFaceToken, '--wandb-key', FAKE.wandbKey, '--epochs', '3'],
    secrets: [FAKE.huggingFaceToken, FAKE.wandbKey],
    kept: ['--epochs 3'],
  },
  {
    what: 'a Slack bot token and webhook',
    argv: ['node', 'notify.js', '--slack-bot', FAKE.slackBotToken, '--webhook', FAKE.slackWebhook],
    secrets: [FAKE.slackBotToken, 'XyZ123abcDEF456ghiJKL789'],
    kept: ['notify.js'],
  },
  {
    what: 'a Stripe key and a GitHub token as plain arguments',
    argv: ['./billing-agent', FAKE.stripeKey, FAKE.githubToken],
    secrets: [FAKE.stripeKey, FAKE.githubToken],
    kept: ['./billing-agent'],
  },
  {
    what: 'a PEM private key passed inline',
    argv: ['signer', '--key-pem', PEM, '--out', 'sig.bin'],
    secrets: [FAKE.pemBody],
    kept: ['--out sig.bin'],
  },
  {
    what: 'an Azure storage connection string',
    argv: ['func', 'start', '--connection', `DefaultEndpointsProtocol=https;AccountName=acmeml;AccountKey=${FAKE.azureStorageKey};EndpointSuffix=core.windows.net`],
    secrets: [FAKE.azureStorageKey],
    kept: ['AccountName=acmeml', 'EndpointSuffix=core.windows.net'],
  },
  {
    what: 'curl with SigV4 user and a session token header',
    argv: ['curl', '--aws-sigv4', 'aws:amz:us-east-1:bedrock', '--user', `${FAKE.awsTemporaryKeyId}:${FAKE.awsSecret}`, '-H', `x-amz-security-token: ${FAKE.awsSessionToken}`, 'https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.nova-lite-v1:0/converse'],
    secrets: [FAKE.awsTemporaryKeyId, FAKE.awsSecret, FAKE.awsSessionToken],
    kept: ['aws:amz:us-east-1:bedrock', 'amazon.nova-lite-v1:0/converse'],
  },
  {
    what: 'mysql --password= and a Python dict literal',
    argv: ['sh', '-c', `mysql --password=${FAKE.password} -e "select 1" && python -c "cfg={'secret_key': '${FAKE.wandbKey}'}"`],
    secrets: [FAKE.password, FAKE.wandbKey],
    kept: ['select 1'],
  },
];

export interface PayloadCase {
  what: string;
  /** Text of a prompt or a response. */
  text: string;
  secrets: string[];
  kept: string[];
}

export const SECRET_PAYLOADS: PayloadCase[] = [
  {
    what: 'a .env file pasted into a prompt',
    text: `Why does this fail?\nOPENAI_API_KEY=${FAKE.openaiProjectKey}\nDATABASE_URL=postgres://app:${FAKE.databasePassword}@db:5432/app\nDEBUG=true\nMAX_TOKENS=2048`,
    secrets: [FAKE.openaiProjectKey, FAKE.databasePassword],
    kept: ['Why does this fail?', 'DEBUG=true', 'MAX_TOKENS=2048', '@db:5432/app'],
  },
  {
    what: 'Python client code with a hard-coded key',
    text: `from anthropic import Anthropic\nclient = Anthropic(api_key="${FAKE.anthropicKey}")\nmsg = client.messages.create(model="claude-3-5-sonnet-20240620", max_tokens=1024)`,
    secrets: [FAKE.anthropicKey],
    kept: ['model="claude-3-5-sonnet-20240620"', 'max_tokens=1024'],
  },
  {
    what: 'YAML credentials',
    text: `aws:\n  access_key_id: ${FAKE.awsKeyId}\n  secret_access_key: ${FAKE.awsSecret}\n  region: eu-west-1\ndb:\n  password: "${FAKE.password}"`,
    secrets: [FAKE.awsKeyId, FAKE.awsSecret, FAKE.password],
    kept: ['region: eu-west-1'],
  },
  {
    what: 'a JWT in prose',
    text: `My session keeps expiring; this is the token the server returned: ${FAKE.jwt}. What is wrong?`,
    secrets: [FAKE.jwt],
    kept: ['My session keeps expiring', 'What is wrong?'],
  },
  {
    what: 'a PEM private key in a prompt',
    text: `Convert this key to PKCS#8:\n${PEM}\nThanks!`,
    secrets: [FAKE.pemBody],
    kept: ['Convert this key to PKCS#8:', 'Thanks!'],
  },
  {
    what: 'a curl command with headers in a prompt',
    text: `Translate to Python: curl https://api.openai.com/v1/chat/completions -H 'Authorization: Bearer ${FAKE.openaiLegacyKey}' -H 'Content-Type: application/json'`,
    secrets: [FAKE.openaiLegacyKey],
    kept: ['Content-Type: application/json', 'https://api.openai.com/v1/chat/completions'],
  },
  {
    what: 'a model repeating credentials in its answer',
    text: `Set these in your shell:\nexport GITHUB_TOKEN=${FAKE.githubFineGrained}\nexport SLACK_BOT_TOKEN=${FAKE.slackBotToken}\nand post to ${FAKE.slackWebhook}`,
    secrets: [FAKE.githubFineGrained, FAKE.slackBotToken, 'XyZ123abcDEF456ghiJKL789'],
    kept: ['Set these in your shell:'],
  },
  {
    what: 'a JSON config with escaped quotes inside a string',
    text: JSON.stringify({ config: JSON.stringify({ password: FAKE.password, retries: 3, client_secret: FAKE.wandbKey }) }),
    secrets: [FAKE.password, FAKE.wandbKey],
    kept: ['retries'],
  },
  {
    what: 'a Python dict repr',
    text: `{'aws_access_key_id': '${FAKE.awsTemporaryKeyId}', 'aws_secret_access_key': '${FAKE.awsSecret}', 'aws_session_token': '${FAKE.awsSessionToken}', 'region_name': 'us-east-1'}`,
    secrets: [FAKE.awsTemporaryKeyId, FAKE.awsSecret, FAKE.awsSessionToken],
    kept: ["'region_name': 'us-east-1'"],
  },
  {
    what: 'a Basic authorization header',
    text: `GET /admin HTTP/1.1\nHost: intranet\nAuthorization: Basic ${FAKE.basicCredentials}\nAccept: */*`,
    secrets: [FAKE.basicCredentials],
    kept: ['Host: intranet', 'Accept: */*'],
  },
  {
    what: 'a GCP service-account key file',
    text: JSON.stringify({ type: 'service_account', project_id: 'acme-ml', private_key_id: FAKE.wandbKey, private_key: `${PEM}\n`, client_email: 'ml@acme-ml.iam.gserviceaccount.com' }, null, 2),
    secrets: [FAKE.wandbKey, FAKE.pemBody],
    kept: ['"project_id": "acme-ml"', 'ml@acme-ml.iam.gserviceaccount.com'],
  },
  {
    what: 'a SigV4 authorization header and presigned URL',
    text: `Authorization: AWS4-HMAC-SHA256 Credential=${FAKE.awsKeyId}/20260110/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=${FAKE.sigV4Signature}\n`
      + `https://bucket.s3.amazonaws.com/report.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${FAKE.awsTemporaryKeyId}%2F20260110%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Security-Token=${encodeURIComponent(FAKE.awsSessionToken)}&X-Amz-Signature=${FAKE.sigV4Signature}`,
    secrets: [FAKE.awsKeyId, FAKE.awsTemporaryKeyId, FAKE.sigV4Signature, FAKE.awsSessionToken.slice(0, 30)],
    kept: ['https://bucket.s3.amazonaws.com/report.pdf', 'X-Amz-Algorithm=AWS4-HMAC-SHA256'],
  },
  {
    what: 'tokens of several vendors in a list',
    text: `Rotate these leaked keys: ${FAKE.stripeKey}, ${FAKE.huggingFaceToken}, ${FAKE.googleApiKey}, ${FAKE.githubToken}, ${FAKE.googleOauthToken}.`,
    secrets: [FAKE.stripeKey, FAKE.huggingFaceToken, FAKE.googleApiKey, FAKE.githubToken, FAKE.googleOauthToken],
    kept: ['Rotate these leaked keys:'],
  },
  {
    what: 'an Azure connection string in code',
    text: `conn = "DefaultEndpointsProtocol=https;AccountName=acmeml;AccountKey=${FAKE.azureStorageKey};EndpointSuffix=core.windows.net"`,
    secrets: [FAKE.azureStorageKey],
    kept: ['AccountName=acmeml'],
  },
  {
    what: 'tool-call arguments carrying a password',
    text: JSON.stringify({ name: 'connect_db', arguments: { host: 'db.internal', user: 'app', password: FAKE.password, sslmode: 'require' } }),
    secrets: [FAKE.password],
    kept: ['"host":"db.internal"', '"sslmode":"require"'],
  },
  {
    what: 'an Anthropic key and a session token in a response',
    text: `I found ${FAKE.anthropicKey} in your logs, and the STS token ${FAKE.awsSessionToken} as well.`,
    secrets: [FAKE.anthropicKey, FAKE.awsSessionToken],
    kept: ['I found', 'in your logs'],
  },
];

/** Prompts, responses and attribute values with nothing secret in them: they must come out unchanged. */
export const ORDINARY_TEXT: string[] = [
  'Tokens are the units a model reads: this prompt used 1,234 tokens and the max_tokens limit was 4096.',
  'The secret to good bread is patience; keep your password manager updated and never share passwords.',
  'request 550e8400-e29b-41d4-a716-446655440000 in trace 4bf92f3577b34da6a3ce929d0e0e4736, span 00f067aa0ba902b7',
  'fixed in commit 3f786850e387550fdab836ed7e6dc881de23001b (short 3f78685), see sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
  'models: gpt-4o-2024-08-06, gpt-4o-mini, o1-mini, claude-3-5-sonnet-20240620, anthropic.claude-3-5-haiku-20241022-v1:0, meta.llama3-1-70b-instruct-v1:0, amazon.nova-lite-v1:0, text-embedding-3-small',
  'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0',
  'paths: /home/alice/.aws/credentials, ~/.ssh/id_ed25519, /etc/ssl/private/server.key, /var/run/secrets/kubernetes.io/serviceaccount/token and C:\\Users\\bob\\secrets\\notes.txt',
  '{"model":"gpt-4o","max_tokens":256,"messages":[{"role":"user","content":"Count the tokens"}],"stream":true,"temperature":0.2}',
  '{"usage":{"prompt_tokens":21,"completion_tokens":7,"total_tokens":28,"prompt_tokens_details":{"cached_tokens":0}}}',
  '{"token_type":"Bearer","expires_in":3600,"scope":"read"}',
  '{"input_tokens":21,"output_tokens":7,"cache_read_input_tokens":0,"cache_creation_input_tokens":12}',
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'A risk-free, task-based, desk-bound plan; we used sk-learn and scikit-learn.',
  'The keynote covered keys and locks; Bearer bonds were discussed; the author: Jane Doe.',
  'https://api.openai.com/v1/chat/completions?api-version=2024-06-01 and https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke',
  'api_key = os.environ["OPENAI_API_KEY"]\ntoken = get_token()\npassword = input("Password: ")\nsecret = None',
  'Write to jane.doe@example.com or ssh git@github.com:acme/agents.git; see https://user@example.com/docs',
  'AWS access key ids start with AKIA or ASIA; Slack says xoxo; we use hf_transfer.',
  'Content-Type: application/json; X-Request-Id: req_8f2a; x-ratelimit-remaining-tokens: 29000',
  'resource "aws_secretsmanager_secret" "db" { name = "prod/db" }',
  'kubectl get secrets -n prod && kubectl create secret generic app-config',
  'Use --token-file /var/run/secrets/token and --password-stdin; the token budget is 8k.',
];

/** Command lines with nothing secret in them. */
export const ORDINARY_COMMAND_LINES: string[][] = [
  ['python', '-m', 'vllm.entrypoints.openai.api_server', '--model', 'meta-llama/Llama-3-8B', '--max-model-len', '8192', '--tokenizer-mode', 'auto'],
  ['node', 'server.js', '--port', '3000', '--max-tokens', '512'],
  ['java', '-Xmx2g', '-jar', 'app.jar', '--spring.profiles.active=prod'],
  ['curl', '-H', 'Content-Type: application/json', '-d', '@body.json', 'https://api.openai.com/v1/chat/completions'],
  ['git', 'commit', '-m', 'fix token counting'],
  ['aws', 'secretsmanager', 'get-secret-value', '--secret-id', 'prod/db'],
  ['docker', 'login', '--username', 'ci', '--password-stdin', 'ghcr.io'],
  ['/usr/bin/python3', '/opt/app/main.py', '--config', '/etc/app/config.yaml', '--log-level', 'info'],
  ['node', '--max-old-space-size=4096', 'dist/index.js'],
];
