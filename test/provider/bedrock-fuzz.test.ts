/** Random and mutated input must never crash the Bedrock adapter or the event-stream decoder. */
import { decodeEventStream } from '../../sensor/http/eventstream';
import { bedrockAdapter } from '../../sensor/provider/bedrock';
import { ProviderParseError } from '../../sensor/provider/llm-call';
import { bedrockExchange, encodeStream, invokeChunk, type StreamEvent } from '../support/bedrock-fixture';

/** Seeded so a failure reproduces; the seed is in the test name. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = 20240620;
const random = prng(SEED);
const int = (max: number): number => Math.floor(random() * max);

function randomBytes(length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = int(256);
  return out;
}

function mutate(input: Buffer): Buffer {
  const out = Buffer.from(input);
  switch (int(4)) {
    case 0: // flip bytes
      for (let i = 0, n = 1 + int(4); i < n && out.length > 0; i++) out[int(out.length)] ^= 1 << int(8);
      return out;
    case 1: // truncate
      return out.subarray(0, int(out.length + 1));
    case 2: // splice random bytes in
      return Buffer.concat([out.subarray(0, int(out.length + 1)), randomBytes(int(32)), out.subarray(int(out.length + 1))]);
    default: // duplicate a slice
      {
        const start = int(out.length + 1);
        return Buffer.concat([out, out.subarray(start, start + int(64))]);
      }
  }
}

const anthropicStream: StreamEvent[] = [
  invokeChunk({ type: 'message_start', message: { id: 'm', model: 'c', usage: { input_tokens: 3, output_tokens: 1 } } }),
  invokeChunk({ type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 't', name: 'n' } }),
  invokeChunk({ type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"a"' } }),
  invokeChunk({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 2 } }),
  invokeChunk({ 'amazon-bedrock-invocationMetrics': { inputTokenCount: 3, outputTokenCount: 2 } }),
  { eventType: 'throttlingException', messageType: 'exception', payload: { message: 'slow down' } },
];
const converseStream: StreamEvent[] = [
  { eventType: 'messageStart', payload: { role: 'assistant' } },
  { eventType: 'contentBlockStart', payload: { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'x', name: 'y' } } } },
  { eventType: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: 'hi', reasoningContent: { text: 'r' } } } },
  { eventType: 'messageStop', payload: { stopReason: 'end_turn' } },
  { eventType: 'metadata', payload: { usage: { inputTokens: 1, outputTokens: 1 } } },
];

const models = [
  'anthropic.claude-3-haiku-20240307-v1:0',
  'amazon.nova-lite-v1:0',
  'amazon.titan-text-express-v1',
  'amazon.titan-embed-text-v2:0',
  'meta.llama3-8b-instruct-v1:0',
  'mistral.mistral-large-2407-v1:0',
  'cohere.command-r-v1:0',
  'cohere.command-text-v14',
  'cohere.embed-english-v3',
  'arn:aws:bedrock:us-east-1:1:application-inference-profile/abc',
];
const requestBodies: unknown[] = [
  { anthropic_version: 'bedrock-2023-05-31', messages: [{ role: 'user', content: [{ type: 'tool_result', content: 7 }] }], system: [1, { type: 'text' }] },
  { messages: [{ role: 5, content: 'x' }, null, { content: [{ toolUse: 3 }, { toolResult: { content: 'no' } }] }], inferenceConfig: [] },
  { inputText: 1, textGenerationConfig: 'x' },
  { prompt: null, max_gen_len: 'x' },
  { message: {}, chat_history: [{ role: 1 }, 'x'] },
  { texts: [1, 'a', null] },
  { messages: [{ role: 'tool', content: [{ text: 2 }] }, { role: 'assistant', tool_calls: [null, { function: 3 }] }] },
];
const responseBodies: unknown[] = [
  { content: 'text', usage: { input_tokens: -1, output_tokens: 1.5 } },
  { output: { message: { content: [{ toolUse: null }] } }, usage: 'x' },
  { results: [{ tokenCount: 'x' }, null], inputTextTokenCount: 'y' },
  { outputs: [null, { text: 1 }], choices: [{ message: null }, { message: { content: [{ text: 'a' }], tool_calls: 'x' } }] },
  { generations: 'x', tool_calls: [1], meta: { billed_units: [] } },
  [],
  null,
];

function expectOnlyParseErrors(run: () => unknown): void {
  try {
    run();
  } catch (err) {
    if (!(err instanceof ProviderParseError)) throw err;
  }
}

describe(`bedrock fuzz (seed ${SEED})`, () => {
  it('decodeEventStream survives random bytes', () => {
    for (let i = 0; i < 1000; i++) {
      const decoded = decodeEventStream(randomBytes(int(200)));
      expect(Array.isArray(decoded.messages)).toBe(true);
    }
  });

  it('decodeEventStream survives mutated valid streams and lets no damaged message through', () => {
    const events = [...anthropicStream, ...converseStream];
    const valid = encodeStream(events);
    const originalPayloads = new Set(decodeEventStream(valid).messages.map((m) => m.payload.toString('hex')));
    expect(originalPayloads.size).toBe(events.length);
    for (let i = 0; i < 1500; i++) {
      const decoded = decodeEventStream(mutate(valid));
      // A frame that passes both CRCs can only be one of the original frames (a CRC collision aside).
      for (const message of decoded.messages) expect(originalPayloads.has(message.payload.toString('hex'))).toBe(true);
    }
  });

  it('the adapter survives mutated event-stream responses for every model family', () => {
    const bodies = [encodeStream(anthropicStream), encodeStream(converseStream)];
    for (let i = 0; i < 1500; i++) {
      const action = i % 2 === 0 ? 'invoke-with-response-stream' : 'converse-stream';
      const exchange = bedrockExchange({
        modelId: models[int(models.length)],
        action,
        requestBody: requestBodies[int(requestBodies.length)],
        responseBody: mutate(bodies[int(bodies.length)]),
      });
      const call = bedrockAdapter.parse(exchange);
      expect(call.provider).toBe('aws.bedrock');
    }
  });

  it('the adapter survives odd JSON shapes in every family and action', () => {
    const actions = ['invoke', 'converse', 'invoke-with-response-stream', 'converse-stream'] as const;
    for (const modelId of models) {
      for (const action of actions) {
        for (const requestBody of requestBodies) {
          for (const responseBody of responseBodies) {
            const chunked = action.endsWith('stream') ? encodeStream([invokeChunk(responseBody), { eventType: 'metadata', payload: responseBody }]) : responseBody;
            expectOnlyParseErrors(() => bedrockAdapter.parse(bedrockExchange({ modelId, action, requestBody, responseBody: chunked })));
          }
        }
      }
    }
  });

  it('the adapter throws nothing but ProviderParseError for random request and response bytes', () => {
    for (let i = 0; i < 2000; i++) {
      const exchange = bedrockExchange({ modelId: models[int(models.length)], action: i % 4 === 0 ? 'converse' : 'invoke', requestBody: {} });
      exchange.request.body = i % 3 === 0 ? mutate(Buffer.from(JSON.stringify(requestBodies[int(requestBodies.length)]))) : randomBytes(int(100));
      exchange.request.bodyTruncated = random() < 0.5;
      exchange.response!.body = randomBytes(int(100));
      exchange.response!.status = [200, 400, 403, 429, 500][int(5)];
      if (random() < 0.3) exchange.response!.headers['x-amzn-errortype'] = randomBytes(int(20)).toString('latin1');
      if (random() < 0.3) exchange.request.path = `/model/${randomBytes(int(12)).toString('latin1')}/invoke`;
      expectOnlyParseErrors(() => bedrockAdapter.parse(exchange));
    }
  });
});
