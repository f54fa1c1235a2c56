/** The calls list: filters, full-text search, live tail, pages, export. */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, live, type CallSummary, type Facets } from './api';
import { formatCost, formatCount, formatDuration, formatTime } from './format';
import { navigate, type Location } from './router';

const RANGES: Array<[string, string, number | undefined]> = [
  ['15m', 'last 15 min', 15 * 60_000],
  ['1h', 'last hour', 3_600_000],
  ['24h', 'last 24 h', 86_400_000],
  ['7d', 'last 7 days', 7 * 86_400_000],
  ['all', 'all time', undefined],
];

/** Filter fields kept in the address, so a filtered list can be bookmarked, shared and gone back to. */
const FILTER_KEYS = ['q', 'provider', 'model', 'status', 'process', 'minDurationMs', 'range'] as const;
const MAX_ROWS = 1000;

function apiQuery(filters: URLSearchParams): URLSearchParams {
  const query = new URLSearchParams();
  for (const key of FILTER_KEYS) {
    const value = filters.get(key);
    if (!value) continue;
    if (key === 'range') {
      const range = RANGES.find(([name]) => name === value)?.[2];
      if (range !== undefined) query.set('since', String(Date.now() - range));
    } else query.set(key, value);
  }
  return query;
}

export function CallsPage({ location }: { location: Location }) {
  const filters = location.query;
  const [calls, setCalls] = useState<CallSummary[]>([]);
  const [nextBefore, setNextBefore] = useState<number | undefined>();
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | undefined>();
  const [facets, setFacets] = useState<Facets>({ providers: [], models: [], processes: [] });
  const [paused, setPaused] = useState(false);
  const [search, setSearch] = useState(filters.get('q') ?? '');
  const newest = useRef(0);
  const filterKey = FILTER_KEYS.map((key) => filters.get(key) ?? '').join('\u0000');

  const setFilter = (key: (typeof FILTER_KEYS)[number], value: string) => {
    const next = new URLSearchParams(filters);
    if (value) next.set(key, value);
    else next.delete(key);
    navigate(`/calls${next.toString() ? `?${next}` : ''}`, true);
  };

  useEffect(() => {
    let cancelled = false;
    setLoading(true);
    api
      .calls(apiQuery(filters))
      .then((page) => {
        if (cancelled) return;
        setCalls(page.calls);
        setNextBefore(page.nextBeforeId);
        newest.current = page.calls[0]?.id ?? newest.current;
        setError(undefined);
      })
      .catch((failure: Error) => !cancelled && setError(failure.message))
      .finally(() => !cancelled && setLoading(false));
    api.facets().then(setFacets).catch(() => undefined);
    return () => {
      cancelled = true;
    };
  }, [filterKey]);

  // Debounced: the list follows the search box as one types.
  useEffect(() => {
    if (search === (filters.get('q') ?? '')) return;
    const timer = setTimeout(() => setFilter('q', search.trim()), 250);
    return () => clearTimeout(timer);
  }, [search]);

  useEffect(
    () =>
      live.onCalls((lastId) => {
        if (paused || lastId <= newest.current) return;
        const query = apiQuery(filters);
        query.set('after', String(newest.current));
        query.set('limit', '500');
        api
          .calls(query)
          .then((page) => {
            if (page.calls.length === 0) return;
            newest.current = Math.max(newest.current, page.calls[0].id);
            setCalls((current) => [...page.calls, ...current.filter((call) => call.id < page.calls[page.calls.length - 1].id)].slice(0, MAX_ROWS));
            api.facets().then(setFacets).catch(() => undefined);
          })
          .catch(() => undefined);
      }),
    [filterKey, paused],
  );

  const loadMore = () => {
    if (nextBefore === undefined) return;
    const query = apiQuery(filters);
    query.set('before', String(nextBefore));
    api.calls(query).then((page) => {
      setCalls((current) => [...current, ...page.calls]);
      setNextBefore(page.nextBeforeId);
    });
  };

  const exportQuery = useMemo(() => apiQuery(filters).toString(), [filterKey]);
  const select = (key: (typeof FILTER_KEYS)[number], label: string, options: string[], names?: Record<string, string>) => (
    <label class="field">
      <span>{label}</span>
      <select name={key} value={filters.get(key) ?? ''} onChange={(event) => setFilter(key, (event.target as HTMLSelectElement).value)}>
        <option value="">any</option>
        {options.map((option) => (
          <option key={option} value={option}>
            {names?.[option] ?? option}
          </option>
        ))}
      </select>
    </label>
  );

  return (
    <section>
      <div class="toolbar">
        <input
          type="search"
          class="search"
          placeholder="Search prompts and responses"
          aria-label="Search prompts and responses"
          value={search}
          onInput={(event) => setSearch((event.target as HTMLInputElement).value)}
          onKeyDown={(event) => event.key === 'Enter' && setFilter('q', search.trim())}
        />
        <label class="field">
          <span>slower than</span>
          <select name="minDurationMs" value={filters.get('minDurationMs') ?? ''} onChange={(event) => setFilter('minDurationMs', (event.target as HTMLSelectElement).value)}>
            <option value="">any</option>
            {[100, 500, 1000, 2000, 5000, 10000].map((ms) => (
              <option key={ms} value={String(ms)}>
                {formatDuration(ms)}
              </option>
            ))}
          </select>
        </label>
        {select('provider', 'provider', facets.providers)}
        {select('model', 'model', facets.models)}
        {select('status', 'status', ['ok', 'error'])}
        {select('process', 'process / workload', facets.processes)}
        <label class="field">
          <span>time</span>
          <select name="range" value={filters.get('range') ?? 'all'} onChange={(event) => setFilter('range', (event.target as HTMLSelectElement).value === 'all' ? '' : (event.target as HTMLSelectElement).value)}>
            {RANGES.map(([name, label]) => (
              <option key={name} value={name}>
                {label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div class="subbar">
        <span class="muted" data-testid="call-count">
          {loading ? 'loading…' : `${formatCount(calls.length)}${nextBefore !== undefined ? '+' : ''} call(s)`}
        </span>
        <button type="button" class="link" onClick={() => setPaused(!paused)}>
          {paused ? '▶ resume live updates' : '❚❚ pause live updates'}
        </button>
        <span class="spacer" />
        <a href={`/api/calls.jsonl?${exportQuery}`} download>
          Export JSONL
        </a>
        <a href={`/api/calls.csv?${exportQuery}`} download>
          Export CSV
        </a>
      </div>
      {error ? <p class="error">{error}</p> : null}
      <table class="calls">
        <thead>
          <tr>
            <th>time</th>
            <th>provider</th>
            <th>model</th>
            <th>process</th>
            <th class="num">duration</th>
            <th class="num">tokens in → out</th>
            <th class="num">cost</th>
            <th>status</th>
            <th>prompt</th>
          </tr>
        </thead>
        <tbody>
          {calls.map((call) => (
            <tr key={call.id} class={call.status === 'error' ? 'failed' : ''} data-call-id={call.id} onClick={(event) => !(event.target as Element).closest('a') && navigate(`/calls/${call.id}`)}>
              <td class="nowrap">
                <a href={`/calls/${call.id}`}>{formatTime(call.startMs)}</a>
              </td>
              <td>{call.provider ?? '–'}</td>
              <td class="model">{call.model ?? call.responseModel ?? '–'}</td>
              <td>{call.workload ?? call.process ?? '–'}</td>
              <td class={`num${call.durationMs > 1000 ? ' slow' : ''}`}>{formatDuration(call.durationMs)}</td>
              <td class="num">
                {formatCount(call.inputTokens)} → {formatCount(call.outputTokens)}
              </td>
              <td class="num">{formatCost(call.costUsd)}</td>
              <td>{call.status === 'error' ? <span class="badge error">{call.errorType ?? call.httpStatus ?? 'error'}</span> : <span class="badge ok">{call.httpStatus ?? 'ok'}</span>}</td>
              <td class="preview">
                {call.turn > 1 ? <span class="turn">turn {call.turn}</span> : null}
                {call.preview}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {!loading && calls.length === 0 ? (
        <p class="empty">{filters.toString() ? 'No call matches these filters.' : 'No calls yet. Any process on this machine that calls OpenAI, Anthropic or Bedrock over HTTPS shows up here as it happens; `npx sightline demo` makes some.'}</p>
      ) : null}
      {nextBefore !== undefined ? (
        <button type="button" class="more" onClick={loadMore}>
          Load older calls
        </button>
      ) : null}
    </section>
  );
}
