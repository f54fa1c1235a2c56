/**
 * The store's thread: owns the SQLite file, writes the batches the exporter posts, answers the UI's queries, and
 * runs retention and the rate alert rules on timers. SQLite calls are synchronous, so they run here and never on
 * the event loop that drains the capture ring.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CallStore } from './call-store';
import { STORE_QUERIES, type FromWorker, type StoreWorkerData, type ToWorker } from './store-protocol';

const port = parentPort!;
const settings = workerData as StoreWorkerData;
const post = (message: FromWorker) => port.postMessage(message);
const log = {
  info: (message: string) => post({ type: 'log', level: 'info', message }),
  warn: (message: string) => post({ type: 'log', level: 'warn', message }),
  error: (message: string) => post({ type: 'log', level: 'error', message }),
};
const queries = new Set<string>(STORE_QUERIES);

function start(): void {
  let store: CallStore;
  try {
    store = CallStore.open({ file: settings.file, maxBytes: settings.maxBytes, maxAgeMs: settings.maxAgeMs, defaultDurationRuleMs: settings.defaultDurationRuleMs, log });
  } catch (error) {
    post({ type: 'failed', message: (error as Error).message });
    return;
  }

  const retain = () => {
    try {
      const { deletedByAge, deletedBySize } = store.enforceRetention();
      if (deletedByAge > 0) log.info(`store: deleted ${deletedByAge} call(s) older than ${settings.maxAgeMs / 86_400_000} day(s)`);
      if (deletedBySize > 0) log.info(`store: deleted the ${deletedBySize} oldest call(s) to stay under ${Math.round(settings.maxBytes / 1048576)} MiB`);
    } catch (error) {
      log.error(`store: retention failed: ${(error as Error).message}`);
    }
  };
  retain();
  const retentionTimer = setInterval(retain, settings.retentionIntervalMs);
  const ruleTimer = setInterval(() => {
    try {
      const firings = store.evaluateRateRules();
      if (firings.length > 0) post({ type: 'firings', firings });
    } catch (error) {
      log.error(`store: alert rules could not be evaluated: ${(error as Error).message}`);
    }
  }, settings.rateRuleIntervalMs);
  // A size check after each batch is three cheap PRAGMAs; deleting only happens once the limit is passed.
  let insertsSinceCheck = 0;

  port.on('message', (message: ToWorker) => {
    switch (message.type) {
      case 'insert': {
        try {
          const result = store.insert(message.records);
          post({ type: 'inserted', count: message.records.length, stored: result.inserted, lastId: result.lastId, firings: result.firings });
          insertsSinceCheck += result.inserted;
          if (insertsSinceCheck >= 200 && store.usedBytes() > settings.maxBytes) {
            insertsSinceCheck = 0;
            retain();
          }
        } catch (error) {
          post({ type: 'insert-failed', count: message.records.length, message: (error as Error).message });
        }
        return;
      }
      case 'query': {
        if (!queries.has(message.method)) {
          post({ type: 'result', id: message.id, error: `store: unknown query ${message.method}` });
          return;
        }
        try {
          const method = store[message.method] as (...args: unknown[]) => unknown;
          post({ type: 'result', id: message.id, value: method.apply(store, message.args) });
        } catch (error) {
          post({ type: 'result', id: message.id, error: (error as Error).message });
        }
        return;
      }
      case 'close': {
        clearInterval(retentionTimer);
        clearInterval(ruleTimer);
        try {
          store.close();
        } catch (error) {
          log.error(`store: closing failed: ${(error as Error).message}`);
        }
        post({ type: 'closed' });
        port.close();
        return;
      }
    }
  });
  post({ type: 'ready', info: store.info() });
}

start();
