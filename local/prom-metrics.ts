import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Metrics } from '../shared/ports';
import { DEVICE_STATUSES, type DeviceRecord } from '../shared/store/model';

/** What the local stack reports beside the counted events: read when /metrics is scraped. */
export interface MetricsSources {
  /** Every registered device (for devices by status). */
  devices(): Promise<DeviceRecord[]>;
  /** Messages the bridge has taken and not yet acknowledged, and those waiting to be retried. */
  bridge(): { backlog: number; retrying: number };
}

const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The local stack's metrics in Prometheus text format (`GET /metrics`), with prom-client. */
export class PromMetrics implements Metrics {
  readonly registry = new Registry();
  private readonly messages = new Counter({
    name: 'lwmqn_messages_total',
    help: 'Device messages handled, by channel and outcome (a failed run is retried)',
    labelNames: ['channel', 'outcome'],
    registers: [this.registry],
  });
  private readonly handlerSeconds = new Histogram({
    name: 'lwmqn_handler_seconds',
    help: 'Time a channel handler took',
    labelNames: ['channel'],
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly answers = new Counter({
    name: 'lwmqn_answers_total',
    help: 'Answers to devices, by channel and status',
    labelNames: ['channel', 'status'],
    registers: [this.registry],
  });
  private readonly storeSeconds = new Histogram({
    name: 'lwmqn_store_call_seconds',
    help: 'Time a store request took, by operation',
    labelNames: ['operation'],
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly storeErrors = new Counter({
    name: 'lwmqn_store_errors_total',
    help: 'Store requests that failed, by operation',
    labelNames: ['operation'],
    registers: [this.registry],
  });
  private readonly commandSeconds = new Histogram({
    name: 'lwmqn_command_seconds',
    help: 'Round trip of a device command, from the request to the answer or the timeout',
    labelNames: ['command'],
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly commands = new Counter({
    name: 'lwmqn_commands_total',
    help: "Device commands, by command and outcome (the device's status, or timeout)",
    labelNames: ['command', 'outcome'],
    registers: [this.registry],
  });

  constructor(sources: MetricsSources) {
    collectDefaultMetrics({ register: this.registry, prefix: 'lwmqn_' });
    new Gauge({
      name: 'lwmqn_devices',
      help: 'Registered devices by status',
      labelNames: ['status'],
      registers: [this.registry],
      async collect() {
        const counts = Object.fromEntries(DEVICE_STATUSES.map((s) => [s, 0]));
        for (const d of await sources.devices()) counts[d.status] += 1;
        for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
      },
    });
    new Gauge({
      name: 'lwmqn_bridge_backlog',
      help: 'Messages the bridge has taken and not yet acknowledged',
      registers: [this.registry],
      collect() {
        this.set(sources.bridge().backlog);
      },
    });
    new Gauge({
      name: 'lwmqn_bridge_retrying',
      help: 'Messages waiting to be retried (the store failing)',
      registers: [this.registry],
      collect() {
        this.set(sources.bridge().retrying);
      },
    });
  }

  handled(channel: string, seconds: number, failed: boolean): void {
    this.messages.inc({ channel, outcome: failed ? 'failed' : 'ok' });
    this.handlerSeconds.observe({ channel }, seconds);
  }

  answered(channel: string, status: number): void {
    this.answers.inc({ channel, status: String(status) });
  }

  storeCall(operation: string, seconds: number, failed: boolean): void {
    this.storeSeconds.observe({ operation }, seconds);
    if (failed) this.storeErrors.inc({ operation });
  }

  commandEnded(command: string, outcome: number | 'timeout', seconds: number): void {
    this.commands.inc({ command, outcome: String(outcome) });
    this.commandSeconds.observe({ command }, seconds);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
