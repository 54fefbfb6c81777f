import { useEffect, useState } from 'preact/hooks';
import { api } from './api';
import { duration } from './format';

interface Join {
  mode: 'open' | 'permit';
  /** When the permit-join window closes (ms since the epoch); 0 when it is closed. */
  until: number;
}

/**
 * What is done to the whole fleet: open the permit-join window (with its countdown) and send
 * an announcement to every device. The window's state comes from GET /health.
 */
export function FleetActions({ now }: { now: number }) {
  const [join, setJoin] = useState<Join | null>(null);
  const [seconds, setSeconds] = useState('60');
  const [message, setMessage] = useState('');
  const [answer, setAnswer] = useState('');

  const readJoin = async () => {
    const health = await api('GET', '/health');
    const body = health.body as { join?: 'open' | 'permit'; joinTimeLeft?: number | null } | null;
    if (body?.join) setJoin({ mode: body.join, until: Date.now() + (body.joinTimeLeft ?? 0) * 1000 });
  };
  useEffect(() => {
    void readJoin();
  }, []);

  const permit = async (s: number) => {
    const res = await api('POST', '/permit-join', { seconds: s });
    if (res.status !== 200) return setAnswer(`HTTP ${res.status}: ${(res.body as { error?: string })?.error ?? ''}`);
    setAnswer('');
    await readJoin();
  };
  const announce = async () => {
    const res = await api('POST', '/announce', { message });
    setAnswer(res.status === 200 ? `announced: ${message}` : `HTTP ${res.status}: ${(res.body as { error?: string })?.error ?? ''}`);
  };

  const left = join ? Math.max(0, join.until - now) : 0;
  return (
    <div class="fleet-actions">
      <span class="join" data-join={join?.mode ?? ''}>
        {join?.mode === 'open'
          ? 'Joining: open to every device (LWMQN_JOIN=open)'
          : left > 0
            ? `Joining: open for ${duration(left)}`
            : 'Joining: closed'}
      </span>
      <input aria-label="Permit-join seconds" size={5} value={seconds} onInput={(e) => setSeconds(e.currentTarget.value)} />
      <button onClick={() => void permit(Number(seconds))}>Permit join</button>
      {left > 0 && join?.mode === 'permit' && <button onClick={() => void permit(0)}>Close now</button>}
      <input
        aria-label="Announcement"
        placeholder="message to every device"
        value={message}
        onInput={(e) => setMessage(e.currentTarget.value)}
      />
      <button disabled={message.trim() === ''} onClick={() => void announce()}>
        Announce
      </button>
      <span class="answer">{answer}</span>
    </div>
  );
}
