// An application started as the reported leak was: its keys in one JSON argument on its command line
// (`node argv-keys-client.js '{"openai":"sk-...","awsKeyId":"AKIA...","awsSecret":"...","awsToken":"..."}'`).
// It makes one chat call through the official openai SDK with a prompt that quotes credentials too, and writes
// its pid and the answer to stdout.
'use strict';
const { default: OpenAI } = require('openai');
const { undiciSdkOptions } = require('./client-io');

async function main() {
  const settings = JSON.parse(process.argv[2]);
  const client = new OpenAI(undiciSdkOptions({ apiKey: settings.openai, baseURL: settings.baseURL, caPath: settings.caPath }));
  const answer = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: settings.prompt }], max_tokens: 64 });
  process.stdout.write(JSON.stringify({ pid: process.pid, answer: answer.choices[0].message.content }));
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
});
