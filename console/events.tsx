import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { LwmqnEvent } from './api';
import { RECENT_KEPT, type FleetStore } from './fleet-store';
import { showValue } from './format';
const TYPES = ['devIncoming', 'devLeaving', 'devStatus', 'devUpdate', 'devNotify', 'devChange'];

/**
 * The live event log (GET /events), newest first, filtered by device and type. Paused, it
 * keeps counting what comes and shows it on resume, so nothing is lost while a person reads.
 */
export function EventsView({ store }: { store: FleetStore }) {
  const [shown, setShown] = useState<LwmqnEvent[]>(store.recent);
  const [paused, setPaused] = useState(false);
  const pausedRef = useRef(false);
  const [waiting, setWaiting] = useState(0);
  const [device, setDevice] = useState('');
  const [type, setType] = useState('');

  useEffect(
    () =>
      store.onEvent(() => {
        if (pausedRef.current) setWaiting((n) => n + 1);
        else setShown(store.recent);
      }),
    [store],
  );

  const togglePause = () => {
    pausedRef.current = !pausedRef.current;
    setPaused(pausedRef.current);
    if (!pausedRef.current) {
      setShown(store.recent);
      setWaiting(0);
    }
  };

  const filtered = useMemo(() => {
    const needle = device.trim().toLowerCase();
    return shown.filter((e) => (!needle || e.clientId.toLowerCase().includes(needle)) && (!type || e.type === type));
  }, [shown, device, type]);

  return (
    <section class="events">
      <div class="filters">
        <input
          type="search"
          placeholder="Filter by client id"
          aria-label="Filter events by client id"
          value={device}
          onInput={(e) => setDevice(e.currentTarget.value)}
        />
        <select aria-label="Event type" value={type} onChange={(e) => setType(e.currentTarget.value)}>
          <option value="">any type</option>
          {TYPES.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
        <button class={paused ? 'on' : ''} onClick={togglePause}>
          {paused ? 'Resume' : 'Pause'}
        </button>
        <span class="shown" data-waiting={waiting}>
          {paused ? `paused: ${waiting} new` : `${filtered.length} of the last ${RECENT_KEPT} kept`}
        </span>
      </div>
      {filtered.length === 0 ? (
        <p class="empty">{shown.length === 0 ? 'No event since this page opened.' : 'No event matches.'}</p>
      ) : (
        <table class="event-log">
          <thead>
            <tr>
              <th>time</th>
              <th>device</th>
              <th>type</th>
              <th>data</th>
            </tr>
          </thead>
          <tbody>
            {filtered.map((e, i) => (
              <tr key={`${e.timestamp}-${i}`} class="event" data-type={e.type} data-client-id={e.clientId}>
                <td>{new Date(e.timestamp).toLocaleTimeString()}</td>
                <td>
                  <a href={`#/devices/${encodeURIComponent(e.clientId)}`}>{e.clientId}</a>
                </td>
                <td>{e.type}</td>
                <td class="data">{showValue(e.data)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
