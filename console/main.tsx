import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { saveToken, setTokenPrompt, streamEvents, type StreamState } from './api';
import { DeviceView } from './device';
import { EventsView } from './events';
import { FleetView } from './fleet';
import { FleetStore } from './fleet-store';

/** The web console: `#/` the fleet, `#/devices/<id>` one device. */
const store = new FleetStore();
/** How often the list is read again where the API has no event stream. */
export const POLL_MS = 5_000;

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => setHash(location.hash);
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return hash;
}

interface Ask {
  wrong: boolean;
  done: () => void;
}

function App() {
  const hash = useHash();
  const [, setVersion] = useState(0);
  const [now, setNow] = useState(Date.now());
  const [stream, setStream] = useState<StreamState | 'connecting'>('connecting');
  const [ask, setAsk] = useState<Ask | null>(null);
  const [token, setToken] = useState('');

  useEffect(() => {
    setTokenPrompt((wrong) => new Promise<void>((done) => setAsk({ wrong, done })));
    let poll: ReturnType<typeof setInterval> | undefined;
    const off = store.subscribe(() => setVersion(store.version));
    // The list at once, not after the stream is up: the first screen does not wait for it.
    void store.load();
    const stop = streamEvents(
      (event) => store.apply(event),
      (state) => {
        setStream(state);
        // (Re)connected: what happened before the stream was up is in the list, not in the stream.
        if (state === 'live') void store.load();
        // No stream here: the list is read again every few seconds instead.
        if (state === 'polling') poll = setInterval(() => void store.load(), POLL_MS);
      },
    );
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => {
      off();
      stop();
      clearInterval(timer);
      clearInterval(poll);
    };
  }, []);

  const match = /^#\/devices\/(.+)$/.exec(hash);
  const id = match ? decodeURIComponent(match[1]) : undefined;
  const view =
    id !== undefined ? (
      <DeviceView store={store} id={id} now={now} polling={stream === 'polling'} />
    ) : hash === '#/events' ? (
      <EventsView store={store} />
    ) : (
      <FleetView store={store} now={now} />
    );

  return (
    <>
      <header>
        <h1>
          <a href="#/">LWMQN console</a>
        </h1>
        <nav>
          <a href="#/" class={hash === '#/events' ? '' : 'on'}>
            Fleet
          </a>
          <a href="#/events" class={hash === '#/events' ? 'on' : ''}>
            Events
          </a>
          <a href="/openapi.json" target="_blank" rel="noreferrer">
            API
          </a>
        </nav>
        <span class={`stream ${stream}`} title="the live event stream (GET /events)">
          {stream === 'live'
            ? '● live'
            : stream === 'connecting'
              ? '○ connecting'
              : stream === 'polling'
                ? `◌ polling every ${POLL_MS / 1000} s (no event stream here)`
                : '○ reconnecting…'}
        </span>
      </header>
      <main>{view}</main>
      {ask && (
        <div class="overlay">
          <form
            class="token-form"
            onSubmit={(e) => {
              e.preventDefault();
              saveToken(token);
              setAsk(null);
              ask.done();
            }}
          >
            <h2>API token</h2>
            <p>{ask.wrong ? 'The API refused that token. ' : ''}This server needs its API token (LWMQN_API_TOKEN).</p>
            <input
              type="password"
              name="token"
              aria-label="API token"
              autoFocus
              value={token}
              onInput={(e) => setToken(e.currentTarget.value)}
            />
            <button type="submit">Use token</button>
          </form>
        </div>
      )}
    </>
  );
}

render(<App />, document.getElementById('app')!);
