/** The UI's calls to its server (sensor/ui/ui-server.ts) and the live event stream. */
import type {
  AlertFiring,
  AlertRule,
  AlertRuleInput,
  CallDetail,
  CallPage,
  Conversation,
  ConversationSummary,
  Facets,
  Overview,
  StoreInfo,
} from '../../store/call-query';

export type { AlertFiring, AlertRule, AlertRuleInput, CallDetail, CallPage, CallSummary, Conversation, ConversationSummary, Facets, Overview, StoreInfo } from '../../store/call-query';

async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path, { headers: { accept: 'application/json' } });
  const body = (await response.json()) as T & { error?: string };
  if (!response.ok) throw new Error(body.error ?? `${response.status} ${response.statusText}`);
  return body;
}

async function sendJson<T>(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const answer = (await response.json()) as T & { error?: string };
  if (!response.ok) throw new Error(answer.error ?? `${response.status} ${response.statusText}`);
  return answer;
}

export const api = {
  calls: (query: URLSearchParams) => getJson<CallPage>(`/api/calls?${query}`),
  call: (id: number) => getJson<CallDetail>(`/api/calls/${id}`),
  facets: () => getJson<Facets>('/api/facets'),
  conversations: (query: URLSearchParams) => getJson<ConversationSummary[]>(`/api/conversations?${query}`),
  conversation: (id: number) => getJson<Conversation>(`/api/conversations/${id}`),
  overview: (sinceMs: number, untilMs: number) => getJson<Overview>(`/api/overview?since=${Math.floor(sinceMs)}&until=${Math.ceil(untilMs)}`),
  alerts: () => getJson<{ rules: AlertRule[]; firings: AlertFiring[] }>('/api/alerts'),
  addAlertRule: (input: AlertRuleInput) => sendJson<AlertRule>('POST', '/api/alerts', input),
  deleteAlertRule: (id: number) => sendJson<{ deleted: number }>('DELETE', `/api/alerts/${id}`),
  info: () => getJson<{ store: StoreInfo; mode?: string; attachedFiles?: string[] }>('/api/info'),
};

type Listener<T> = (value: T) => void;

/** One EventSource for the whole page; pages subscribe to new calls and alert firings. */
class LiveEvents {
  private source: EventSource | undefined;
  private readonly callListeners = new Set<Listener<number>>();
  private readonly firingListeners = new Set<Listener<AlertFiring>>();
  private readonly stateListeners = new Set<Listener<boolean>>();
  connected = false;

  private ensure(): void {
    if (this.source) return;
    this.source = new EventSource('/api/events');
    this.source.addEventListener('calls', (event) => {
      const { lastId } = JSON.parse((event as MessageEvent<string>).data) as { lastId: number };
      for (const listener of this.callListeners) listener(lastId);
    });
    this.source.addEventListener('firing', (event) => {
      const firing = JSON.parse((event as MessageEvent<string>).data) as AlertFiring;
      for (const listener of this.firingListeners) listener(firing);
    });
    this.source.onopen = () => this.setConnected(true);
    this.source.onerror = () => this.setConnected(false);
  }

  private setConnected(value: boolean): void {
    this.connected = value;
    for (const listener of this.stateListeners) listener(value);
  }

  onCalls(listener: Listener<number>): () => void {
    this.ensure();
    this.callListeners.add(listener);
    return () => this.callListeners.delete(listener);
  }

  onFiring(listener: Listener<AlertFiring>): () => void {
    this.ensure();
    this.firingListeners.add(listener);
    return () => this.firingListeners.delete(listener);
  }

  onConnection(listener: Listener<boolean>): () => void {
    this.ensure();
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }
}

export const live = new LiveEvents();
