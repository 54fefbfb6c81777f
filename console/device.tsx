import { useEffect, useRef, useState } from 'preact/hooks';
import { api, devicePath, type ObjectTree } from './api';
import { Chart, type Series } from './chart';
import { StatusBadge } from './fleet';
import type { FleetStore } from './fleet-store';
import { ago, duration, showValue } from './format';
import { labelOid, ridName, ridOf, statusWords } from './names';

/** `POST /devices/:id/<command>`: the device's answer in words, with its data. */
async function command(
  id: string,
  name: string,
  body: Record<string, unknown>,
): Promise<{ text: string; status?: number; data?: unknown }> {
  try {
    const answer = await api('POST', `${devicePath(id)}/${name}`, body);
    const b = (answer.body ?? {}) as { status?: number; data?: unknown; error?: string };
    if ((answer.status === 200 || answer.status === 504) && typeof b.status === 'number') {
      const data = b.data === null || b.data === undefined ? '' : `: ${showValue(b.data)}`;
      return { text: `${statusWords(b.status)}${data}`, status: b.status, data: b.data };
    }
    return { text: `HTTP ${answer.status}: ${b.error ?? showValue(answer.body)}` };
  } catch (err) {
    return { text: `failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** What a typed value means: JSON when it parses (true, 21.5, "x", [1]), else the text itself. */
function parseInput(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function DeviceView({ store, id, now, polling }: { store: FleetStore; id: string; now: number; polling: boolean }) {
  const device = store.devices.get(id);
  const [tree, setTree] = useState<ObjectTree | null>(null);
  const [problem, setProblem] = useState('');
  const [flashes, setFlashes] = useState<Record<string, number>>({});
  const [ping, setPing] = useState('');
  // The numeric values seen since the view opened, for the chart.
  const history = useRef<Record<string, Series>>({});
  const [historyVersion, setHistoryVersion] = useState(0);
  const [charted, setCharted] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    const load = async () => {
      const answer = await api('GET', `${devicePath(id)}/objects`);
      if (!live) return;
      if (answer.status === 200) {
        setTree(answer.body as ObjectTree);
        setProblem('');
      } else setProblem(`HTTP ${answer.status}: ${(answer.body as { error?: string })?.error ?? ''}`);
    };
    void load();
    // Without an event stream, the stored values are read again (what notifies put there).
    const poll = polling ? setInterval(() => void load(), 5_000) : undefined;
    const off = store.onEvent((event) => {
      if (event.clientId !== id) return;
      if (event.type === 'devUpdate' || event.type === 'devIncoming') void load();
      if (event.type !== 'devNotify' && event.type !== 'devChange') return;
      const where = event.data as { oid: number | string; iid: number | string; rid?: number | string; data: unknown };
      const values: Record<string, unknown> =
        where.rid !== undefined ? { [String(where.rid)]: where.data } : ((where.data ?? {}) as Record<string, unknown>);
      setValues(String(where.oid), String(where.iid), values);
    });
    return () => {
      live = false;
      clearInterval(poll);
      off();
    };
  }, [id, store, polling]);

  function setValues(oid: string, iid: string, named: Record<string, unknown>) {
    // The tree is keyed by numeric ids; a device may answer a read with IPSO names.
    const values = Object.fromEntries(Object.entries(named).map(([key, value]) => [ridOf(oid, key), value]));
    const at = Date.now() / 1000;
    for (const [rid, value] of Object.entries(values)) {
      if (typeof value !== 'number') continue;
      const series = (history.current[`${oid}/${iid}/${rid}`] ??= { times: [], values: [] });
      series.times.push(at);
      series.values.push(value);
      if (series.times.length > 1000) {
        series.times.shift();
        series.values.shift();
      }
    }
    setHistoryVersion((v) => v + 1);
    setTree((t) => {
      if (!t) return t;
      const instance = { ...(t[oid]?.[iid] ?? {}), ...values };
      return { ...t, [oid]: { ...(t[oid] ?? {}), [iid]: instance } };
    });
    setFlashes((f) => {
      const next = { ...f };
      for (const rid of Object.keys(values)) next[`${oid}/${iid}/${rid}`] = (f[`${oid}/${iid}/${rid}`] ?? 0) + 1;
      return next;
    });
  }

  const chart = (path: string) => {
    const [oid, iid, rid] = path.split('/');
    const value = tree?.[oid]?.[iid]?.[rid];
    if (!history.current[path] && typeof value === 'number') history.current[path] = { times: [Date.now() / 1000], values: [value] };
    setCharted(path);
  };
  const chartLabel = (path: string) => {
    const [oid, , rid] = path.split('/');
    return `${ridName(oid, rid) ?? rid} (${path})`;
  };

  return (
    <section class="device-view">
      <p>
        <a href="#/">← all devices</a>
      </p>
      <h2>
        {id} {device && <StatusBadge status={device.status} />}
      </h2>
      {device ? (
        <table class="attrs">
          <tbody>
            <Attr name="ip" value={device.ip} />
            <Attr name="mac" value={device.mac} />
            <Attr name="version" value={device.version} />
            <Attr name="lifetime" value={`${device.lifetime} s (${duration(device.expiresAt * 1000 - now)} left)`} />
            <Attr name="joined" value={new Date(device.joinTime * 1000).toLocaleString()} />
            <Attr name="expires" value={new Date(device.expiresAt * 1000).toLocaleString()} />
            <Attr name="last activity" value={ago(device.lastActivity, now)} />
          </tbody>
        </table>
      ) : store.loaded ? (
        <p class="problem">This device is not registered (any more).</p>
      ) : (
        <p>Loading…</p>
      )}
      <p>
        <button onClick={() => void command(id, 'ping', {}).then((a) => setPing(a.text))}>Ping</button>{' '}
        <span class="answer">{ping}</span>
      </p>
      {problem && <p class="problem">{problem}</p>}
      {charted && history.current[charted] && (
        <div class="chart-box">
          <h3>
            {chartLabel(charted)} <button onClick={() => setCharted(null)}>Close chart</button>
          </h3>
          <Chart label={chartLabel(charted)} series={history.current[charted]} version={historyVersion} />
        </div>
      )}
      {tree &&
        Object.keys(tree)
          .sort((a, b) => Number(a) - Number(b))
          .map((oid) => [
            <div class="object-head" key={oid}>
              <h3>{labelOid(oid)}</h3>
              <TargetActions
                id={id}
                path={oid}
                what="object"
                onValues={(data) => {
                  for (const [iid, values] of Object.entries((data ?? {}) as Record<string, Record<string, unknown>>))
                    setValues(oid, iid, values);
                }}
              />
            </div>,
            ...Object.keys(tree[oid]).map((iid) => (
              <div class="instance" key={`${oid}/${iid}`}>
                <div class="instance-head">
                  <h4>
                    {labelOid(oid)} / {iid}
                  </h4>
                  <TargetActions
                    id={id}
                    path={`${oid}/${iid}`}
                    what="instance"
                    onValues={(data) => setValues(oid, iid, (data ?? {}) as Record<string, unknown>)}
                  />
                </div>
                <table class="resources">
                  <tbody>
                    {Object.keys(tree[oid][iid]).map((rid) => (
                      <ResourceRow
                        key={rid}
                        id={id}
                        oid={oid}
                        iid={iid}
                        rid={rid}
                        value={tree[oid][iid][rid]}
                        flash={flashes[`${oid}/${iid}/${rid}`] ?? 0}
                        onValue={(v) => setValues(oid, iid, { [rid]: v })}
                        onChart={typeof tree[oid][iid][rid] === 'number' ? () => chart(`${oid}/${iid}/${rid}`) : undefined}
                      />
                    ))}
                  </tbody>
                </table>
              </div>
            )),
          ])}
      {device && <RemoveDevice id={id} />}
    </section>
  );
}

type CommandResult = Awaited<ReturnType<typeof command>>;

/** One command at a time on `path`: the device's answer in words, and whether one is under way. */
function useCommand(id: string, path: string, onAnswer: (name: string, a: CommandResult, body: Record<string, unknown>) => void) {
  const [answer, setAnswer] = useState('');
  const [busy, setBusy] = useState(false);
  const run = async (name: string, body: Record<string, unknown> = {}) => {
    setBusy(true);
    setAnswer('…');
    const a = await command(id, name, { path, ...body });
    setBusy(false);
    setAnswer(a.text);
    onAnswer(name, a, body);
  };
  return { answer, busy, run };
}

/** Read and Observe for a whole instance or object; a read's values go into the tree. */
function TargetActions({ id, path, what, onValues }: { id: string; path: string; what: string; onValues: (data: unknown) => void }) {
  const { answer, busy, run } = useCommand(id, path, (name, a) => {
    if (name === 'read' && a.status === 205) onValues(a.data);
  });
  return (
    <span class="target-actions" data-target={path}>
      <button disabled={busy} onClick={() => void run('read')}>
        Read {what}
      </button>
      <button disabled={busy} onClick={() => void run('observe')}>
        Observe {what}
      </button>
      <button disabled={busy} onClick={() => void run('observe', { cancel: true })}>
        Cancel
      </button>
      <span class="answer">{answer}</span>
    </span>
  );
}

/** Removal asks first: the device is told 202 and has to register again. */
function RemoveDevice({ id }: { id: string }) {
  const [asking, setAsking] = useState(false);
  const [problem, setProblem] = useState('');
  const remove = async () => {
    const answer = await api('DELETE', devicePath(id));
    if (answer.status === 200) location.hash = '#/';
    else setProblem(`HTTP ${answer.status}: ${(answer.body as { error?: string })?.error ?? ''}`);
    setAsking(false);
  };
  return (
    <div class="danger">
      {asking ? (
        <p class="confirm" role="alertdialog">
          Remove {id}? It is told so (202) and must register again to come back.{' '}
          <button class="remove" onClick={() => void remove()}>
            Remove
          </button>{' '}
          <button onClick={() => setAsking(false)}>Keep it</button>
        </p>
      ) : (
        <button onClick={() => setAsking(true)}>Remove device…</button>
      )}
      {problem && <p class="problem">{problem}</p>}
    </div>
  );
}

function Attr({ name, value }: { name: string; value: string }) {
  return (
    <tr>
      <th>{name}</th>
      <td data-attr={name}>{value}</td>
    </tr>
  );
}

const ATTRS = ['pmin', 'pmax', 'gt', 'lt', 'stp'] as const;

function ResourceRow(props: {
  id: string;
  oid: string;
  iid: string;
  rid: string;
  value: unknown;
  flash: number;
  onValue: (value: unknown) => void;
  onChart?: () => void;
}) {
  const { id, oid, iid, rid, value, flash } = props;
  const path = `${oid}/${iid}/${rid}`;
  const [input, setInput] = useState('');
  const [attrsOpen, setAttrsOpen] = useState(false);
  const [attrs, setAttrs] = useState<Record<string, string>>({});
  const [flashing, setFlashing] = useState(false);

  useEffect(() => {
    if (flash === 0) return;
    setFlashing(true);
    const timer = setTimeout(() => setFlashing(false), 1000);
    return () => clearTimeout(timer);
  }, [flash]);

  const { answer, busy, run } = useCommand(id, path, (name, a, body) => {
    if (name === 'read' && a.status === 205) props.onValue(a.data);
    if (name === 'write' && a.status === 204) props.onValue(body.value);
  });
  const writeAttrs = () => {
    const chosen: Record<string, number> = {};
    for (const k of ATTRS) if (attrs[k]?.trim()) chosen[k] = Number(attrs[k]);
    void run('write-attrs', { attrs: chosen });
  };

  return (
    <tr data-path={path}>
      <th>
        {ridName(oid, rid) ?? rid} <small>({path})</small>
      </th>
      <td class={`value ${flashing ? 'flash' : ''}`}>{showValue(value)}</td>
      <td class="actions">
        <button disabled={busy} onClick={() => void run('read')}>
          Read
        </button>
        <input class="write-input" placeholder="value" value={input} onInput={(e) => setInput(e.currentTarget.value)} />
        <button disabled={busy} onClick={() => void run('write', { value: parseInput(input) })}>
          Write
        </button>
        <button disabled={busy} onClick={() => void run('execute', input.trim() ? { args: [parseInput(input)].flat() } : {})}>
          Execute
        </button>
        <button disabled={busy} onClick={() => void run('observe')}>
          Observe
        </button>
        <button disabled={busy} onClick={() => void run('observe', { cancel: true })}>
          Cancel
        </button>
        <button disabled={busy} onClick={() => void run('discover')}>
          Discover
        </button>
        <button onClick={() => setAttrsOpen(!attrsOpen)}>Attributes…</button>
        {props.onChart && <button onClick={props.onChart}>Chart</button>}
        {attrsOpen && (
          <span class="attrs-form">
            {ATTRS.map((k) => (
              <input
                key={k}
                placeholder={k}
                aria-label={k}
                size={4}
                value={attrs[k] ?? ''}
                onInput={(e) => setAttrs({ ...attrs, [k]: e.currentTarget.value })}
              />
            ))}
            <button disabled={busy} onClick={writeAttrs}>
              Write attributes
            </button>
          </span>
        )}
        <div class="answer">{answer}</div>
      </td>
    </tr>
  );
}
