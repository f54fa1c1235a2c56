/**
 * A Go program that grows and shrinks goroutine stacks hard while it makes TLS calls, run through a sensor start, a
 * clean stop, a second start and a SIGKILL. Go copies stacks to grow and shrink them, which is why its code may not
 * carry uretprobes; the Go probes use none, and this proves it on a real program: it must finish with every answer
 * right, and the spans the sensor made must each pair a prompt with its own answer.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startMockProvider, type MockProvider } from '../../sensor/demo/mock-provider';
import { generateTestCertificates, type TestCertificates } from '../../sensor/demo/test-ca';
import { GO_STACK_STRESS, buildGoProgram } from '../support/go-programs';
import { LineProcess, killLineProcesses } from '../support/line-process';
import { startSensorProcess, type SensorProcess } from '../support/sensor-process';

const KEY = 'sk-test-SECRET-go-stress-234';
/** The longest the program runs; the test ends it earlier by closing its stdin. */
const MAX_SECONDS = 60;

let workDir: string;
let certs: TestCertificates;
let mock: MockProvider;
const sensors: SensorProcess[] = [];

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-go-stress-'));
  certs = await generateTestCertificates(path.join(workDir, 'tls'));
  // A few milliseconds per answer keep the loop from saturating the two cores the tests share.
  mock = await startMockProvider({ tls: { key: fs.readFileSync(certs.keyPath), cert: fs.readFileSync(certs.certPath) }, latencyMs: 5 });
}, 60_000);

afterAll(async () => {
  killLineProcesses();
  for (const sensor of sensors) await sensor.remove();
  await mock?.close();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('deep recursion across many goroutines, calling over TLS through sensor start, stop, start and SIGKILL: no crash, no wrong answer, no mixed-up span', async () => {
  const executable = buildGoProgram(workDir, 'stack-stress', GO_STACK_STRESS, { stripped: true });
  const stress = new LineProcess(executable, ['-url', `${mock.url}/v1/chat/completions`, '-ca', certs.caCertPath, '-key', KEY, '-seconds', String(MAX_SECONDS), '-workers', '8']);

  // Sensor one: attaches to the running program, captures for a while, stops cleanly (probes detached).
  const first = await startSensorProcess();
  sensors.push(first);
  await sleep(2500);
  const spans = await first.waitForSpans(stress.pid, 20);
  expect(await first.stop()).toBe(0);
  expect(stress.child.exitCode).toBeNull();

  // Sensor two: attaches again, and dies with SIGKILL while calls are in flight: the kernel removes its probes.
  const second = await startSensorProcess();
  sensors.push(second);
  await second.waitForSpans(stress.pid, 1);
  await second.kill('SIGKILL');
  const progress = () => Number(/progress (\d+)\n$/.exec(stress.stdout)?.[1] ?? 0);
  const callsAtKill = progress();
  // The program goes on calling after the sensor died, with nothing left of its probes.
  const deadline = Date.now() + 10_000;
  while (progress() < callsAtKill + 20 && Date.now() < deadline) await sleep(100);
  expect(progress()).toBeGreaterThanOrEqual(callsAtKill + 20);

  expect(await stress.finish()).toBe(0);
  const summary = /calls (\d+) wrong (\d+)/.exec(stress.stdout);
  expect(summary).not.toBeNull();
  expect(Number(summary![2])).toBe(0);
  expect(stress.stderr).toBe('');

  // Each span's prompt names its worker and round, and the answer the sensor decoded must be about that same prompt.
  const pairs = spans.map((span) => {
    const content = (name: string) => {
      const messages = span.attributes[name];
      return typeof messages === 'string' ? (JSON.parse(messages)[0].parts[0].content as string) : undefined;
    };
    const input = content('gen_ai.input.messages') ?? '';
    return { prompt: /^(w\d+r\d+) grows its stack$/.exec(input)?.[1], input, output: content('gen_ai.output.messages') ?? '', error: span.attributes['error.type'], status: span.status };
  });
  expect(pairs.filter((pair) => pair.prompt === undefined || !pair.output.endsWith(`${pair.prompt} grows its stack`))).toEqual([]);
  // Both transports of the program were seen: HTTP/1.1 keep-alive connections it opened before the sensor (judged
  // at their next request line), and the HTTP/2 connections it keeps opening (an HTTP/2 connection that started
  // before the sensor cannot be decoded: its header compression state is unknown).
  const workers = new Set(pairs.map((pair) => Number(/^w(\d+)/.exec(pair.prompt!)![1]) % 2));
  expect(workers).toEqual(new Set([0, 1]));
  console.log(`go stack stress: ${summary![1]} calls, ${spans.length} spans checked from the first sensor`);
}, 240_000);
