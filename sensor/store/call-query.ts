/** What the store answers: the shapes the web UI's API serves. Shared by the store, its client and the UI edge. */
import type { CallListFacts, RawExchange, SpanDocument } from './stored-call';

export interface CallFilter {
  provider?: string;
  model?: string;
  status?: 'ok' | 'error';
  /** A process (executable) name or a workload name. */
  process?: string;
  /** Only calls that took longer than this. */
  minDurationMs?: number;
  sinceMs?: number;
  untilMs?: number;
  /** Words or a phrase to find in prompt and response text. */
  search?: string;
}

export interface CallListRequest extends CallFilter {
  /** Calls recorded before this id (the next page). */
  beforeId?: number;
  /** Calls recorded after this id (the live tail). */
  afterId?: number;
  /** @default 100 */
  limit?: number;
}

/** A call as the list shows it: what was stored of it, its id and its place in a conversation. */
export interface CallSummary extends CallListFacts {
  id: number;
  conversationId: number;
  turn: number;
}

export interface CallPage {
  calls: CallSummary[];
  /** Pass as `beforeId` for the next page; absent on the last page. */
  nextBeforeId?: number;
}

export interface CallDetail extends CallSummary {
  span: SpanDocument;
  raw?: RawExchange;
  /** Input messages this call shares with the earlier turn of its conversation (0 for a first turn). */
  sharedPrefix: number;
  /** Turns in this call's conversation. */
  conversationTurns: number;
}

export interface ConversationSummary {
  id: number;
  turns: number;
  firstMs: number;
  lastMs: number;
  process: string | null;
  workload: string | null;
  models: string[];
  inputTokens: number;
  outputTokens: number;
  errors: number;
  preview: string;
}

export interface Conversation extends ConversationSummary {
  calls: CallDetail[];
}

export interface Facets {
  providers: string[];
  models: string[];
  processes: string[];
}

export interface OverviewRequest {
  sinceMs: number;
  untilMs: number;
  /** Bucket width; chosen by the store from the range when absent. */
  bucketMs?: number;
}

export interface ModelSeries {
  model: string;
  calls: number[];
  tokens: number[];
  costUsd: number[];
  p50Ms: Array<number | null>;
  p90Ms: Array<number | null>;
  p99Ms: Array<number | null>;
}

export interface RankedName {
  name: string;
  calls: number;
  tokens: number;
  costUsd: number;
}

export interface Overview {
  bucketMs: number;
  /** Bucket start times (ms). */
  buckets: number[];
  models: ModelSeries[];
  /** Share of calls that failed, per bucket (null where there were none). */
  errorRate: Array<number | null>;
  totals: { calls: number; errors: number; inputTokens: number; outputTokens: number; costUsd: number; p50Ms: number | null; p90Ms: number | null; p99Ms: number | null };
  topWorkloads: RankedName[];
  topProcesses: RankedName[];
}

export type AlertKind = 'duration' | 'error_rate' | 'tokens_per_hour';

export interface AlertRuleInput {
  name?: string;
  kind: AlertKind;
  /** Milliseconds (duration), percent (error_rate) or tokens (tokens_per_hour). */
  threshold: number;
  /** Window of the error rate, in minutes. @default 5 */
  windowMinutes?: number;
}

export interface AlertRule extends Required<AlertRuleInput> {
  id: number;
  createdMs: number;
  /** Rate rules fire once when they cross their threshold, and again only after they have cleared. */
  firing: boolean;
}

export interface AlertFiring {
  id: number;
  ruleId: number;
  ruleName: string;
  firedMs: number;
  value: number;
  message: string;
  /** The call that fired a duration rule. */
  callId: number | null;
}

export interface StoreInfo {
  file: string;
  calls: number;
  usedBytes: number;
  maxBytes: number;
  maxAgeDays: number;
  oldestMs: number | null;
}
