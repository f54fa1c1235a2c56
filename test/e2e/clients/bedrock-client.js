// Calls the mock provider through the official @aws-sdk/client-bedrock-runtime with its default HTTP/2
// handler, trusting the test CA, and reports the SigV4 headers it signed with (tests look for leaks).
'use strict';
const fs = require('node:fs');
const {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
} = require('@aws-sdk/client-bedrock-runtime');
const { runPlan } = require('./client-io');

const SIGNING_HEADERS = ['authorization', 'x-amz-security-token', 'x-amz-date', 'x-amz-content-sha256'];
let client;
const signedHeaders = [];

function createClient(plan) {
  const created = new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: plan.endpoint,
    credentials: plan.credentials,
    maxAttempts: 1,
    // The SDK's default: one HTTP/2 session for all calls, so the sensor decodes many streams (and one HPACK table) per connection.
    requestHandler: { nodeHttp2ConnectOptions: { ca: fs.readFileSync(plan.caPath, 'utf8') } },
  });
  // The deserialize step sees the request as sent: signed.
  created.middlewareStack.add(
    (next) => async (args) => {
      const headers = args.request?.headers ?? {};
      signedHeaders.push(Object.fromEntries(SIGNING_HEADERS.filter((name) => headers[name]).map((name) => [name, headers[name]])));
      return next(args);
    },
    { step: 'deserialize', name: 'recordSignedHeaders' },
  );
  return created;
}

const utf8 = (bytes) => Buffer.from(bytes).toString('utf8');

runPlan(async (plan, call) => {
  client ??= createClient(plan);
  const input = { ...call.params };
  if (input.body !== undefined) input.body = JSON.stringify(input.body);
  switch (call.api) {
    case 'converse':
      return client.send(new ConverseCommand(input)).then(({ $metadata, ...output }) => output);
    case 'converse-stream': {
      const response = await client.send(new ConverseStreamCommand(input));
      const events = [];
      for await (const event of response.stream) events.push(event);
      const text = events.map((event) => event.contentBlockDelta?.delta?.text ?? '').join('');
      return { text, stopReason: events.find((event) => event.messageStop)?.messageStop.stopReason, usage: events.find((event) => event.metadata)?.metadata.usage };
    }
    case 'invoke': {
      const response = await client.send(new InvokeModelCommand(input));
      return JSON.parse(utf8(response.body));
    }
    case 'invoke-stream': {
      const response = await client.send(new InvokeModelWithResponseStreamCommand(input));
      const chunks = [];
      for await (const event of response.body) if (event.chunk) chunks.push(JSON.parse(utf8(event.chunk.bytes)));
      return { chunks };
    }
    default:
      throw new Error(`bedrock client: unknown api ${call.api}`);
  }
}, () => ({ signedHeaders })).catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
});
