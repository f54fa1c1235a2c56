/** One call: the chat, every fact about it, the raw exchange, and copy as JSON. */
import { useEffect, useState } from 'preact/hooks';
import { api, type CallDetail } from './api';
import { Chat } from './chat';
import { formatCost, formatCount, formatDuration, formatTime } from './format';

type Attributes = Record<string, unknown>;

function attribute(attributes: Attributes, ...names: string[]): unknown {
  for (const name of names) if (attributes[name] !== undefined && attributes[name] !== '') return attributes[name];
  return undefined;
}

function Fact({ label, value, testId }: { label: string; value: unknown; testId?: string }) {
  if (value === undefined || value === null || value === '') return null;
  return (
    <div class="fact" data-testid={testId}>
      <dt>{label}</dt>
      <dd>{String(value)}</dd>
    </div>
  );
}

async function copyText(text: string): Promise<void> {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
  // Plain-HTTP pages on another address have no clipboard API: the old way still works there.
  const area = document.createElement('textarea');
  area.value = text;
  document.body.append(area);
  area.select();
  document.execCommand('copy');
  area.remove();
}

export function CallPage({ id }: { id: number }) {
  const [call, setCall] = useState<CallDetail | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    setCall(undefined);
    api.call(id).then(setCall, (failure: Error) => setError(failure.message));
  }, [id]);
  if (error) return <p class="error">{error}</p>;
  if (!call) return <p class="muted">loading…</p>;

  const a = call.span.attributes as Attributes;
  const r = call.span.resource as Attributes;
  const outputTokens = call.outputTokens ?? 0;
  const generatingMs = call.ttfcMs !== null ? call.durationMs - call.ttfcMs : call.durationMs;
  const tokensPerSecond = outputTokens > 0 && generatingMs > 0 ? (outputTokens / (generatingMs / 1000)).toFixed(1) : undefined;
  const finish = attribute(a, 'gen_ai.response.finish_reason') ?? (Array.isArray(a['gen_ai.response.finish_reasons']) ? (a['gen_ai.response.finish_reasons'] as string[]).join(', ') : undefined);
  const copy = () => copyText(JSON.stringify(call.span, null, 2)).then(() => {
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  });

  return (
    <section class="call">
      <header class="call-head">
        <div>
          <h1>
            {call.operation ?? 'call'} <span class="model">{call.model ?? call.responseModel}</span>
          </h1>
          <p class="muted">
            {call.provider} · {formatTime(call.startMs)} · {formatDuration(call.durationMs)} · {call.workload ?? call.process ?? 'unknown process'}
            {call.pid !== null ? ` (pid ${call.pid})` : ''}
          </p>
        </div>
        <div class="actions">
          {call.status === 'error' ? <span class="badge error">{call.errorType ?? 'error'}</span> : <span class="badge ok">{call.httpStatus ?? 'ok'}</span>}
          <button type="button" onClick={copy}>
            {copied ? 'Copied' : 'Copy as JSON'}
          </button>
          {call.conversationTurns > 1 ? (
            <a class="button" href={`/conversations/${call.conversationId}#turn-${call.turn}`}>
              Conversation · turn {call.turn} of {call.conversationTurns}
            </a>
          ) : null}
        </div>
      </header>

      {call.status === 'error' ? (
        <div class="provider-error" data-testid="provider-error">
          <strong>{String(attribute(a, 'gen_ai.error.type', 'error.type') ?? 'error')}</strong>
          {attribute(a, 'gen_ai.error.code') !== undefined ? <span> · code {String(a['gen_ai.error.code'])}</span> : null}
          {call.httpStatus !== null ? <span> · HTTP {call.httpStatus}</span> : null}
          <div>{String(attribute(a, 'gen_ai.error.message') ?? call.span.status.message ?? '')}</div>
        </div>
      ) : null}

      <div class="call-body">
        <div class="conversation-column">
          <h2>Conversation</h2>
          <Chat call={call} fromMessage={call.sharedPrefix} />
        </div>
        <aside>
          <h2>Facts</h2>
          <dl class="facts">
            <Fact label="request model" value={call.model} />
            <Fact label="response model" value={call.responseModel} />
            <Fact label="input tokens" value={formatCount(call.inputTokens)} testId="input-tokens" />
            <Fact label="output tokens" value={formatCount(call.outputTokens)} testId="output-tokens" />
            <Fact label="cached input tokens" value={a['gen_ai.usage.cache_read.input_tokens']} />
            <Fact label="cache write tokens" value={a['gen_ai.usage.cache_creation.input_tokens']} />
            <Fact label="reasoning tokens" value={a['gen_ai.usage.reasoning.output_tokens']} />
            <Fact label="cost" value={formatCost(call.costUsd)} />
            <Fact label="latency" value={formatDuration(call.durationMs)} testId="latency" />
            <Fact label="time to first chunk" value={call.ttfcMs !== null ? formatDuration(call.ttfcMs) : undefined} />
            <Fact label="tokens per second" value={tokensPerSecond} />
            <Fact label="finish reason" value={finish} />
            <Fact label="streamed" value={a['gen_ai.request.stream']} />
            <Fact label="HTTP status" value={call.httpStatus} />
            <Fact label="server" value={attribute(a, 'server.address')} />
            <Fact label="source" value={call.source === 'ebpf' ? 'captured (eBPF)' : 'received (OTLP)'} />
          </dl>
          <h2>Process</h2>
          <dl class="facts">
            <Fact label="executable" value={attribute(r, 'process.executable.path', 'process.executable.name')} />
            <Fact label="pid" value={r['process.pid']} />
            <Fact label="command line" value={r['process.command_line']} />
            <Fact label="container" value={r['container.id']} />
            <Fact label="pod" value={r['k8s.pod.name']} />
            <Fact label="namespace" value={r['k8s.namespace.name']} />
            <Fact label="workload" value={r['sightline.workload']} />
            <Fact label="node" value={r['k8s.node.name']} />
            <Fact label="cluster" value={r['k8s.cluster.name']} />
            <Fact label="service" value={r['service.name']} />
          </dl>
        </aside>
      </div>

      <h2>Raw request and response</h2>
      {call.raw ? (
        <div class="raw">
          <details open>
            <summary>request</summary>
            <pre data-testid="raw-request">{call.raw.request}</pre>
          </details>
          {call.raw.response !== undefined ? (
            <details>
              <summary>response</summary>
              <pre data-testid="raw-response">{call.raw.response}</pre>
            </details>
          ) : null}
        </div>
      ) : (
        <p class="muted">Not kept for this call (received over OTLP, or stored before raw exchanges were kept).</p>
      )}
      <details class="attributes">
        <summary>All span attributes</summary>
        <table>
          <tbody>
            {Object.entries({ ...a, ...Object.fromEntries(Object.entries(r).map(([key, value]) => [`resource: ${key}`, value])) }).map(([key, value]) => (
              <tr key={key}>
                <th>{key}</th>
                <td>
                  <code>{typeof value === 'string' ? value : JSON.stringify(value)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </section>
  );
}
