import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ProcessContextReader } from '../../sensor/pipeline/enrich/process';
import { SpanEnricher } from '../../sensor/pipeline/enrich/span-enricher';
import { scrubCommandArgs, scrubCommandLine } from '../../sensor/pipeline/privacy/command-line';
import { PrivacyStage } from '../../sensor/pipeline/privacy/privacy-stage';
import type { GenAiSpan } from '../../sensor/span/gen-ai-span';

const AZURE_KEY = '0123456789abcdef0123456789abcdef';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const PROMPT_BODY = '{"messages": [{"role": "user", "content": "draft the layoff memo -h for the board"}]}';

/** What `/proc/<pid>/cmdline` becomes once the enricher joins argv with spaces: quotes gone, boundaries lost. */
function joined(...argv: string[]): string {
  return argv.join(' ');
}

function spanWithResource(resource: GenAiSpan['resource']): GenAiSpan {
  return {
    traceId: '0'.repeat(32), spanId: '0'.repeat(16), name: 'chat gpt-4o', kind: 'client', startTimeUnixNano: 0n, endTimeUnixNano: 1n,
    attributes: { 'gen_ai.request.model': 'gpt-4o' }, resource, status: { code: 'unset' }, source: 'otlp',
  };
}

describe('command-line credentials are always scrubbed', () => {
  it.each([
    ['a curl api-key header', joined('curl', '-H', `api-key: ${AZURE_KEY}`, 'https://r.openai.azure.com/openai/v1/chat/completions'),
      'curl -H api-key: <redacted> https://r.openai.azure.com/openai/v1/chat/completions'],
    ['a multi-word Authorization header', joined('curl', '-H', 'Authorization: Basic dXNlcjpwYXNz', '-X', 'POST'),
      'curl -H Authorization: <redacted> -X POST'],
    ['an attached -H', joined('curl', '-Hx-goog-api-key:AIzaNotTheRealShape', 'https://x'), 'curl -Hx-goog-api-key:<redacted> https://x'],
    ['a wget --header=', joined('wget', '--header=Cookie: session=9', '-O', '-'), 'wget --header=Cookie: <redacted> -O -'],
    ['an x-amz security token header', joined('curl', '-H', 'X-Amz-Security-Token: IQoJb3JpZ2luX2VjE', 'https://bedrock'),
      'curl -H X-Amz-Security-Token: <redacted> https://bedrock'],
    ['-u user:password', joined('curl', '-u', 'alice:s3cr3t', 'https://example.com'), 'curl -u <redacted> https://example.com'],
    ['an attached -u and --user=', joined('curl', '-ualice:s3cr3t', '--proxy-user=bob:pw'), 'curl -u<redacted> --proxy-user=<redacted>'],
    ['--aws-sigv4 with --user KEY:SECRET', joined('curl', '--aws-sigv4', 'aws:amz:us-east-1:bedrock', '--user', `AKIAIOSFODNN7EXAMPLE:${AWS_SECRET}`, 'https://bedrock-runtime'),
      'curl --aws-sigv4 aws:amz:us-east-1:bedrock --user <redacted> https://bedrock-runtime'],
    ['user-info and a key query parameter in a URL', joined('curl', `https://u:pw@r.openai.azure.com/x?api-version=1&api-key=${AZURE_KEY}`),
      'curl https://r.openai.azure.com/x?api-version=1'],
    ['an environment-style setting', joined('env', 'OPENAI_API_KEY=abc123', 'python', 'bot.py'), 'env OPENAI_API_KEY=<redacted> python bot.py'],
  ])('%s', (_what, commandLine, expected) => {
    expect(scrubCommandLine(commandLine)).toBe(expected);
  });

  it('keeps what carries no credential', () => {
    for (const commandLine of ['python -u app.py --port 8080', 'curl -H Content-Type: application/json -H x-amz-target: Converse https://x', 'curl -u alice https://x']) {
      expect(scrubCommandLine(commandLine)).toBe(commandLine);
    }
  });

  it('keeps request bodies unless asked to hide them', () => {
    const commandLine = joined('curl', '-d', PROMPT_BODY, 'https://api.openai.com/v1/chat/completions');
    expect(scrubCommandLine(commandLine)).toBe(commandLine);
  });

  it('scrubs an argument vector argument by argument', () => {
    expect(scrubCommandArgs(['curl', '-H', `api-key: ${AZURE_KEY}`, '-H', 'Authorization:Bearer a b', '-u', 'alice:pw', '-d', PROMPT_BODY, 'https://x']))
      .toEqual(['curl', '-H', 'api-key: <redacted>', '-H', 'Authorization:<redacted>', '-u', '<redacted>', '-d', PROMPT_BODY, 'https://x']);
  });
});

