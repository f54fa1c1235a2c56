/**
 * What the always-on secret scrubbing costs: CPU time of `scrubSecrets` per MiB of several kinds of text (none holds a
 * secret, the common case), including blobs and text crafted to be dense with key words, and of the whole privacy
 * stage for one span of an 8 KiB call. `npm run bench:secrets`.
 */
import { randomBytes } from 'node:crypto';
import { PrivacyStage } from '../sensor/pipeline/privacy/privacy-stage';
import { scrubSecrets } from '../sensor/pipeline/privacy/secrets';
import type { GenAiSpan } from '../sensor/span/gen-ai-span';

const MIB = 1024 * 1024;
const PROSE = 'Summarise the quarterly report for the board. The model counts tokens; keep the key points short. ';

function repeatTo(unit: string, bytes: number): string {
  return unit.repeat(Math.ceil(bytes / unit.length));
}

const INPUTS: Record<string, string> = {
  'prose': repeatTo(PROSE, MIB),
  'message document (JSON)': JSON.stringify(Array.from({ length: 4000 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', parts: [{ type: 'text', content: `${PROSE}(${i})` }] }))),
  'tool results (JSON, many keys)': JSON.stringify(Array.from({ length: 9000 }, (_, i) => ({ id: i, name: `item-${i}`, max_tokens: 256, status: 'ok', tags: ['a', 'b'] }))),
  'base64 image': JSON.stringify({ image: randomBytes(768 * 1024).toString('base64') }),
  'base64url blob': JSON.stringify({ blob: randomBytes(768 * 1024).toString('base64url') }),
  'hex': randomBytes(MIB / 2).toString('hex'),
  'crafted: key-key-key...': repeatTo('key-key-key-key-key-', MIB),
  'crafted: token token...': repeatTo('token token token token ', MIB),
};

function cpuMicros(run: () => void, times: number): number {
  run();
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const start = process.cpuUsage();
    for (let i = 0; i < times; i++) run();
    const used = process.cpuUsage(start);
    best = Math.min(best, (used.user + used.system) / times);
  }
  return best;
}

function callSpan(): GenAiSpan {
  const prompt = repeatTo(PROSE, 8 * 1024);
  return {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', name: 'chat gpt-4o', kind: 'client', startTimeUnixNano: 1n, endTimeUnixNano: 2n,
    status: { code: 'unset' }, source: 'ebpf',
    attributes: {
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.input.messages': JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: prompt }] }]),
      'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: prompt.slice(0, 1024) }], finish_reason: 'stop' }]),
      'gen_ai.usage.input_tokens': 2000,
      'server.address': 'api.openai.com',
    },
    resource: { 'process.command_line': 'node app.js --port 3000', 'process.executable.name': 'node', 'process.pid': 42 },
  };
}

console.log('| input | size | CPU per MiB |');
console.log('| --- | --- | --- |');
for (const [name, text] of Object.entries(INPUTS)) {
  if (scrubSecrets(text) !== text) throw new Error(`bench input "${name}" was changed: it must hold no secret`);
  const micros = cpuMicros(() => scrubSecrets(text), 5);
  console.log(`| ${name} | ${(text.length / MIB).toFixed(2)} MiB | ${((micros / 1000) / (text.length / MIB)).toFixed(1)} ms |`);
}
const stage = new PrivacyStage({});
const span = callSpan();
console.log(`\nprivacy stage, no config, one span of an 8 KiB call: ${cpuMicros(() => stage.apply(span), 2000).toFixed(1)} µs CPU`);
