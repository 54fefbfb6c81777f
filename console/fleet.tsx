import { useEffect, useMemo, useState } from 'preact/hooks';
import type { DeviceStatus } from './api';
import type { Device, FleetStore } from './fleet-store';
import { FleetActions } from './fleet-actions';
import { ago, duration } from './format';
import { labelOid, oidName } from './names';

const ROW_HEIGHT = 32;
const OVERSCAN = 8;
const STATUSES: DeviceStatus[] = ['online', 'sleep', 'offline'];
const STATUS_LABEL: Record<DeviceStatus, string> = { online: 'online', sleep: 'sleeping', offline: 'offline' };

export function StatusBadge({ status }: { status: DeviceStatus }) {
  return <span class={`badge ${status}`}>{STATUS_LABEL[status] ?? status}</span>;
}

/** Every device, filtered by id, status and object type; only the rows on screen are rendered. */
export function FleetView({ store, now }: { store: FleetStore; now: number }) {
  const [text, setText] = useState('');
  const [status, setStatus] = useState<DeviceStatus | ''>('');
  const [oid, setOid] = useState('');
  const version = store.version;

  const all = useMemo(() => [...store.devices.values()].sort((a, b) => (a.clientId < b.clientId ? -1 : 1)), [store, version]);
  const counts = useMemo(() => {
    const c: Record<DeviceStatus, number> = { online: 0, sleep: 0, offline: 0 };
    for (const d of all) c[d.status] = (c[d.status] ?? 0) + 1;
    return c;
  }, [all]);
  const oids = useMemo(() => {
    const set = new Set<string>();
    for (const d of all) for (const o of Object.keys(d.objList ?? {})) set.add(o);
    return [...set].sort((a, b) => Number(a) - Number(b));
  }, [all]);
  const shown = useMemo(() => {
    const needle = text.trim().toLowerCase();
    return all.filter(
      (d) =>
        (!needle || d.clientId.toLowerCase().includes(needle)) &&
        (!status || d.status === status) &&
        (!oid || (d.objList && oid in d.objList)),
    );
  }, [all, text, status, oid]);

  return (
    <section class="fleet">
      <FleetActions now={now} />
      <div class="counts">
        <button class={`count ${status === '' ? 'on' : ''}`} onClick={() => setStatus('')}>
          <b data-count="all">{all.length}</b> devices
        </button>
        {STATUSES.map((s) => (
          <button key={s} class={`count ${s} ${status === s ? 'on' : ''}`} onClick={() => setStatus(status === s ? '' : s)}>
            <b data-count={s}>{counts[s]}</b> {STATUS_LABEL[s]}
          </button>
        ))}
        {store.partial && (
          <span class="loading-more" role="status">
            loading more…
          </span>
        )}
      </div>
      <div class="filters">
        <input
          type="search"
          placeholder="Filter by client id"
          value={text}
          aria-label="Filter by client id"
          onInput={(e) => setText(e.currentTarget.value)}
        />
        <select aria-label="Status" value={status} onChange={(e) => setStatus(e.currentTarget.value as DeviceStatus | '')}>
          <option value="">any status</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {STATUS_LABEL[s]}
            </option>
          ))}
        </select>
        <select aria-label="Object type" value={oid} onChange={(e) => setOid(e.currentTarget.value)}>
          <option value="">any object</option>
          {oids.map((o) => (
            <option key={o} value={o}>
              {labelOid(o)}
            </option>
          ))}
        </select>
        <span class="shown">{shown.length === all.length ? '' : `${shown.length} shown`}</span>
      </div>
      <div class="row head">
        <span>client id</span>
        <span>status</span>
        <span>ip</span>
        <span>last activity</span>
        <span>lifetime left</span>
        <span>objects</span>
      </div>
      <WindowedList items={shown} total={all.length} now={now} />
    </section>
  );
}

function WindowedList({ items, total, now }: { items: Device[]; total: number; now: number }) {
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const [box, setBox] = useState<HTMLDivElement | null>(null);
  useEffect(() => {
    if (!box) return;
    const measure = () => setHeight(box.clientHeight);
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(box);
    return () => observer.disconnect();
  }, [box]);
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(items.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  return (
    <div class="list" ref={setBox} onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}>
      {items.length === 0 && <p class="empty">{total === 0 ? 'No device has registered yet.' : 'No device matches.'}</p>}
      <div style={{ height: `${items.length * ROW_HEIGHT}px`, position: 'relative' }}>
        {items.slice(first, last).map((d, i) => (
          <DeviceRow key={d.clientId} device={d} now={now} top={(first + i) * ROW_HEIGHT} />
        ))}
      </div>
    </div>
  );
}

function DeviceRow({ device: d, now, top }: { device: Device; now: number; top: number }) {
  const objects = Object.keys(d.objList ?? {})
    .map((o) => oidName(o) ?? o)
    .join(', ');
  return (
    <a
      class="row device"
      href={`#/devices/${encodeURIComponent(d.clientId)}`}
      data-client-id={d.clientId}
      style={{ top: `${top}px` }}
    >
      <span class="id">{d.clientId}</span>
      <span>
        <StatusBadge status={d.status} />
      </span>
      <span>{d.ip}</span>
      <span>{ago(d.lastActivity, now)}</span>
      <span>{duration(d.expiresAt * 1000 - now)}</span>
      <span class="objects" title={objects}>
        {objects}
      </span>
    </a>
  );
}
