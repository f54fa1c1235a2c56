/** What one round of demo traffic does, shared by the mock's set-up (demo-command.ts) and the traffic (demo-traffic.ts). */

export const DEMO_MODELS = {
  /** Thinks for 1.4 s: the call over the 1 s alert rule. */
  slow: { model: 'o3-mini', delayMs: 1400 },
  /** Past its quota: answers 429. */
  rateLimited: 'gpt-4.1',
  /** No access granted on Bedrock: AccessDeniedException. */
  denied: 'anthropic.claude-3-opus-20240229-v1:0',
} as const;

/**
 * LLM calls in one round: OpenAI 7 (a chat, a stream, a three-turn conversation with a tool call, a slow call, a
 * rate-limited call), Anthropic 4 (a message, a stream, a two-turn tool use), Bedrock 5 (converse and its stream,
 * invoke and its stream, an AccessDeniedException).
 */
export const CALLS_PER_ROUND = 16;

/** Words in the round's prompts that the end-to-end test looks for. */
export const DEMO_PROMPTS = {
  hamlet: 'Summarise the plot of Hamlet in two sentences.',
  slow: 'Plan a three-city rail trip through Portugal, step by step.',
  weather: 'What is the weather in Lisbon tomorrow?',
  umbrella: 'Should I pack an umbrella for the evening?',
} as const;
