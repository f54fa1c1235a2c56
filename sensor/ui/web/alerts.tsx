/** Local alert rules and their firings. */
import { useEffect, useState } from 'preact/hooks';
import { api, live, type AlertFiring, type AlertRule, type AlertRuleInput } from './api';
import { formatCount, formatTime } from './format';

const KINDS: Record<AlertRuleInput['kind'], { label: string; unit: string; placeholder: string }> = {
  duration: { label: 'a call takes longer than', unit: 'ms', placeholder: '1000' },
  error_rate: { label: 'the error rate is above', unit: '%', placeholder: '5' },
  tokens_per_hour: { label: 'tokens in the last hour exceed', unit: 'tokens', placeholder: '100000' },
};

function describe(rule: AlertRule): string {
  const kind = KINDS[rule.kind];
  const window = rule.kind === 'error_rate' ? ` over ${rule.windowMinutes} min` : '';
  return `when ${kind.label} ${formatCount(rule.threshold)} ${kind.unit}${window}`;
}

export function AlertsPage() {
  const [rules, setRules] = useState<AlertRule[]>([]);
  const [firings, setFirings] = useState<AlertFiring[]>([]);
  const [error, setError] = useState<string | undefined>();
  const [kind, setKind] = useState<AlertRuleInput['kind']>('duration');
  const [threshold, setThreshold] = useState('');
  const [windowMinutes, setWindowMinutes] = useState('5');
  const [name, setName] = useState('');
  const load = () =>
    api.alerts().then(
      (answer) => {
        setRules(answer.rules);
        setFirings(answer.firings);
      },
      (failure: Error) => setError(failure.message),
    );
  useEffect(() => {
    void load();
    return live.onFiring(() => void load());
  }, []);

  const add = async (event: Event) => {
    event.preventDefault();
    try {
      await api.addAlertRule({ kind, threshold: Number(threshold), windowMinutes: Number(windowMinutes), name: name || undefined });
      setThreshold('');
      setName('');
      setError(undefined);
      await load();
    } catch (failure) {
      setError((failure as Error).message);
    }
  };

  return (
    <section class="alerts">
      <h2>Rules</h2>
      <p class="lead">Rules are checked here, on this machine: a slow call fires at once, rates every 15 seconds. Firings also appear in the terminal.</p>
      <table class="calls">
        <tbody>
          {rules.map((rule) => (
            <tr key={rule.id}>
              <td>
                <strong>{rule.name}</strong>
                <div class="muted">{describe(rule)}</div>
              </td>
              <td>{rule.firing ? <span class="badge error">firing</span> : <span class="badge ok">ok</span>}</td>
              <td class="num">
                <button type="button" class="link" onClick={() => api.deleteAlertRule(rule.id).then(load, (failure: Error) => setError(failure.message))}>
                  delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form class="rule-form" onSubmit={add}>
        <span>Alert</span>
        <select value={kind} onChange={(event) => setKind((event.target as HTMLSelectElement).value as AlertRuleInput['kind'])}>
          {Object.entries(KINDS).map(([value, entry]) => (
            <option key={value} value={value}>
              {entry.label}
            </option>
          ))}
        </select>
        <input type="number" min="0" step="any" required placeholder={KINDS[kind].placeholder} value={threshold} onInput={(event) => setThreshold((event.target as HTMLInputElement).value)} />
        <span>{KINDS[kind].unit}</span>
        {kind === 'error_rate' ? (
          <>
            <span>over</span>
            <input type="number" min="1" max="1440" required value={windowMinutes} onInput={(event) => setWindowMinutes((event.target as HTMLInputElement).value)} />
            <span>min</span>
          </>
        ) : null}
        <input type="text" placeholder="name (optional)" value={name} onInput={(event) => setName((event.target as HTMLInputElement).value)} />
        <button type="submit">Add rule</button>
      </form>
      {error ? <p class="error">{error}</p> : null}
      <h2>Firings</h2>
      {firings.length === 0 ? <p class="empty">Nothing has fired yet.</p> : null}
      <table class="calls">
        <tbody>
          {firings.map((firing) => (
            <tr key={firing.id} class="failed">
              <td class="nowrap">{formatTime(firing.firedMs)}</td>
              <td>
                <strong>{firing.ruleName}</strong>
              </td>
              <td>{firing.message}</td>
              <td>{firing.callId !== null ? <a href={`/calls/${firing.callId}`}>open call</a> : null}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