describe('command-line request bodies when request prompts are obfuscated', () => {
  const hide = { hideRequestBodies: true, bodyMarker: '<obfuscated>' };

  it('hides a JSON body to its closing bracket, even when the prompt holds a flag-like word', () => {
    const commandLine = joined('curl', '-d', PROMPT_BODY, '-o', 'out.json', 'https://api.openai.com/v1/chat/completions');
    expect(scrubCommandLine(commandLine, hide)).toBe('curl -d <obfuscated> -o out.json https://api.openai.com/v1/chat/completions');
  });

  it('hides --data-raw, --json, attached and non-JSON bodies', () => {
    expect(scrubCommandLine(joined('curl', '--json', PROMPT_BODY, 'https://x'), hide)).toBe('curl --json <obfuscated> https://x');
    expect(scrubCommandLine(joined('curl', `-d${PROMPT_BODY}`, 'https://x'), hide)).toBe('curl -d<obfuscated> https://x');
    expect(scrubCommandLine(joined('curl', '--data-raw', 'prompt=tell me everything', '-X', 'POST'), hide)).toBe('curl --data-raw <obfuscated> -X POST');
    expect(scrubCommandArgs(['curl', '--data', PROMPT_BODY], hide)).toEqual(['curl', '--data', '<obfuscated>']);
  });
});

describe('the privacy stage scrubs process command lines in resources', () => {
  it('drops credentials from process.command_line and process.command_args with privacy off', () => {
    const span = spanWithResource({
      'process.command_line': joined('curl', '-H', `api-key: ${AZURE_KEY}`, '-u', 'alice:s3cr3t', 'https://x'),
      'process.command_args': ['curl', '-H', `api-key: ${AZURE_KEY}`, '--user', `AKIAIOSFODNN7EXAMPLE:${AWS_SECRET}`],
      'service.name': 'bot',
    });
    const resource = new PrivacyStage({}).apply(span).resource;
    expect(resource['process.command_line']).toBe('curl -H api-key: <redacted> -u <redacted> https://x');
    expect(resource['process.command_args']).toEqual(['curl', '-H', 'api-key: <redacted>', '--user', '<redacted>']);
    expect(resource['service.name']).toBe('bot');
    expect(JSON.stringify(resource)).not.toMatch(new RegExp(`${AZURE_KEY}|s3cr3t|EXAMPLEKEY`));
  });

  it('hides the prompt in a command-line body when request prompts are obfuscated, and only then', () => {
    const span = spanWithResource({ 'process.command_line': joined('curl', '-d', PROMPT_BODY, 'https://x') });
    expect(new PrivacyStage({ obfuscation: { requestPrompts: true } }).apply(span).resource['process.command_line']).toBe('curl -d <obfuscated> https://x');
    expect(new PrivacyStage({}).apply(span).resource['process.command_line']).toContain('layoff memo');
  });
});

describe('the enricher scrubs the command line it reads from /proc', () => {
  let procRoot: string;

  beforeAll(() => {
    procRoot = mkdtempSync(path.join(tmpdir(), 'sightline-cmdline-'));
    const dir = path.join(procRoot, '5151');
    mkdirSync(dir);
    const argv = ['curl', '-sS', '-H', `api-key: ${AZURE_KEY}`, '--aws-sigv4', 'aws:amz:us-east-1:bedrock', '--user', `AKIAIOSFODNN7EXAMPLE:${AWS_SECRET}`, 'https://x'];
    writeFileSync(path.join(dir, 'cmdline'), `${argv.join('\0')}\0`);
    writeFileSync(path.join(dir, 'comm'), 'curl\n');
  });
  afterAll(() => rmSync(procRoot, { recursive: true, force: true }));

  it('leaves no header key or SigV4 secret in process.command_line', async () => {
    const enricher = new SpanEnricher({ processes: new ProcessContextReader({ procRoot }) });
    const span = await enricher.enrich(spanWithResource({}), { pid: 5151 });
    expect(span.resource['process.command_line'])
      .toBe('curl -sS -H api-key: <redacted> --aws-sigv4 aws:amz:us-east-1:bedrock --user <redacted> https://x');
  });
});
