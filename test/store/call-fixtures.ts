/** Spans as the pipeline hands them to the store: content attributes in the OTel GenAI JSON shapes. */
import type { GenAiSpan } from '../../sensor/span/gen-ai-span';

export type Part = Record<string, unknown>;
export interface Message {
  role: string;
  parts: Part[];
  finish_reason?: string;
}

export const text = (content: string): Part => ({ type: 'text', content });
export const user = (content: string): Message => ({ role: 'user', parts: [text(content)] });
export const assistant = (content: string): Message => ({ role: 'assistant', parts: [text(content)] });
export const toolCall = (id: string, name: string, args: unknown): Message => ({ role: 'assistant', parts: [{ type: 'tool_call', id, name, arguments: args }] });
export const toolResult = (id: string, response: unknown): Message => ({ role: 'tool', parts: [{ type: 'tool_call_response', id, response }] });

export interface CallOptions {
  input: Message[];
  output?: Message[];
  system?: string;
  model?: string;
  provider?: string;
  startMs?: number;
  durationMs?: number;
  pid?: number;
  process?: string;
  workload?: string;
  error?: { type: string; status: number; message: string };
  inputTokens?: number;
  outputTokens?: number;
}

let sequence = 0;

export function callSpan(options: CallOptions): GenAiSpan {
  sequence++;
  const startMs = options.startMs ?? Date.now();
  const model = options.model ?? 'gpt-4o-mini';
  const attributes: GenAiSpan['attributes'] = {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': options.provider ?? 'openai',
    'gen_ai.request.model': model,
    'gen_ai.response.model': `${model}-2024`,
    'gen_ai.usage.input_tokens': options.inputTokens ?? 12,
    'gen_ai.usage.output_tokens': options.outputTokens ?? 7,
    'http.response.status_code': options.error?.status ?? 200,
    'gen_ai.input.messages': JSON.stringify(options.input),
  };
  if (options.output) attributes['gen_ai.output.messages'] = JSON.stringify(options.output.map((message) => ({ ...message, finish_reason: 'stop' })));
  if (options.system) attributes['gen_ai.system_instructions'] = JSON.stringify([text(options.system)]);
  if (options.error) {
    attributes['error.type'] = options.error.type;
    attributes['gen_ai.error.message'] = options.error.message;
  }
  const resource: GenAiSpan['resource'] = { 'process.pid': options.pid ?? 4242, 'process.executable.name': options.process ?? 'node' };
  if (options.workload) resource['sightline.workload'] = options.workload;
  const start = BigInt(Math.round(startMs * 1000)) * 1000n;
  return {
    traceId: sequence.toString(16).padStart(32, '0'),
    spanId: sequence.toString(16).padStart(16, '0'),
    name: `chat ${model}`,
    kind: 'client',
    startTimeUnixNano: start,
    endTimeUnixNano: start + BigInt(Math.round((options.durationMs ?? 200) * 1e6)),
    attributes,
    resource,
    status: options.error ? { code: 'error', message: options.error.message } : { code: 'unset' },
    source: 'ebpf',
  };
}
