// Calls the mock provider through the official @anthropic-ai/sdk (HTTP/1.1 via undici, trusting the test CA).
'use strict';
const { default: Anthropic } = require('@anthropic-ai/sdk');
const { runPlan, undiciSdkOptions } = require('./client-io');

let client;

runPlan(async (plan, call) => {
  client ??= new Anthropic(undiciSdkOptions(plan));
  switch (call.api) {
    case 'messages':
      return client.messages.create(call.params);
    case 'messages-stream': {
      const events = [];
      for await (const event of await client.messages.create({ ...call.params, stream: true })) events.push(event);
      const start = events.find((event) => event.type === 'message_start');
      const text = events.filter((event) => event.type === 'content_block_delta').map((event) => event.delta.text).join('');
      const delta = events.find((event) => event.type === 'message_delta');
      return { id: start?.message.id, model: start?.message.model, text, stopReason: delta?.delta.stop_reason, usage: { ...start?.message.usage, ...delta?.usage } };
    }
    default:
      throw new Error(`anthropic client: unknown api ${call.api}`);
  }
}).catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
});
