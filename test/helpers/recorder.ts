import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ServerConfig } from '../../shared/config';
import type { ChannelMessage, Deps } from '../../shared/deps';
import type { Clock, EventSink, LwmqnEvent, Logger, Metrics, Publisher } from '../../shared/ports';
import { CachedDeviceStore } from '../../shared/store/cached-devices';
import { createDocumentClient, fixedShards, type Table } from '../../shared/store/table/client';
import { TablePendingCommands } from '../../shared/store/table/commands';
import { ensureTable } from '../../shared/store/table/definition';
import { TableDeviceStore } from '../../shared/store/table/devices';
import { TableRegistrationStore } from '../../shared/store/table/registrations';
import { TableSettingsStore } from '../../shared/store/table/settings';
import { startMemoryStore, type Running } from '../../local/embedded-store';
import { MemoryPendingCommands } from '../../local/memory-commands';
import { MemoryRegistrationStore } from '../../local/memory-registrations';

/** Unit-test deps: a real in-memory dynalite table, a recording publisher and event sink, a settable clock. */
export interface Published {
  topic: string;
  payload: string;
  json: () => any;
}

export class RecordingPublisher implements Publisher {
  readonly published: Published[] = [];
  async publish(topic: string, payload: string): Promise<void> {
    this.published.push({ topic, payload, json: () => JSON.parse(payload) });
  }
  on(topic: string): any[] {
    return this.published.filter((p) => p.topic === topic).map((p) => p.json());
  }
  clear(): void {
    this.published.length = 0;
  }
}

export class RecordingEvents implements EventSink {
  readonly events: LwmqnEvent[] = [];
  async emit(event: LwmqnEvent): Promise<void> {
    this.events.push(event);
  }
  of(type: string): LwmqnEvent[] {
    return this.events.filter((e) => e.type === type);
  }
  clear(): void {
    this.events.length = 0;
  }
}

export class ManualClock implements Clock {
  constructor(public ms = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

export const silentLog: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Metrics that go nowhere: the handler tests assert on answers and the store, not on figures. */
export const noMetrics: Metrics = { handled() {}, answered() {}, storeCall() {}, commandEnded() {} };

export interface TestDeps extends Deps {
  /** The raw table, for assertions on what is really stored. */
  table: Table;
  publisher: RecordingPublisher;
  events: RecordingEvents;
  clock: ManualClock;
}

export interface TestStore {
  endpoint: string;
  client: DynamoDBClient;
  close(): Promise<void>;
}

let counter = 0;

/** One dynalite per test file; each `makeDeps` call gets its own fresh table in it. */
export async function startTestStore(): Promise<TestStore> {
  const server: Running = await startMemoryStore();
  const client = new DynamoDBClient({
    endpoint: server.url,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  return {
    endpoint: server.url,
    client,
    close: async () => {
      client.destroy();
      await server.close();
    },
  };
}

export async function makeDeps(
  store: TestStore,
  config: Partial<ServerConfig> = {},
  opts: { deviceCache?: boolean } = {},
): Promise<TestDeps> {
  const tableName = `t${process.pid}_${++counter}`;
  await ensureTable(store.client, tableName);
  // The "handlers, local wiring" jest project: the ports as local/stack.ts builds them.
  const local = process.env.LWMQN_TEST_LOCAL_WIRING === '1';
  const table: Table = { doc: createDocumentClient(store.client), name: tableName, shards: fixedShards(4) };
  const clock = new ManualClock();
  return {
    table,
    devices: opts.deviceCache || local ? new CachedDeviceStore(new TableDeviceStore(table)) : new TableDeviceStore(table),
    registrations: local ? new MemoryRegistrationStore() : new TableRegistrationStore(table),
    commands: local ? new MemoryPendingCommands() : new TablePendingCommands(table, clock),
    settings: new TableSettingsStore(table),
    publisher: new RecordingPublisher(),
    events: new RecordingEvents(),
    clock,
    log: silentLog,
    metrics: noMetrics,
    config: { requestTimeoutMs: 10_000, join: 'open', defaultLifetime: 86_400, ...config },
  };
}

/** The handler input (docs/PROTOCOL.md) a topic rule or the bridge would deliver. */
export function message(topic: string, payload: unknown, mqttClientId?: string): ChannelMessage {
  const raw = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return { topic, payload: Buffer.from(raw).toString('base64'), mqttClientId, receivedAt: Date.now() };
}
