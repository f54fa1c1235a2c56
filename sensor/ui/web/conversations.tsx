/** Conversations found without an SDK: calls whose input extends an earlier call's, per process or workload. */
import { useEffect, useState } from 'preact/hooks';
import { api, live, type Conversation, type ConversationSummary } from './api';
import { Chat } from './chat';
import { formatAgo, formatCost, formatCount, formatDuration, formatTime } from './format';

export function ConversationsPage() {
  const [conversations, setConversations] = useState<ConversationSummary[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const load = () => api.conversations(new URLSearchParams({ limit: '100' })).then(setConversations, (failure: Error) => setError(failure.message));
  useEffect(() => {
    void load();
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Throttled: a burst of calls reloads the list once.
    const stop = live.onCalls(() => (timer ??= setTimeout(() => ((timer = undefined), void load()), 1000)));
    return () => {
      stop();
      clearTimeout(timer);
    };
  }, []);
  if (error) return <p class="error">{error}</p>;
  if (!conversations) return <p class="muted">loading…</p>;
  return (
    <section>
      <p class="lead">
        A call whose input messages continue an earlier call of the same process (or workload) joins that call's conversation. Found from the traffic alone: no SDK, no session id.
      </p>
      {conversations.length === 0 ? <p class="empty">No multi-turn conversations yet.</p> : null}
      <table class="calls">
        <thead>
          <tr>
            <th>last turn</th>
            <th class="num">turns</th>
            <th>process</th>
            <th>models</th>
            <th class="num">tokens in → out</th>
            <th>started with</th>
          </tr>
        </thead>
        <tbody>
          {conversations.map((conversation) => (
            <tr key={conversation.id} data-conversation-id={conversation.id}>
              <td class="nowrap">
                <a href={`/conversations/${conversation.id}`}>{formatAgo(conversation.lastMs)}</a>
              </td>
              <td class="num">{conversation.turns}</td>
              <td>{conversation.workload ?? conversation.process ?? '–'}</td>
              <td class="model">{conversation.models.join(', ')}</td>
              <td class="num">
                {formatCount(conversation.inputTokens)} → {formatCount(conversation.outputTokens)}
              </td>
              <td class="preview">
                <a href={`/conversations/${conversation.id}`}>{conversation.preview || '(no text)'}</a>
                {conversation.errors > 0 ? <span class="badge error">{conversation.errors} failed</span> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function ConversationPage({ id }: { id: number }) {
  const [conversation, setConversation] = useState<Conversation | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    api.conversation(id).then(setConversation, (failure: Error) => setError(failure.message));
    return live.onCalls(() => void api.conversation(id).then(setConversation, () => undefined));
  }, [id]);
  if (error) return <p class="error">{error}</p>;
  if (!conversation) return <p class="muted">loading…</p>;
  const cost = conversation.calls.reduce((sum, call) => sum + (call.costUsd ?? 0), 0);
  return (
    <section class="conversation">
      <h1>Conversation</h1>
      <p class="muted">
        {conversation.calls.length} turn(s) · {conversation.workload ?? conversation.process ?? 'unknown process'} · {conversation.models.join(', ')} · {formatCount(conversation.inputTokens)} →{' '}
        {formatCount(conversation.outputTokens)} tokens · {formatCost(cost)} · started {formatTime(conversation.firstMs)}
      </p>
      {conversation.calls.map((call) => (
        <article class="turn" id={`turn-${call.turn}`} key={call.id} data-turn={call.turn}>
          <header>
            <a href={`/calls/${call.id}`}>Turn {call.turn}</a>
            <span class="muted">
              {' '}
              · {call.model} · {formatDuration(call.durationMs)} · {formatCount(call.inputTokens)} → {formatCount(call.outputTokens)} tokens
            </span>
            {call.status === 'error' ? <span class="badge error">{call.errorType ?? 'error'}</span> : null}
          </header>
          <Chat call={call} fromMessage={call.sharedPrefix} />
        </article>
      ))}
    </section>
  );
}
