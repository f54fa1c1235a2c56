/**
 * Message parts in the OTel GenAI JSON shapes (`gen_ai.input.messages`, `gen_ai.output.messages`,
 * `gen_ai.system_instructions`), shared by every adapter so all providers render content alike.
 * Part fields follow the semconv JSON schemas: a tool call response carries its payload in `response`.
 */
import type { ChatMessage } from './llm-call';
import { stringField, tryParseJson } from './json-fields';

export type MessagePart = Record<string, unknown>;

export function textPart(content: string): MessagePart {
  return { type: 'text', content };
}

export function reasoningPart(content: string): MessagePart {
  return { type: 'reasoning', content };
}

export function toolCallPart(id: string | undefined, name: string | undefined, args: unknown): MessagePart {
  return { type: 'tool_call', id: id ?? '', name: name ?? '', arguments: toolArguments(args) };
}

/** `response` as in the OTel GenAI message schema (the receiver and the obfuscation use the same name). */
export function toolCallResponsePart(id: string | undefined, response: unknown): MessagePart {
  return { type: 'tool_call_response', id: id ?? '', response: response ?? null };
}

/** Media and other parts keep their kind but not their bytes (images inline as base64 would swamp a span). */
export function opaquePart(type: string, extra?: Record<string, unknown>): MessagePart {
  return { type, ...extra };
}

/** Tool arguments arrive as a JSON string (OpenAI) or an object (Anthropic, Ollama); semconv wants the object. */
export function toolArguments(raw: unknown): unknown {
  if (typeof raw !== 'string') return raw ?? null;
  const parsed = tryParseJson(raw);
  return parsed === undefined ? raw : parsed;
}

export function message(role: string, parts: MessagePart[], finishReason?: string): ChatMessage {
  const result: ChatMessage = { role, parts };
  if (finishReason !== undefined) result.finish_reason = finishReason;
  return result;
}

/** Text of a content field that is either a string or a list of `{type:"text", text}` blocks. */
export function plainText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return undefined;
  const texts: string[] = [];
  for (const block of content) {
    if (typeof block === 'string') texts.push(block);
    else {
      const text = stringField(block, 'text');
      if (text !== undefined) texts.push(text);
    }
  }
  return texts.length > 0 ? texts.join('') : undefined;
}

/** Per-index text and tool-call accumulators for streamed deltas. */
export class StreamedChoice {
  text = '';
  reasoning = '';
  finishReason?: string;
  role = 'assistant';
  readonly toolCalls = new Map<number, { id?: string; name?: string; args: string }>();

  addToolCallDelta(index: number, id: string | undefined, name: string | undefined, argsDelta: string | undefined): void {
    let call = this.toolCalls.get(index);
    if (!call) {
      call = { args: '' };
      this.toolCalls.set(index, call);
    }
    if (id) call.id = id;
    if (name) call.name = name;
    if (argsDelta) call.args += argsDelta;
  }

  toMessage(): ChatMessage {
    const parts: MessagePart[] = [];
    if (this.reasoning) parts.push(reasoningPart(this.reasoning));
    if (this.text) parts.push(textPart(this.text));
    for (const index of [...this.toolCalls.keys()].sort((a, b) => a - b)) {
      const call = this.toolCalls.get(index)!;
      parts.push(toolCallPart(call.id, call.name, call.args));
    }
    return message(this.role, parts, this.finishReason);
  }
}

/** Looks up (creating) the accumulator for a choice index. */
export function choiceAt(choices: Map<number, StreamedChoice>, index: number): StreamedChoice {
  let choice = choices.get(index);
  if (!choice) {
    choice = new StreamedChoice();
    choices.set(index, choice);
  }
  return choice;
}

export function orderedChoices(choices: Map<number, StreamedChoice>): StreamedChoice[] {
  return [...choices.keys()].sort((a, b) => a - b).map((index) => choices.get(index)!);
}
