/** Reading OTLP/JSON requests in tests: every span of a request, whatever resource and scope it is listed under. */
export interface OtlpJsonSpan {
  traceId: string;
  spanId: string;
  name: string;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
  [field: string]: unknown;
}

interface OtlpJsonRequest {
  resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: OtlpJsonSpan[] }> }>;
}

export function otlpSpansOf(request: OtlpJsonRequest): OtlpJsonSpan[] {
  return (request.resourceSpans ?? []).flatMap((resource) => (resource.scopeSpans ?? []).flatMap((scope) => scope.spans ?? []));
}
