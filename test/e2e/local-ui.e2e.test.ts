/**
 * The local mode as a person meets it: `sightline demo` (real sensor, real eBPF capture of the official SDKs'
 * TLS traffic, the store, the web UI), driven in Debian's Chromium through playwright-core.
 *
 * With SIGHTLINE_SCREENSHOT_DIR set (`npm run docs:screenshots`) it also saves the main screens as PNG files.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DEMO_APP_NAME } from '../../sensor/demo/demo-command';
import { CALLS_PER_ROUND, DEMO_MODELS, DEMO_PROMPTS } from '../../sensor/demo/demo-scenario';

const ROOT = path.resolve(__dirname, '../..');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const screenshotDir = process.env.SIGHTLINE_SCREENSHOT_DIR ? path.resolve(ROOT, process.env.SIGHTLINE_SCREENSHOT_DIR) : undefined;

/** The mock's answer, as mock-provider.ts documents it: a fixed sentence about the first four words of the prompt. */
const mockReply = (prompt: string) => `This is a deterministic mock answer about: ${prompt.split(/\s+/).slice(0, 4).join(' ')}`;
const words = (text: string) => text.split(/\s+/).filter(Boolean).length;


let workDir: string;
let demo: ChildProcess;
let demoExit: Promise<number | null>;
let stdout = '';
let stderr = '';
let uiUrl: string;
let browser: Browser;
let page: Page;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\ndemo stdout:\n${stdout}\ndemo stderr (last lines):\n${stderr.split('\n').slice(-30).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function shoot(name: string): Promise<void> {
  if (!screenshotDir) return;
  fs.mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`) });
}

/** Polled from here: the UI's CSP (rightly) forbids the string evaluation page.waitForFunction would need. */
function waitForRows(enough: (count: number) => boolean): Promise<true> {
  return waitFor('the call list to update', async () => (enough(await page.locator('table.calls tbody tr').count()) ? true : undefined), 15_000);
}

async function visibleRows(): Promise<Array<{ model: string; preview: string; duration: string }>> {
  return page.$$eval('table.calls tbody tr', (rows) =>
    rows.map((row) => ({
      model: row.querySelector('td.model')?.textContent ?? '',
      preview: row.querySelector('td.preview')?.textContent ?? '',
      duration: row.querySelectorAll('td.num')[0]?.textContent ?? '',
    })),
  );
}

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-e2e-ui-'));
  demo = spawn(process.execPath, [path.join(ROOT, 'bin/sightline.js'), 'demo', '--data-dir', path.join(workDir, 'data'), '--http-port', '0', '--rounds', '1', '--log-format', 'json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  demoExit = new Promise((resolve) => demo.on('close', (code) => resolve(code)));
  demo.stdout!.on('data', (chunk: Buffer) => (stdout += chunk));
  demo.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
  uiUrl = await waitFor('the demo to print the UI address', async () => /open (http:\/\/127\.0\.0\.1:\d+\/) in a browser/.exec(stdout)?.[1]);
  // Every call of the round, captured from the SDK process by the sensor and stored.
  await waitFor(`${CALLS_PER_ROUND} stored calls of ${DEMO_APP_NAME}`, async () => {
    const response = await fetch(`${uiUrl}api/calls?process=${DEMO_APP_NAME}&limit=100`);
    const page = (await response.json()) as { calls: unknown[] };
    return page.calls.length >= CALLS_PER_ROUND ? true : undefined;
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (demo && demo.exitCode === null) demo.kill('SIGINT');
  await demoExit;
  fs.rmSync(workDir, { recursive: true, force: true });
});

describe('the local web UI on the demo', () => {
  test('the demo prints where the UI is and the terminal shows a readable line per call', () => {
    expect(stdout).toMatch(/Sightline demo: open http:\/\/127\.0\.0\.1:\d+\/ in a browser\. Ctrl-C stops everything\./);
    const logs = stderr.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { msg: string; call?: { provider: string } });
    expect(logs.some((entry) => /^web UI: http:\/\/127\.0\.0\.1:\d+\/$/.test(entry.msg))).toBe(true);
    const providers = new Set(logs.filter((entry) => entry.call).map((entry) => entry.call!.provider));
    expect([...providers].sort()).toEqual(['anthropic', 'aws.bedrock', 'openai']);
  });

  test('the search box finds a call by words of its prompt', async () => {
    await page.goto(uiUrl);
    await page.waitForSelector('table.calls tbody tr');
    await shoot('calls');
    await page.fill('input[type="search"]', 'Hamlet');
    await waitForRows((count) => count === 1);
    const [row] = await visibleRows();
    expect(row.preview).toBe(DEMO_PROMPTS.hamlet);
    expect(page.url()).toMatch(/[?&]q=Hamlet/);
  });

  test('the duration filter keeps only the call over 1 s', async () => {
    await page.goto(`${uiUrl}calls`);
    await page.waitForSelector('table.calls tbody tr');
    await page.selectOption('select[name="process"]', DEMO_APP_NAME);
    await waitForRows((count) => count >= CALLS_PER_ROUND);
    await page.selectOption('select[name="minDurationMs"]', '1000');
    await waitForRows((count) => count === 1);
    const [row] = await visibleRows();
    expect(row.model).toBe(DEMO_MODELS.slow.model);
    expect(row.preview).toBe(DEMO_PROMPTS.slow);
    expect(row.duration).toMatch(/^1\.\d\d s$/);
  });

  test('a call has its own page: the prompt and the response as a chat, and its tokens', async () => {
    await page.click('table.calls tbody tr td a');
    await page.waitForURL(/\/calls\/\d+$/);
    await page.waitForSelector('.chat .message');
    const messages = await page.$$eval('.chat .message', (nodes) => nodes.map((node) => ({ role: node.querySelector('.role')?.textContent ?? '', text: node.querySelector('.text')?.textContent ?? '' })));
    expect(messages).toEqual([
      { role: 'user', text: DEMO_PROMPTS.slow },
      { role: 'assistant · stop', text: mockReply(DEMO_PROMPTS.slow) },
    ]);
    expect(await page.textContent('[data-testid="input-tokens"] dd')).toBe(String(words(DEMO_PROMPTS.slow)));
    expect(await page.textContent('[data-testid="output-tokens"] dd')).toBe(String(words(mockReply(DEMO_PROMPTS.slow))));
    expect(await page.textContent('[data-testid="latency"] dd')).toMatch(/^1\.\d\d s$/);
    // The raw request as captured, credentials gone (the SDK sent an API key).
    const raw = await page.textContent('[data-testid="raw-request"]');
    expect(raw).toMatch(/^POST \/v1\/chat\/completions HTTP\/1\.1\n/);
    expect(raw).toContain(DEMO_PROMPTS.slow);
    expect(raw).not.toMatch(/authorization|sk-demo/i);
    await shoot('call');
  });

  test('a failed call shows the provider error', async () => {
    const response = await fetch(`${uiUrl}api/calls?process=${DEMO_APP_NAME}&status=error`);
    const failed = ((await response.json()) as { calls: Array<{ id: number; errorType: string }> }).calls;
    const denied = failed.find((call) => call.errorType === 'AccessDeniedException');
    expect(denied).toBeDefined();
    await page.goto(`${uiUrl}calls/${denied!.id}`);
    await page.waitForSelector('[data-testid="provider-error"]');
    expect(await page.textContent('[data-testid="provider-error"]')).toMatch(/AccessDeniedException.*HTTP 403.*You don't have access to the model/);
  });

  test('the conversation view shows every turn in order, tool call and result included', async () => {
    await page.goto(`${uiUrl}conversations`);
    await page.waitForSelector('table.calls tbody tr');
    await shoot('conversations');
    await page.click(`table.calls tbody tr:has-text("${DEMO_PROMPTS.weather}") td.preview a`);
    await page.waitForURL(/\/conversations\/\d+$/);
    await page.waitForSelector('article.turn');
    const turns = await page.$$eval('article.turn', (nodes) =>
      nodes.map((node) => ({
        turn: node.getAttribute('data-turn'),
        // Messages new in this turn (earlier ones are folded into a <details>).
        messages: [...node.querySelectorAll(':scope > .chat > .message')].map(
          (message) => `${message.querySelector('.role')?.textContent}: ${[...message.children].slice(1).map((part) => part.textContent?.replace(/\s+/g, ' ')).join(' ')}`,
        ),
      })),
    );
    expect(turns.map((turn) => turn.turn)).toEqual(['1', '2', '3']);
    expect(turns[0].messages[0]).toMatch(/^system: .*travel assistant/);
    expect(turns[0].messages[1]).toMatch(new RegExp(`^user: ${DEMO_PROMPTS.weather.replace('?', '\\?')}$`));
    expect(turns[0].messages[2]).toMatch(/^assistant · tool_calls: .*calls get_weather.*"city": "Lisbon"/);
    expect(turns[1].messages[0]).toMatch(/^tool: .*tool result.*"forecast": "sunny"/);
    expect(turns[1].messages[1]).toMatch(/^assistant · stop: /);
    expect(turns[2].messages[0]).toMatch(new RegExp(`^user: ${DEMO_PROMPTS.umbrella.replace('?', '\\?')}$`));
    expect(turns[2].messages[1]).toMatch(/^assistant · stop: /);
    await shoot('conversation');
  });

  test('overview and alerts render with the round in them', async () => {
    await page.goto(`${uiUrl}overview`);
    await page.waitForSelector('[data-testid="chart-calls"] canvas');
    expect(Number((await page.textContent('[data-testid="total-calls"]'))!.replace(/,/g, ''))).toBeGreaterThanOrEqual(CALLS_PER_ROUND);
    await shoot('overview');
    await page.goto(`${uiUrl}alerts`);
    await page.waitForSelector('.alerts table');
    expect(await page.textContent('.alerts')).toMatch(/Call over 1,000 ms[\s\S]*took 1,\d{3} ms/);
    await shoot('alerts');
  });

  test('Ctrl-C stops the demo, its sensor and its traffic', async () => {
    demo.kill('SIGINT');
    expect(await demoExit).toBe(0);
    expect(stderr).toMatch(/demo: stopping/);
    await expect(fetch(uiUrl)).rejects.toThrow();
  });
});
