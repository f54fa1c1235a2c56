/** Overview: calls, tokens and cost over time by model; latency percentiles by model; error rate; top users. */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, live, type Overview } from './api';
import { TimeChart, type Series } from './chart';
import { formatCost, formatCount, formatDuration } from './format';

const RANGES: Array<[string, number]> = [
  ['last hour', 3_600_000],
  ['last 6 hours', 6 * 3_600_000],
  ['last 24 hours', 86_400_000],
  ['last 7 days', 7 * 86_400_000],
];
const MAX_SERIES = 8;

export function OverviewPage() {
  const [rangeMs, setRangeMs] = useState(RANGES[0][1]);
  const [percentile, setPercentile] = useState<'p50Ms' | 'p90Ms' | 'p99Ms'>('p90Ms');
  const [overview, setOverview] = useState<Overview | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    const load = () => {
      const now = Date.now();
      api.overview(now - rangeMs, now).then(setOverview, (failure: Error) => setError(failure.message));
    };
    load();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = live.onCalls(() => (timer ??= setTimeout(() => ((timer = undefined), load()), 5000)));
    return () => {
      stop();
      clearTimeout(timer);
    };
  }, [rangeMs]);

  const models = useMemo(() => overview?.models.slice(0, MAX_SERIES) ?? [], [overview]);
  const seriesOf = (pick: (model: Overview['models'][number]) => Array<number | null>): Series[] => models.map((model) => ({ label: model.model, values: pick(model) }));
  const charts = useMemo(() => {
    if (!overview) return undefined;
    return {
      calls: seriesOf((model) => model.calls),
      tokens: seriesOf((model) => model.tokens),
      cost: seriesOf((model) => model.costUsd),
      errors: [{ label: 'error rate', values: overview.errorRate.map((rate) => (rate === null ? null : rate * 100)) }],
    };
  }, [overview]);
  const latency = useMemo(() => seriesOf((model) => model[percentile]), [overview, percentile]);

  if (error) return <p class="error">{error}</p>;
  if (!overview || !charts) return <p class="muted">loading…</p>;
  const { totals } = overview;
  return (
    <section class="overview">
      <div class="toolbar">
        <label class="field">
          <span>time</span>
          <select value={String(rangeMs)} onChange={(event) => setRangeMs(Number((event.target as HTMLSelectElement).value))}>
            {RANGES.map(([label, ms]) => (
              <option key={ms} value={String(ms)}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <span class="muted">one point per {formatDuration(overview.bucketMs)}</span>
      </div>
      <div class="tiles">
        <div class="tile">
          <span>calls</span>
          <strong data-testid="total-calls">{formatCount(totals.calls)}</strong>
        </div>
        <div class="tile">
          <span>errors</span>
          <strong>
            {formatCount(totals.errors)} {totals.calls > 0 ? <small>({((totals.errors / totals.calls) * 100).toFixed(1)}%)</small> : null}
          </strong>
        </div>
        <div class="tile">
          <span>tokens in → out</span>
          <strong>
            {formatCount(totals.inputTokens)} → {formatCount(totals.outputTokens)}
          </strong>
        </div>
        <div class="tile">
          <span>cost</span>
          <strong>{formatCost(totals.costUsd)}</strong>
        </div>
        <div class="tile">
          <span>latency p50 / p90 / p99</span>
          <strong>
            {formatDuration(totals.p50Ms)} / {formatDuration(totals.p90Ms)} / {formatDuration(totals.p99Ms)}
          </strong>
        </div>
      </div>
      {totals.calls === 0 ? <p class="empty">No calls in this time range.</p> : null}
      <div class="charts">
        <TimeChart title="Calls by model" times={overview.buckets} series={charts.calls} testId="chart-calls" />
        <TimeChart title="Tokens by model" times={overview.buckets} series={charts.tokens} />
        <TimeChart title="Cost by model (USD)" times={overview.buckets} series={charts.cost} unit={(value) => formatCost(value)} />
        <div>
          <div class="chart-switch">
            {(['p50Ms', 'p90Ms', 'p99Ms'] as const).map((name) => (
              <button type="button" key={name} class={name === percentile ? 'active' : ''} onClick={() => setPercentile(name)}>
                {name.replace('Ms', '')}
              </button>
            ))}
          </div>
          <TimeChart title={`Latency ${percentile.replace('Ms', '')} by model`} times={overview.buckets} series={latency} unit={(value) => formatDuration(value)} points />
        </div>
        <TimeChart title="Error rate (%)" times={overview.buckets} series={charts.errors} unit={(value) => `${value.toFixed(0)}%`} points />
      </div>
      <div class="tops">
        {[
          ['Top workloads', overview.topWorkloads],
          ['Top processes', overview.topProcesses],
        ].map(([title, entries]) => (
          <div key={title as string}>
            <h2>{title as string}</h2>
            {(entries as Overview['topProcesses']).length === 0 ? (
              <p class="muted">none in this range</p>
            ) : (
              <table class="calls">
                <thead>
                  <tr>
                    <th>name</th>
                    <th class="num">calls</th>
                    <th class="num">tokens</th>
                    <th class="num">cost</th>
                  </tr>
                </thead>
                <tbody>
                  {(entries as Overview['topProcesses']).map((entry) => (
                    <tr key={entry.name}>
                      <td>
                        <a href={`/calls?process=${encodeURIComponent(entry.name)}`}>{entry.name}</a>
                      </td>
                      <td class="num">{formatCount(entry.calls)}</td>
                      <td class="num">{formatCount(entry.tokens)}</td>
                      <td class="num">{formatCost(entry.costUsd)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </div>
        ))}
      </div>
    </section>
  );
}
