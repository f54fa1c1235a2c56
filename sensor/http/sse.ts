/** Server-Sent Events bodies (OpenAI and Anthropic streaming) split into events, tolerating a cut-off tail. */
import { createParser } from 'eventsource-parser';

export interface SseEvent {
  event?: string;
  data: string;
  id?: string;
}

export interface SseParseResult {
  /** Events that ended with their blank line. */
  events: SseEvent[];
  /** The last event when the body stopped before its blank line (capture limit, connection cut). */
  truncatedEvent?: SseEvent;
}

/** Forcing an event boundary after the body reveals whether an unfinished event was pending. */
const EVENT_BOUNDARY = '\n\n';

export function parseSse(body: Buffer): SseParseResult {
  const events: SseEvent[] = [];
  const parser = createParser({
    onEvent: (message) => {
      const event: SseEvent = { data: message.data };
      if (message.event !== undefined) event.event = message.event;
      if (message.id !== undefined) event.id = message.id;
      events.push(event);
    },
    // Unknown fields and bad retry values are legal to ignore per the SSE spec.
    onError: () => undefined,
  });
  parser.feed(body.toString('utf8'));
  const completeCount = events.length;
  parser.feed(EVENT_BOUNDARY);
  if (events.length === completeCount) return { events };
  const truncatedEvent = events.pop();
  return truncatedEvent ? { events, truncatedEvent } : { events };
}

/**
 * The complete events of an SSE body. A truncated last event is left out and passed to
 * `onTruncated`, never thrown: the events before it are still worth reading.
 */
export function parseSseEvents(body: Buffer, onTruncated?: (event: SseEvent) => void): SseEvent[] {
  const result = parseSse(body);
  if (result.truncatedEvent && onTruncated) onTruncated(result.truncatedEvent);
  return result.events;
}
