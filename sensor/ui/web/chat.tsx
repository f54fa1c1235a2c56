/** A call's messages as a chat: system instructions, user and assistant turns, tool calls and their results. */
import type { CallDetail } from './api';

export interface Part {
  type?: string;
  content?: unknown;
  id?: string;
  name?: string;
  arguments?: unknown;
  response?: unknown;
}

export interface Message {
  role?: string;
  parts?: Part[];
  finish_reason?: string;
}

function parseList<T>(value: unknown): T[] {
  if (typeof value !== 'string') return [];
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) ? (parsed as T[]) : [];
  } catch {
    return [];
  }
}

/** The three content attributes of a span, parsed. */
export function callMessages(call: Pick<CallDetail, 'span'>): { system: Part[]; input: Message[]; output: Message[] } {
  const attributes = call.span.attributes;
  return {
    system: parseList<Part>(attributes['gen_ai.system_instructions']),
    input: parseList<Message>(attributes['gen_ai.input.messages']),
    output: parseList<Message>(attributes['gen_ai.output.messages']),
  };
}

function pretty(value: unknown): string {
  if (typeof value === 'string') {
    try {
      return JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      return value;
    }
  }
  return JSON.stringify(value, null, 2);
}

function PartView({ part }: { part: Part }) {
  switch (part.type) {
    case 'text':
      return <div class="text">{String(part.content ?? '')}</div>;
    case 'reasoning':
      return (
        <details class="reasoning">
          <summary>reasoning</summary>
          <div class="text">{String(part.content ?? '')}</div>
        </details>
      );
    case 'tool_call':
      return (
        <div class="tool">
          <div class="tool-head">
            calls <code>{part.name || 'a tool'}</code>
            {part.id ? <span class="muted"> · {part.id}</span> : null}
          </div>
          <pre>{pretty(part.arguments ?? {})}</pre>
        </div>
      );
    case 'tool_call_response':
      return (
        <div class="tool">
          <div class="tool-head">
            tool result{part.id ? <span class="muted"> · {part.id}</span> : null}
          </div>
          <pre>{pretty(part.response)}</pre>
        </div>
      );
    default:
      return <div class="muted">[{part.type ?? 'part'}]</div>;
  }
}

export function MessageView({ message, kind }: { message: Message; kind?: 'new' | 'earlier' }) {
  const role = message.role ?? 'unknown';
  return (
    <div class={`message role-${role}${kind === 'earlier' ? ' earlier' : ''}`}>
      <div class="role">
        {role}
        {message.finish_reason ? <span class="muted"> · {message.finish_reason}</span> : null}
      </div>
      {(message.parts ?? []).map((part, index) => (
        <PartView key={index} part={part} />
      ))}
    </div>
  );
}

export function SystemView({ parts }: { parts: Part[] }) {
  if (parts.length === 0) return null;
  return <MessageView message={{ role: 'system', parts }} />;
}

/** The whole exchange of one call; with `fromMessage`, the earlier turns it repeats are folded away. */
export function Chat({ call, fromMessage = 0 }: { call: Pick<CallDetail, 'span'>; fromMessage?: number }) {
  const { system, input, output } = callMessages(call);
  const earlier = input.slice(0, fromMessage);
  const fresh = input.slice(fromMessage);
  return (
    <div class="chat">
      {fromMessage === 0 ? <SystemView parts={system} /> : null}
      {earlier.length > 0 ? (
        <details class="earlier-turns">
          <summary>{earlier.length} earlier message(s) of this conversation</summary>
          {fromMessage > 0 ? <SystemView parts={system} /> : null}
          {earlier.map((message, index) => (
            <MessageView key={index} message={message} kind="earlier" />
          ))}
        </details>
      ) : null}
      {fresh.map((message, index) => (
        <MessageView key={index} message={message} />
      ))}
      {output.map((message, index) => (
        <MessageView key={`out-${index}`} message={message} />
      ))}
      {input.length === 0 && output.length === 0 ? <p class="muted">No content was recorded for this call (obfuscated, or an operation without messages).</p> : null}
    </div>
  );
}
