/** The Sightline web UI: calls, conversations, overview and alerts of local mode. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { AlertsPage } from './alerts';
import { api, live, type StoreInfo } from './api';
import { CallPage } from './call';
import { CallsPage } from './calls';
import { ConversationPage, ConversationsPage } from './conversations';
import { formatBytes, formatCount } from './format';
import { OverviewPage } from './overview';
import { onLinkClick, useLocation } from './router';

const SECTIONS: Array<[string, string]> = [
  ['/calls', 'Calls'],
  ['/conversations', 'Conversations'],
  ['/overview', 'Overview'],
  ['/alerts', 'Alerts'],
];

function Header({ path }: { path: string }) {
  const [store, setStore] = useState<StoreInfo | undefined>();
  const [connected, setConnected] = useState(live.connected);
  const [firings, setFirings] = useState(0);
  useEffect(() => {
    const refresh = () => api.info().then((info) => setStore(info.store), () => undefined);
    void refresh();
    const timer = setInterval(refresh, 10_000);
    const stops = [live.onConnection(setConnected), live.onFiring(() => setFirings((count) => count + 1))];
    return () => {
      clearInterval(timer);
      stops.forEach((stop) => stop());
    };
  }, []);
  useEffect(() => {
    if (path.startsWith('/alerts')) setFirings(0);
  }, [path]);
  return (
    <header class="top">
      <a class="brand" href="/calls">
        <span class="logo">◉</span> Sightline
      </a>
      <nav>
        {SECTIONS.map(([href, label]) => (
          <a key={href} href={href} class={path === href || (href === '/calls' && path === '/') || path.startsWith(`${href}/`) ? 'active' : ''}>
            {label}
            {href === '/alerts' && firings > 0 ? <span class="count">{firings}</span> : null}
          </a>
        ))}
      </nav>
      <span class="spacer" />
      <span class={`live ${connected ? 'on' : 'off'}`} title={connected ? 'live: new calls appear as they happen' : 'reconnecting to the sensor…'}>
        {connected ? 'live' : 'offline'}
      </span>
      {store ? (
        <span class="muted store-info" title={store.file}>
          {formatCount(store.calls)} calls · {formatBytes(store.usedBytes)} of {formatBytes(store.maxBytes)}
        </span>
      ) : null}
    </header>
  );
}

function Page({ path, location }: { path: string; location: ReturnType<typeof useLocation> }) {
  const call = /^\/calls\/(\d+)$/.exec(path);
  if (call) return <CallPage id={Number(call[1])} />;
  const conversation = /^\/conversations\/(\d+)$/.exec(path);
  if (conversation) return <ConversationPage id={Number(conversation[1])} />;
  if (path === '/conversations') return <ConversationsPage />;
  if (path === '/overview') return <OverviewPage />;
  if (path === '/alerts') return <AlertsPage />;
  if (path === '/' || path === '/calls') return <CallsPage location={location} />;
  return <p class="error">No page at {path}.</p>;
}

function App() {
  const location = useLocation();
  const title = SECTIONS.find(([href]) => location.path.startsWith(href))?.[1] ?? 'Calls';
  useEffect(() => {
    document.title = `${title} · Sightline`;
  }, [title]);
  return (
    <div onClick={(event) => onLinkClick(event as unknown as MouseEvent)}>
      <Header path={location.path} />
      <main>
        <Page path={location.path} location={location} />
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
