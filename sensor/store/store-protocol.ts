/** Messages between the sensor's event loop (store-client.ts) and the store's worker thread (store-worker.ts). */
import type { AlertFiring, StoreInfo } from './call-query';
import type { CallStore } from './call-store';
import type { EncodedCallRecord } from './stored-call';

export interface StoreWorkerData {
  file: string;
  maxBytes: number;
  maxAgeMs: number;
  defaultDurationRuleMs: number;
  retentionIntervalMs: number;
  rateRuleIntervalMs: number;
}

/** The store's read and rule methods the UI may call through the worker. */
export const STORE_QUERIES = [
  'listCalls',
  'exportCalls',
  'getCall',
  'facets',
  'listConversations',
  'getConversation',
  'overview',
  'alertRules',
  'addAlertRule',
  'deleteAlertRule',
  'firings',
  'info',
] as const satisfies ReadonlyArray<keyof CallStore>;

export type StoreQuery = (typeof STORE_QUERIES)[number];

export type ToWorker =
  | { type: 'insert'; records: EncodedCallRecord[] }
  | { type: 'query'; id: number; method: StoreQuery; args: unknown[] }
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; info: StoreInfo }
  | { type: 'failed'; message: string }
  | { type: 'inserted'; count: number; stored: number; lastId: number; firings: AlertFiring[] }
  | { type: 'insert-failed'; count: number; message: string }
  | { type: 'firings'; firings: AlertFiring[] }
  | { type: 'result'; id: number; value?: unknown; error?: string }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string }
  | { type: 'closed' };
