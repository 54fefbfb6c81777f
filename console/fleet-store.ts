import { api, devicePath, type DeviceRecord, type DeviceStatus, type LwmqnEvent } from './api';

export interface Device extends DeviceRecord {
  /** When the console last heard of the device (an event), if it has. */
  lastActivity?: number;
}

/**
 * Every device, kept up to date from the event stream. Listeners are told at most once per
 * animation frame, so a burst of events costs one render.
 */
export class FleetStore {
  readonly devices = new Map<string, Device>();
  version = 0;
  private readonly listeners = new Set<() => void>();
  private readonly eventListeners = new Set<(event: LwmqnEvent) => void>();
  private scheduled = false;

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every event, for views that show more than the fleet (a device's values). */
  onEvent(listener: (event: LwmqnEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  async load(): Promise<void> {
    const answer = await api('GET', '/devices');
    if (answer.status !== 200 || !Array.isArray(answer.body)) return;
    const seen = new Map(this.devices);
    this.devices.clear();
    for (const record of answer.body as DeviceRecord[]) {
      this.devices.set(record.clientId, { ...record, lastActivity: seen.get(record.clientId)?.lastActivity });
    }
    this.changed();
  }

  async refresh(id: string): Promise<void> {
    const answer = await api('GET', devicePath(id));
    if (answer.status === 200) {
      const record = answer.body as DeviceRecord;
      this.devices.set(id, { ...record, lastActivity: this.devices.get(id)?.lastActivity });
    } else if (answer.status === 404) {
      this.devices.delete(id);
    }
    this.changed();
  }

  apply(event: LwmqnEvent): void {
    const id = event.clientId;
    const known = this.devices.get(id);
    switch (event.type) {
      case 'devIncoming':
        this.devices.set(id, { ...(event.data as DeviceRecord), lastActivity: event.timestamp });
        break;
      case 'devLeaving':
        this.devices.delete(id);
        break;
      case 'devStatus':
        if (known) this.devices.set(id, { ...known, status: event.data as DeviceStatus, lastActivity: event.timestamp });
        break;
      case 'devUpdate':
        // The changed attributes; the record again for what follows from them (expiresAt).
        if (known) this.devices.set(id, { ...known, ...(event.data as Partial<DeviceRecord>), lastActivity: event.timestamp });
        void this.refresh(id);
        break;
      case 'devNotify':
      case 'devChange':
        // A notify renews the device's lifetime.
        if (known) this.devices.set(id, { ...known, lastActivity: event.timestamp, expiresAt: event.timestamp + known.lifetime * 1000 });
        break;
      default:
        if (known) this.devices.set(id, { ...known, lastActivity: event.timestamp });
    }
    for (const listener of [...this.eventListeners]) listener(event);
    this.changed();
  }

  private changed(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.version += 1;
      for (const listener of [...this.listeners]) listener();
    });
  }
}
