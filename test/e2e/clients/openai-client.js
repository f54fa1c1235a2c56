// Calls the mock provider through the official openai SDK (HTTP/1.1 via undici, trusting the test CA).
'use strict';
const { default: OpenAI } = require('openai');
const { runPlan, undiciSdkOptions } = require('./client-io');

let client;

runPlan(async (plan, call) => {
  client ??= new OpenAI(undiciSdkOptions(plan));
  switch (call.api) {
    case 'chat':
      return client.chat.completions.create(call.params);
    case 'chat-stream': {
      const chunks = [];
      for await (const chunk of await client.chat.completions.create(call.params)) chunks.push(chunk);
      const text = chunks.map((chunk) => chunk.choices[0]?.delta?.content ?? '').join('');
      const finishReason = chunks.map((chunk) => chunk.choices[0]?.finish_reason).find(Boolean);
      return { id: chunks[0]?.id, model: chunks[0]?.model, text, finishReason, usage: chunks.at(-1)?.usage };
    }
    case 'responses':
      return client.responses.create(call.params);
    case 'responses-stream': {
      const events = [];
      for await (const event of await client.responses.create({ ...call.params, stream: true })) events.push(event);
      const done = events.find((event) => event.type === 'response.completed' || event.type === 'response.incomplete');
      const text = events.filter((event) => event.type === 'response.output_text.delta').map((event) => event.delta).join('');
      return { id: done?.response.id, status: done?.response.status, text, usage: done?.response.usage };
    }
    case 'embeddings':
      return client.embeddings.create(call.params);
    default:
      throw new Error(`openai client: unknown api ${call.api}`);
  }
}).catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
});
