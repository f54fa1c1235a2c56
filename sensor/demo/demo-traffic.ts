/**
 * One round of the demo's LLM traffic, through the official OpenAI, Anthropic and Bedrock SDKs, against the
 * demo's mock provider. Run as its own process by `sightline demo` (the sensor captures every process but
 * itself); it trusts the mock's throwaway CA through NODE_EXTRA_CA_CERTS and prints a JSON summary on stdout.
 *
 * The round has what the UI is for: plain and streamed chats of three providers, a conversation with a tool call,
 * a slow reasoning call, a rate-limited model and a Bedrock model without access.
 */
import Anthropic from '@anthropic-ai/sdk';
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
} from '@aws-sdk/client-bedrock-runtime';
import OpenAI from 'openai';
import { CALLS_PER_ROUND, DEMO_MODELS, DEMO_PROMPTS } from './demo-scenario';

type Call = { name: string; run: () => Promise<unknown> };

const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current forecast for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

async function main(): Promise<void> {
  const baseUrl = process.env.SIGHTLINE_DEMO_PROVIDER_URL;
  if (!baseUrl) throw new Error('demo traffic: SIGHTLINE_DEMO_PROVIDER_URL is not set (run it through `sightline demo`)');
  // Keys in the shapes the SDKs expect; the sensor drops credential headers before anything is stored.
  const openai = new OpenAI({ apiKey: 'sk-demo-0000000000000000000000000000', baseURL: `${baseUrl}/v1`, maxRetries: 0 });
  const anthropic = new Anthropic({ apiKey: 'sk-ant-demo-000000000000000000000000', baseURL: baseUrl, maxRetries: 0 });
  const bedrock = new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: baseUrl,
    maxAttempts: 1,
    credentials: { accessKeyId: 'AKIADEMO0000000000000', secretAccessKey: 'demo-secret-key-not-real-0000000000000000' },
  });
  const utf8 = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

  const travelSystem = 'You are a concise travel assistant. Use the tools when you need facts.';
  const calls: Call[] = [
    {
      name: 'openai chat',
      run: () => openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: DEMO_PROMPTS.hamlet }] }),
    },
    {
      name: 'openai chat stream',
      run: async () => {
        const stream = await openai.chat.completions.create({
          model: 'gpt-4o',
          stream: true,
          stream_options: { include_usage: true },
          messages: [
            { role: 'system', content: 'You write short poems.' },
            { role: 'user', content: 'Write a haiku about observability.' },
          ],
        });
        for await (const chunk of stream) void chunk;
      },
    },
    {
      name: 'openai conversation with a tool',
      run: async () => {
        const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
          { role: 'system', content: travelSystem },
          { role: 'user', content: DEMO_PROMPTS.weather },
        ];
        const first = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, tools: [weatherTool] });
        const toolCall = first.choices[0].message.tool_calls?.[0];
        if (!toolCall) throw new Error('the mock did not call the tool');
        messages.push(first.choices[0].message, { role: 'tool', tool_call_id: toolCall.id, content: JSON.stringify({ forecast: 'sunny', high_c: 24, rain_chance: 0.1 }) });
        const second = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, tools: [weatherTool] });
        messages.push(second.choices[0].message, { role: 'user', content: DEMO_PROMPTS.umbrella });
        await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, tools: [weatherTool] });
      },
    },
    {
      name: 'openai slow reasoning',
      run: () => openai.chat.completions.create({ model: DEMO_MODELS.slow.model, messages: [{ role: 'user', content: DEMO_PROMPTS.slow }] }),
    },
    {
      name: 'openai rate limited',
      run: () => openai.chat.completions.create({ model: DEMO_MODELS.rateLimited, messages: [{ role: 'user', content: 'Translate good morning into Japanese.' }] }),
    },
    {
      name: 'anthropic message',
      run: () => anthropic.messages.create({ model: 'claude-3-5-haiku-latest', max_tokens: 256, messages: [{ role: 'user', content: 'Explain eBPF uprobes to a five year old.' }] }),
    },
    {
      name: 'anthropic stream',
      run: async () => {
        const stream = await anthropic.messages.create({
          model: 'claude-sonnet-4-20250514',
          max_tokens: 256,
          stream: true,
          system: 'Answer like a pirate.',
          messages: [{ role: 'user', content: 'Why do ships have portholes?' }],
        });
        for await (const event of stream) void event;
      },
    },
    {
      name: 'anthropic tool use',
      run: async () => {
        const tools = [{ name: 'find_hotel', description: 'Hotels in a city', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] } }];
        const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'Find me a quiet hotel in Porto.' }];
        const first = await anthropic.messages.create({ model: 'claude-3-5-haiku-latest', max_tokens: 256, system: travelSystem, tools, messages });
        const use = first.content.find((block) => block.type === 'tool_use');
        if (!use || use.type !== 'tool_use') throw new Error('the mock did not use the tool');
        messages.push({ role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'Casa do Rio, 4.7 stars, riverside, quiet rooms' }] });
        await anthropic.messages.create({ model: 'claude-3-5-haiku-latest', max_tokens: 256, system: travelSystem, tools, messages });
      },
    },
    {
      name: 'bedrock converse',
      run: () => bedrock.send(new ConverseCommand({ modelId: 'amazon.nova-lite-v1:0', messages: [{ role: 'user', content: [{ text: 'List three uses of an LLM call log.' }] }], inferenceConfig: { maxTokens: 200 } })),
    },
    {
      name: 'bedrock converse stream',
      run: async () => {
        const response = await bedrock.send(
          new ConverseStreamCommand({ modelId: 'anthropic.claude-3-haiku-20240307-v1:0', system: [{ text: 'Be brief.' }], messages: [{ role: 'user', content: [{ text: 'What is a token budget?' }] }] }),
        );
        for await (const event of response.stream ?? []) void event;
      },
    },
    {
      name: 'bedrock invoke',
      run: async () => {
        const response = await bedrock.send(
          new InvokeModelCommand({ modelId: 'meta.llama3-8b-instruct-v1:0', contentType: 'application/json', body: JSON.stringify({ prompt: 'Name a famous lighthouse.', max_gen_len: 64 }) }),
        );
        return JSON.parse(utf8(response.body));
      },
    },
    {
      name: 'bedrock invoke stream',
      run: async () => {
        const response = await bedrock.send(
          new InvokeModelWithResponseStreamCommand({
            modelId: 'anthropic.claude-3-5-sonnet-20240620-v1:0',
            contentType: 'application/json',
            body: JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 128, messages: [{ role: 'user', content: 'Describe the colour of the sea at dawn.' }] }),
          }),
        );
        for await (const event of response.body ?? []) void event;
      },
    },
    {
      name: 'bedrock access denied',
      run: () => bedrock.send(new ConverseCommand({ modelId: DEMO_MODELS.denied, messages: [{ role: 'user', content: [{ text: 'Draft a contract clause about data residency.' }] }] })),
    },
  ];

  const failures: Array<{ name: string; error: string }> = [];
  for (const call of calls) {
    try {
      await call.run();
    } catch (error) {
      failures.push({ name: call.name, error: `${(error as Error).name}: ${(error as Error).message}`.slice(0, 200) });
    }
  }
  bedrock.destroy();
  process.stdout.write(`${JSON.stringify({ calls: CALLS_PER_ROUND, failures })}\n`);
}

if (require.main === module) {
  main().catch((error: Error) => {
    process.stderr.write(`demo traffic: ${error.message}\n`);
    process.exitCode = 1;
  });
}
