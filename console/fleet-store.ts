import { api, type DeviceRecord, type DeviceStatus, type LwmqnEvent } from './api';

/** How many events the events view can show: older ones fall off the end. */
export const RECENT_KEPT = 1000;

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
  /** The latest events since the page opened, newest first (the events view's log). */
  recent: LwmqnEvent[] = [];
  version = 0;
  /** The list has been fetched once. */
  loaded = false;
  /** The first fetch has shown some pages and more are coming: the counts are not the fleet's yet. */
  partial = false;
  private readonly listeners = new Set<() => void>();
  private readonly eventListeners = new Set<(event: LwmqnEvent) => void>();
  private scheduled = false;
  /** Events that came while the list was being fetched: applied again over the fetched list. */
  private meanwhile: LwmqnEvent[] | undefined;

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
    const missed: LwmqnEvent[] = [];
    this.meanwhile = missed;
    // The first time, each page shows as it comes: a big fleet's first rows do not wait for the last page.
    const first = !this.loaded && this.devices.size === 0;
    const records = await this.fetchAll((page, more) => {
      if (!first) return;
      for (const record of page) if (!this.devices.has(record.clientId)) this.devices.set(record.clientId, record);
      this.partial = more;
      this.changed();
    }).finally(() => {
      if (this.meanwhile === missed) this.meanwhile = undefined;
      if (first && this.partial) {
        this.partial = false;
        this.changed();
      }
    });
    if (!records) return;
    const seen = new Map(this.devices);
    this.devices.clear();
    for (const record of records) {
      this.devices.set(record.clientId, { ...record, lastActivity: seen.get(record.clientId)?.lastActivity });
    }
    // The list may have been read before some of them (a device that left, then came back...).
    for (const event of missed) this.update(event);
    this.loaded = true;
    this.changed();
  }

  /**
   * Every page of GET /devices; undefined when one fails (the list shown stays as it was). The
   * first page is small, so that it comes fast; the later ones are as big as the API allows.
   */
  private async fetchAll(onPage: (page: DeviceRecord[], more: boolean) => void): Promise<DeviceRecord[] | undefined> {
    const records: DeviceRecord[] = [];
    for (let page: string | undefined = '/devices?limit=200'; page !== undefined;) {
      const answer = await api('GET', page);
      if (answer.status !== 200 || !Array.isArray(answer.body)) return undefined;
      records.push(...(answer.body as DeviceRecord[]));
      page = answer.next?.replace(/([?&]limit=)\d+/, (_, key: string) => `${key}5000`);
      onPage(answer.body as DeviceRecord[], page !== undefined);
    }
    return records;
  }

  apply(event: LwmqnEvent): void {
    this.meanwhile?.push(event);
    this.recent = [event, ...this.recent.slice(0, RECENT_KEPT - 1)];
    this.update(event);
    for (const listener of [...this.eventListeners]) listener(event);
    this.changed();
  }

  private update(event: LwmqnEvent): void {
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
      case 'devUpdate': {
        // The changed attributes; an update renews the lifetime, as a notify does.
        if (!known) break;
        const updated = { ...known, ...(event.data as Partial<DeviceRecord>) };
        this.devices.set(id, {
          ...updated,
          lastActivity: event.timestamp,
          expiresAt: Math.floor(event.timestamp / 1000) + updated.lifetime,
        });
        break;
      }
      case 'devNotify':
      case 'devChange':
        // A notify renews the device's lifetime.
        if (known)
          this.devices.set(id, {
            ...known,
            lastActivity: event.timestamp,
            expiresAt: Math.max(known.expiresAt, Math.floor(event.timestamp / 1000) + known.lifetime),
          });
        break;
      default:
        if (known) this.devices.set(id, { ...known, lastActivity: event.timestamp });
    }
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
