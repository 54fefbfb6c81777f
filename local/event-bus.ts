import { EventEmitter } from 'node:events';
import type { EventSink, LwmqnEvent } from '../shared/ports';

/** In-process fan-out of emitted events, for `GET /events` subscribers of the local API. */
export class EventBus implements EventSink {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  async emit(event: LwmqnEvent): Promise<void> {
    this.emitter.emit('event', event);
  }

  subscribe(listener: (event: LwmqnEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}
