/** GenAiSpan fixtures for pipeline and exporter tests. */
import type { Attributes, GenAiSpan } from '../../sensor/span/gen-ai-span';

export interface SpanFixtureOptions {
  index?: number;
  provider?: string;
  requestModel?: string;
  responseModel?: string;
  operation?: string;
  inputTokens?: number;
  outputTokens?: number;
  cacheReadTokens?: number;
  cacheWriteTokens?: number;
  durationMs?: number;
  /** Start, Unix ms. */
  startMs?: number;
  statusCode?: number;
  errorType?: string;
  workload?: string;
  namespace?: string;
  cluster?: string;
  pod?: string;
  executable?: string;
  server?: string;
  extraAttributes?: Attributes;
}

export function hexId(value: number, length: number): string {
  return value.toString(16).padStart(length, '0');
}

export function genAiSpan(options: SpanFixtureOptions = {}): GenAiSpan {
  const index = options.index ?? 1;
  const provider = options.provider ?? 'openai';
  const requestModel = options.requestModel ?? 'gpt-4o';
  const operation = options.operation ?? 'chat';
  const startMs = options.startMs ?? Date.UTC(2026, 10, 25, 13, 45, 0) + index;
  const durationMs = options.durationMs ?? 250;
  const attributes: Attributes = {
    'gen_ai.system': provider,
    'gen_ai.provider.name': provider,
    'gen_ai.operation.name': operation,
    'gen_ai.request.model': requestModel,
    'server.address': options.server ?? 'api.openai.com',
    'http.response.status_code': options.statusCode ?? 200,
  };
  if (options.responseModel) attributes['gen_ai.response.model'] = options.responseModel;
  if (options.inputTokens !== undefined) {
    attributes['gen_ai.usage.input_tokens'] = options.inputTokens;
    attributes['gen_ai.response.usage.input_tokens'] = options.inputTokens;
  }
  if (options.outputTokens !== undefined) {
    attributes['gen_ai.usage.output_tokens'] = options.outputTokens;
    attributes['gen_ai.response.usage.output_tokens'] = options.outputTokens;
  }
  if (options.inputTokens !== undefined || options.outputTokens !== undefined) {
    attributes['gen_ai.response.usage.total_tokens'] = (options.inputTokens ?? 0) + (options.outputTokens ?? 0);
  }
  if (options.cacheReadTokens !== undefined) attributes['gen_ai.usage.cache_read.input_tokens'] = options.cacheReadTokens;
  if (options.cacheWriteTokens !== undefined) attributes['gen_ai.usage.cache_creation.input_tokens'] = options.cacheWriteTokens;
  if (options.errorType) {
    attributes['error.type'] = options.errorType;
    attributes['gen_ai.error.type'] = options.errorType;
  }
  Object.assign(attributes, options.extraAttributes);
  const startNs = BigInt(startMs) * 1_000_000n;
  return {
    traceId: hexId(0xabc000 + index, 32),
    spanId: hexId(0x5000 + index, 16),
    name: `${operation} ${requestModel}`,
    kind: 'client',
    startTimeUnixNano: startNs,
    endTimeUnixNano: startNs + BigInt(Math.round(durationMs * 1_000_000)),
    attributes,
    resource: {
      'k8s.cluster.name': options.cluster ?? 'prod-eu',
      'k8s.namespace.name': options.namespace ?? 'shop',
      'k8s.pod.name': options.pod ?? 'checkout-7d9f-abcde',
      'sightline.workload': options.workload ?? 'checkout',
      'process.pid': 4242,
      'process.executable.name': options.executable ?? 'node',
    },
    status: options.errorType ? { code: 'error', message: options.errorType } : { code: 'unset' },
    source: 'ebpf',
  };
}
