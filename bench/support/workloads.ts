/**
 * The traffic the benchmarks drive: a node HTTPS server that is both an ordinary JSON API and an OpenAI-compatible
 * provider, and node clients (a saturating keep-alive loop, and a paced one). Scripts are written to files and run
 * with the system's node, so the sensor probes them as it would any process on the node.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateTestCertificates, type TestCertificates } from '../../sensor/demo/test-ca';

export const SERVER = `
const https = require('node:https'); const fs = require('node:fs');
const [cert, key] = process.argv.slice(2);
const orders = JSON.stringify({ orders: Array.from({ length: 14 }, (_, i) => ({ id: 1000 + i, sku: 'SKU-' + i, qty: i % 3 + 1, price: 9.5 * i })) });
const completion = (model, prompt) => JSON.stringify({
  id: 'chatcmpl-bench', object: 'chat.completion', created: 1764633600, model: model + '-2024-07-18', system_fingerprint: 'fp_bench',
  choices: [{ index: 0, message: { role: 'assistant', content: 'A short answer to a prompt of ' + prompt + ' bytes.' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: Math.ceil(prompt / 4), completion_tokens: 12, total_tokens: Math.ceil(prompt / 4) + 12 },
});
https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => {
  const chunks = []; req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    let reply = orders;
    if (req.url.endsWith('/chat/completions')) { let model = 'gpt-4o-mini'; try { model = JSON.parse(body).model || model; } catch {} reply = completion(model, body.length); }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(reply) }); res.end(reply);
  });
}).listen(0, '127.0.0.1', function () { console.log(this.address().port); });
`;

/**
 * Keeps `concurrency` requests in flight over keep-alive connections for `seconds`; prints requests per second, the
 * µs per request its thread spent runnable but waiting for a CPU (the kernel's run-queue time, schedstat), and the
 * CPU µs per request it used over the loop (user + system, its start-up left out).
 */
export const LOOP_CLIENT = `
const https = require('node:https'); const fs = require('node:fs');
const [ca, port, seconds, concurrency, path, bodyBytes] = process.argv.slice(2);
const agent = new https.Agent({ keepAlive: true, maxSockets: Number(concurrency), ca: fs.readFileSync(ca) });
const body = path.endsWith('/chat/completions')
  ? JSON.stringify({ model: 'gpt-4o-mini', temperature: 0.2, messages: [{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: 'q'.repeat(Math.max(0, Number(bodyBytes) - 150)) }] })
  : JSON.stringify({ customer: 'c-42', items: [{ sku: 'SKU-1', note: 'n'.repeat(Math.max(0, Number(bodyBytes) - 60)) }] });
const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: 'Bearer sk-bench-not-a-real-key' };
const waitedNs = () => Number(fs.readFileSync('/proc/self/schedstat', 'utf8').split(' ')[1]);
let done = 0; const end = Date.now() + Number(seconds) * 1000; const waitedBefore = waitedNs(); const cpuBefore = process.cpuUsage();
function one() {
  if (Date.now() >= end) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, method: 'POST', path, agent, headers }, (res) => { res.on('data', () => {}); res.on('end', () => { done++; resolve(); }); });
    req.on('error', reject); req.end(body);
  }).then(one);
}
Promise.all(Array.from({ length: Number(concurrency) }, one)).then(() => {
  const cpu = process.cpuUsage(cpuBefore);
  console.log(done / Number(seconds), (waitedNs() - waitedBefore) / 1000 / Math.max(1, done), (cpu.user + cpu.system) / Math.max(1, done)); agent.destroy();
});
`;

/** Paces LLM calls at a fixed rate over keep-alive connections; prints calls done and failed as JSON. */
export const PACED_CLIENT = `
const https = require('node:https'); const fs = require('node:fs');
const [ca, port, rate, seconds, bodyBytes] = process.argv.slice(2).map((v, i) => (i === 0 ? v : Number(v)));
const agent = new https.Agent({ keepAlive: true, maxSockets: 32, ca: fs.readFileSync(ca) });
const filler = 'x'.repeat(Math.max(0, bodyBytes - 200));
let done = 0, failed = 0, sent = 0;
const total = rate * seconds;
const started = Date.now();
function call(i) {
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'call ' + i + ' ' + filler }] });
  const req = https.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/chat/completions', agent,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: 'Bearer sk-bench-not-a-real-key' } }, (res) => {
    res.on('data', () => {}); res.on('end', () => { res.statusCode === 200 ? done++ : failed++; finish(); });
  });
  req.on('error', () => { failed++; finish(); });
  req.end(body);
}
function finish() { if (done + failed === total) { console.log(JSON.stringify({ done, failed, seconds: (Date.now() - started) / 1000 })); agent.destroy(); } }
const tick = setInterval(() => {
  const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * rate));
  while (sent < due) call(sent++);
  if (sent >= total) clearInterval(tick);
}, 5);
`;

export interface Workspace {
  dir: string;
  certs: TestCertificates;
  script(name: 'server' | 'loop-client' | 'paced-client'): string;
}

export async function prepareWorkspace(dir: string): Promise<Workspace> {
  const certs = await generateTestCertificates(path.join(dir, 'tls'));
  const scripts = { server: SERVER, 'loop-client': LOOP_CLIENT, 'paced-client': PACED_CLIENT };
  for (const [name, text] of Object.entries(scripts)) fs.writeFileSync(path.join(dir, `${name}.js`), text);
  return { dir, certs, script: (name) => path.join(dir, `${name}.js`) };
}
