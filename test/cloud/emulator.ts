import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, GetItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import mqtt, { type MqttClient } from 'mqtt';
import { ROOT } from '../../infra/bundle';
import { publishRequest } from '../helpers/iot-data-endpoint';
import { mosquittoBinary, startMosquitto, type MosquittoProcess } from '../helpers/mosquitto';
import { startTestStore, type TestStore } from '../helpers/recorder';
import {
  ACCOUNT,
  PARTITION,
  REGION,
  Resolver,
  checkStatement,
  compileSelect,
  isAllowed,
  matchesPattern,
  parseRuleSql,
  rateMs,
  readAssembly,
  resourcesOf,
  type Assembly,
  type Statement,
} from './template';

/**
 * The cloud emulation (docs/DEPLOY.md, "Tested before it ships"): the synthesized cloud assembly
 * run as AWS would run it, on local parts. Each `AWS::Lambda::Function` runs its bundle from the
 * assembly in processes of its own (one invocation at a time each, as a Lambda execution
 * environment) with the template's environment; each `AWS::IoT::TopicRule` subscribes to its
 * FROM filter on a real Mosquitto and invokes its function with the event its SELECT builds;
 * the HTTP API route turns HTTP requests into payload-format-2.0 events; the EventBridge
 * schedule targets can be run; the devices' IoT policy becomes Mosquitto's ACL; the table is
 * created in dynalite from the template's definition. Every DynamoDB and IoT data-plane call a
 * function makes goes through a gateway that identifies the function by its credentials and
 * checks the call against the IAM statements of the function's role.
 */

export interface SdkCall {
  function: string;
  action: string;
  resource: string;
  allowed: boolean;
}

export interface FailedInvocation {
  function: string;
  source: string;
  error: string;
}

/** Whoever makes a call: a function, or a service acting with a role of the stack (a pipe). */
export interface Principal {
  logicalId: string;
  roleId: string;
  name: string;
  statements: Statement[];
}

interface EmulatedQueue {
  logicalId: string;
  arn: string;
  delayMs: number;
  visibilityMs: number;
  maxReceiveCount: number;
  consumers: EmulatedFunction[];
  sent: number;
}

interface StoreAnswer {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** The writes DynamoDB Streams reports (the store issues no batch or transaction writes; those would fail loudly). */
const STREAMED_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem']);

export interface Observer {
  messages: Array<{ topic: string; payload: string }>;
  close(): Promise<void>;
}

export interface EmulatedFunction {
  logicalId: string;
  name: string;
  arn: string;
  roleId: string;
  handler: string;
  codeDir: string;
  env: Record<string, string>;
  timeoutMs: number;
  /** MaximumRetryAttempts of the function's EventInvokeConfig (asynchronous invocations). */
  asyncRetries: number;
  statements: Statement[];
  /** What the function wrote on stdout and stderr (its CloudWatch log). */
  logs: string[];
  invocations: number;
}

export interface Schedule {
  logicalId: string;
  expression: string;
  periodMs: number;
  target: EmulatedFunction;
}

interface Container {
  child: ChildProcess;
  busy: boolean;
}

/** At most this many execution environments per function: Lambda scales further, this machine does not. */
const MAX_CONTAINERS = 2;
const INTERNAL_USER = 'emulated-iot-core';

/** Runs the CDK app exactly as `cdk synth` does (cdk.json's `app`, CDK_OUTDIR, CDK_CONTEXT_JSON). */
export async function synthesize(context: Record<string, string>): Promise<Assembly> {
  const outdir = mkdtempSync(join(tmpdir(), 'lwmqn-cloud-'));
  const app = (JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as { app: string }).app;
  const child = spawn(app, {
    shell: true,
    cwd: ROOT,
    env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify(context) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`cdk app (${app}) exited with ${code}: ${output}`);
  return readAssembly(outdir);
}

export class CloudEmulation {
  readonly functions = new Map<string, EmulatedFunction>();
  readonly schedules: Schedule[] = [];
  readonly sdkCalls: SdkCall[] = [];
  readonly failures: FailedInvocation[] = [];
  readonly tableName: string;
  broker!: MosquittoProcess;
  apiUrl = '';

  private readonly resolver: Resolver;
  private readonly containers = new Map<string, Container[]>();
  private readonly waiting = new Map<string, Array<(c: Container) => void>>();
  private readonly calls = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly servers: Server[] = [];
  private readonly observers: MqttClient[] = [];
  private readonly queues = new Map<string, EmulatedQueue>();
  private readonly streamReaders: Array<(record: Record<string, unknown>) => void> = [];
  private readonly keyLocks = new Map<string, Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private streamViewType?: string;
  private sequence = 0;
  private store?: TestStore;
  private iot?: MqttClient;
  /** The DynamoDB endpoint the functions use: the IAM gateway in front of dynalite. */
  dynamoEndpoint = '';
  /** The IoT data plane stand-in the functions publish through (IAM-checked, into Mosquitto). */
  iotDataEndpoint = '';
  private readonly dir = mkdtempSync(join(tmpdir(), 'lwmqn-cloud-run-'));
  private readonly suffix = `${process.pid}${Date.now().toString(36)}`;
  private closing = false;

  constructor(readonly assembly: Assembly) {
    const { template, stackName } = assembly;
    const tables = resourcesOf(template, 'AWS::DynamoDB::Table');
    if (tables.length !== 1) throw new Error(`emulation: expected one table, found ${tables.length}`);
    const explicit = tables[0][1].Properties?.TableName as string | undefined;
    this.tableName = explicit ?? `${stackName}-${tables[0][0]}-${this.suffix}`;
    this.resolver = new Resolver(template, (id) =>
      template.Resources[id]?.Type === 'AWS::DynamoDB::Table' ? this.tableName : `${stackName}-${id}`.slice(0, 64),
    );
  }

  async start(): Promise<void> {
    try {
      this.store = await startTestStore();
      await this.createTable();
      this.broker = await this.startBroker();
      this.iot = await connectInternal(this.broker.url, `emulated-iot-core-${this.suffix}`, this.suffix);
      this.dynamoEndpoint = await this.listen((req, res) => this.dynamoGateway(req, res));
      this.iotDataEndpoint = await this.listen((req, res) => this.iotDataGateway(req, res));
      this.loadFunctions();
      this.loadQueues();
      this.loadEventSourceMappings();
      this.loadPipes();
      await this.startRules();
      await this.startHttpApi();
      this.loadSchedules();
      await this.warmUp();
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /**
   * One execution environment per function started up front, two at a time: on this shared
   * machine ten cold starts at the first messages would take longer than the request timeout
   * the test runs with. Lambda's own cold starts take a fraction of a second.
   */
  private async warmUp(): Promise<void> {
    const fns = [...this.functions.values()];
    const next = async (): Promise<void> => {
      const fn = fns.shift();
      if (!fn) return;
      this.containers.get(fn.logicalId)!.push(await this.startContainer(fn));
      return next();
    };
    await Promise.all([next(), next()]);
  }

  /** How many messages each queue of the stack was sent, by logical id. */
  queueSends(): Record<string, number> {
    return Object.fromEntries([...this.queues.values()].map((q) => [q.logicalId, q.sent]));
  }

  /** A function by the start of its logical id (`Register`, `Api`, `Reaper`). */
  fn(prefix: string): EmulatedFunction {
    const found = [...this.functions.values()].filter((f) => f.logicalId.startsWith(`${prefix}Function`));
    if (found.length !== 1) throw new Error(`emulation: ${found.length} functions named ${prefix}`);
    return found[0];
  }

  /** An MQTT client with IoT Core's own rights (an application allowed to read everything), recording what it hears. */
  async observer(filter: string): Promise<Observer> {
    const client = await connectInternal(this.broker.url, `observer-${randomUUID().slice(0, 8)}`, this.suffix);
    const observer: Observer = { messages: [], close: () => client.endAsync() };
    client.on('message', (topic, payload) => observer.messages.push({ topic, payload: payload.toString('utf8') }));
    await client.subscribeAsync(filter, { qos: 1 });
    this.observers.push(client);
    return observer;
  }

  /** The calls the functions' roles did not allow. */
  deniedCalls(): SdkCall[] {
    return this.sdkCalls.filter((c) => !c.allowed);
  }

  /** What EventBridge would deliver to the target of `schedule` when it fires. */
  async runSchedule(schedule: Schedule): Promise<unknown> {
    const event = {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: ACCOUNT,
      time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      region: REGION,
      resources: [this.resolver.getAtt(schedule.logicalId, 'Arn')],
      detail: {},
    };
    return this.invoke(schedule.target, event, `schedule ${schedule.logicalId}`);
  }

  /** A synchronous invocation (RequestResponse). */
  invoke(fn: EmulatedFunction, event: unknown, source: string): Promise<unknown> {
    return this.withContainer(fn, (container) => this.run(fn, container, event, source));
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const timer of this.timers) clearTimeout(timer);
    for (const list of this.containers.values()) for (const c of list) c.child.kill('SIGKILL');
    this.containers.clear();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => (s.closeAllConnections(), s.close(() => resolve())))));
    for (const client of [...this.observers, ...(this.iot ? [this.iot] : [])]) {
      await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
    }
    await this.broker?.stop();
    await this.store?.close();
    rmSync(this.dir, { recursive: true, force: true });
    rmSync(this.assembly.dir, { recursive: true, force: true });
  }

  // --- DynamoDB -----------------------------------------------------------------------------

  /** The table as CloudFormation would create it from the template (TTL aside: dynalite has none). */
  private async createTable(): Promise<void> {
    const [, table] = resourcesOf(this.assembly.template, 'AWS::DynamoDB::Table')[0];
    const p = table.Properties ?? {};
    await this.store!.client.send(
      new CreateTableCommand({
        TableName: this.tableName,
        AttributeDefinitions: p.AttributeDefinitions,
        KeySchema: p.KeySchema,
        GlobalSecondaryIndexes: p.GlobalSecondaryIndexes,
        BillingMode: p.BillingMode,
      }),
    );
    this.streamViewType = (p.StreamSpecification as { StreamViewType?: string } | undefined)?.StreamViewType;
  }

  private dynamoGateway(req: IncomingMessage, res: ServerResponse): void {
    void readBody(req).then(async (body) => {
      const fn = this.caller(req);
      const target = String(req.headers['x-amz-target'] ?? '');
      const operation = target.slice(target.indexOf('.') + 1);
      const action = `dynamodb:${operation}`;
      const request = JSON.parse(body.toString('utf8') || '{}') as Record<string, any>;
      const denied = this.authorize(fn, action, dynamoResources(request));
      if (denied) {
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify({ __type: 'com.amazon.coral.service#AccessDeniedException', message: denied }));
        return;
      }
      if (this.streamViewType && /^(BatchWriteItem|TransactWriteItems)$/.test(operation)) {
        this.fail(fn?.logicalId ?? '(unsigned)', 'table stream', `the stream record of a ${operation} is not implemented`);
      }
      const forward = () => this.forwardToStore(req, body);
      let answer: StoreAnswer;
      try {
        answer =
          this.streamViewType && STREAMED_WRITES.has(operation) ? await this.streamed(operation, request, forward) : await forward();
      } catch (err) {
        res.destroy(err as Error);
        return;
      }
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body);
    });
  }

  private forwardToStore(req: IncomingMessage, body: Buffer): Promise<StoreAnswer> {
    const upstream = new URL(this.store!.endpoint);
    return new Promise((resolve, reject) => {
      const forward = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          void readBody(answer).then((b) => resolve({ status: answer.statusCode ?? 500, headers: answer.headers, body: b }), reject);
        },
      );
      forward.on('error', reject);
      forward.end(body);
    });
  }

  /**
   * The table's stream: a write's item is read before and after it (writes to one key one after
   * another, so the two reads belong to it), and the change goes to the stream's readers as the
   * record DynamoDB Streams would carry, with the images the StreamViewType asks for.
   */
  private async streamed(operation: string, request: Record<string, any>, write: () => Promise<StoreAnswer>): Promise<StoreAnswer> {
    const source = (operation === 'PutItem' ? request.Item : request.Key) as Record<string, AttributeValue>;
    const keyNames = (this.tableProps().KeySchema as { AttributeName: string }[]).map((k) => k.AttributeName);
    const Key = Object.fromEntries(keyNames.map((k) => [k, source[k]]));
    const lockKey = JSON.stringify(Key);
    const previous = this.keyLocks.get(lockKey) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    this.keyLocks.set(lockKey, mine);
    await previous;
    try {
      const read = async () =>
        (await this.store!.client.send(new GetItemCommand({ TableName: this.tableName, Key, ConsistentRead: true }))).Item;
      const before = await read();
      const answer = await write();
      if (answer.status !== 200) return answer;
      const after = await read();
      if (!before && !after) return answer;
      const view = this.streamViewType!;
      const record = {
        eventID: randomUUID().replace(/-/g, ''),
        eventName: !before ? 'INSERT' : !after ? 'REMOVE' : 'MODIFY',
        eventVersion: '1.1',
        eventSource: 'aws:dynamodb',
        awsRegion: REGION,
        dynamodb: {
          ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
          Keys: Key,
          ...(after && (view === 'NEW_IMAGE' || view === 'NEW_AND_OLD_IMAGES') ? { NewImage: after } : {}),
          ...(before && (view === 'OLD_IMAGE' || view === 'NEW_AND_OLD_IMAGES') ? { OldImage: before } : {}),
          SequenceNumber: String(++this.sequence).padStart(21, '0'),
          SizeBytes: JSON.stringify(after ?? before).length,
          StreamViewType: view,
        },
        eventSourceARN: this.resolver.getAtt(this.tableId(), 'StreamArn'),
      };
      for (const reader of this.streamReaders) reader(record);
      return answer;
    } finally {
      release();
      if (this.keyLocks.get(lockKey) === mine) this.keyLocks.delete(lockKey);
    }
  }

  private tableId(): string {
    return resourcesOf(this.assembly.template, 'AWS::DynamoDB::Table')[0][0];
  }

  private tableProps(): Record<string, any> {
    return resourcesOf(this.assembly.template, 'AWS::DynamoDB::Table')[0][1].Properties ?? {};
  }

  // --- EventBridge Pipes, SQS, event source mappings ----------------------------------------

  /** Each pipe: the table's stream, its filter, an SQS target; its role checked for both ends. */
  private loadPipes(): void {
    for (const [id, r] of resourcesOf(this.assembly.template, 'AWS::Pipes::Pipe')) {
      const p = r.Properties ?? {};
      for (const key of Object.keys(p)) {
        if (!['Name', 'Description', 'RoleArn', 'Source', 'SourceParameters', 'Target', 'DesiredState'].includes(key)) {
          throw new Error(`emulation: pipe property ${key} is not implemented (${id})`);
        }
      }
      const streamArn = this.resolver.getAtt(this.tableId(), 'StreamArn');
      if (this.resolver.resolve(p.Source) !== streamArn || !this.streamViewType) {
        throw new Error(`emulation: a pipe source other than the table's stream is not implemented (${id})`);
      }
      const sp = (p.SourceParameters ?? {}) as Record<string, any>;
      for (const key of Object.keys(sp)) {
        if (!['DynamoDBStreamParameters', 'FilterCriteria'].includes(key))
          throw new Error(`emulation: pipe ${key} is not implemented`);
      }
      const patterns = ((sp.FilterCriteria?.Filters ?? []) as { Pattern: string }[]).map((f) => JSON.parse(f.Pattern) as unknown);
      const queue = this.queues.get(this.resolver.resolve(p.Target) as string);
      if (!queue) throw new Error(`emulation: a pipe target other than an SQS queue of the stack is not implemented (${id})`);
      const roleId = (p.RoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      const principal: Principal = { logicalId: id, roleId, name: this.resolver.ref(id), statements: this.roleStatements(roleId) };
      this.streamReaders.push((record) => {
        if (this.authorize(principal, 'dynamodb:GetRecords', [streamArn])) return this.fail(id, 'pipe', 'may not read the stream');
        if (patterns.length > 0 && !patterns.some((pattern) => matchesPattern(pattern, record))) return;
        if (this.authorize(principal, 'sqs:SendMessage', [queue.arn])) return this.fail(id, 'pipe', 'may not send to its target');
        this.sendToQueue(queue, JSON.stringify(record));
      });
    }
  }

  private loadQueues(): void {
    for (const [id, r] of resourcesOf(this.assembly.template, 'AWS::SQS::Queue')) {
      const p = r.Properties ?? {};
      if (p.FifoQueue) throw new Error(`emulation: FIFO queues are not implemented (${id})`);
      const arn = this.resolver.getAtt(id, 'Arn');
      this.queues.set(arn, {
        logicalId: id,
        arn,
        delayMs: Number(p.DelaySeconds ?? 0) * 1000,
        visibilityMs: Number(p.VisibilityTimeout ?? 30) * 1000,
        maxReceiveCount: Number(p.RedrivePolicy?.maxReceiveCount ?? Infinity),
        consumers: [],
        sent: 0,
      });
    }
  }

  /** SQS event source mappings: the Lambda service polls the queue with the function's role. */
  private loadEventSourceMappings(): void {
    for (const [id, r] of resourcesOf(this.assembly.template, 'AWS::Lambda::EventSourceMapping')) {
      const p = r.Properties ?? {};
      if (p.Enabled === false) continue;
      const queue = this.queues.get(this.resolver.resolve(p.EventSourceArn) as string);
      if (!queue) throw new Error(`emulation: an event source other than an SQS queue of the stack is not implemented (${id})`);
      const fnId = (p.FunctionName as { Ref?: string }).Ref;
      const fn = fnId ? this.functions.get(fnId) : undefined;
      if (!fn) throw new Error(`emulation: event source mapping ${id} names no function of the stack`);
      queue.consumers.push(fn);
    }
  }

  /**
   * A message becomes visible after the queue's delay; each consumer's invocation gets it as a
   * one-record batch. A failed invocation makes it visible again after the visibility timeout;
   * after maxReceiveCount receives it goes to the dead-letter queue (recorded as a failure).
   */
  private sendToQueue(queue: EmulatedQueue, body: string): void {
    queue.sent++;
    const messageId = randomUUID();
    let receives = 0;
    const deliver = () => {
      if (this.closing) return;
      for (const fn of queue.consumers) {
        receives++;
        const poll = this.authorize(fn, 'sqs:ReceiveMessage', [queue.arn]);
        if (poll) return this.fail(fn.logicalId, `queue ${queue.logicalId}`, poll);
        const event = {
          Records: [
            {
              messageId,
              receiptHandle: randomUUID(),
              body,
              attributes: {
                ApproximateReceiveCount: String(receives),
                SentTimestamp: String(Date.now() - queue.delayMs),
                SenderId: 'EMULATED',
                ApproximateFirstReceiveTimestamp: String(Date.now()),
              },
              messageAttributes: {},
              md5OfBody: createHash('md5').update(body).digest('hex'),
              eventSource: 'aws:sqs',
              eventSourceARN: queue.arn,
              awsRegion: REGION,
            },
          ],
        };
        this.invoke(fn, event, `queue ${queue.logicalId}`).then(
          () => {
            const refused = this.authorize(fn, 'sqs:DeleteMessage', [queue.arn]);
            if (refused) this.fail(fn.logicalId, `queue ${queue.logicalId}`, refused);
          },
          (err: unknown) => {
            if (this.closing) return;
            this.fail(fn.logicalId, `queue ${queue.logicalId}`, String(err));
            if (receives < queue.maxReceiveCount) this.later(deliver, queue.visibilityMs);
            else this.fail(fn.logicalId, `queue ${queue.logicalId}`, `message ${messageId} moved to the dead-letter queue`);
          },
        );
      }
    };
    this.later(deliver, queue.delayMs);
  }

  private later(run: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }

  private fail(name: string, source: string, error: string): void {
    this.failures.push({ function: name, source, error });
  }

  // --- IoT data plane -----------------------------------------------------------------------

  private iotDataGateway(req: IncomingMessage, res: ServerResponse): void {
    void readBody(req).then(async (body) => {
      const publish = publishRequest(req, res);
      if (!publish) return;
      const { topic } = publish;
      const fn = this.caller(req);
      const denied = this.authorize(fn, 'iot:Publish', [`arn:${PARTITION}:iot:${REGION}:${ACCOUNT}:topic/${topic}`]);
      if (denied) {
        res.writeHead(403, { 'content-type': 'application/json', 'x-amzn-errortype': 'ForbiddenException' });
        res.end(JSON.stringify({ message: denied }));
        return;
      }
      const qos = Number(publish.qos ?? 0) === 1 ? 1 : 0;
      try {
        await this.iot!.publishAsync(topic, body, { qos });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch (err) {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ message: String(err) }));
      }
    });
  }

  /** The function whose credentials signed the request (each function gets its role's own key). */
  private caller(req: IncomingMessage): EmulatedFunction | undefined {
    const key = /Credential=([^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1];
    return key ? this.functions.get(key) : undefined;
  }

  /** Records the call; returns IAM's refusal, or undefined when the role allows every resource. */
  private authorize(fn: Principal | undefined, action: string, resources: string[]): string | undefined {
    let refusal: string | undefined;
    for (const resource of resources) {
      const allowed = fn !== undefined && isAllowed(fn.statements, action, resource);
      this.sdkCalls.push({ function: fn?.logicalId ?? '(unsigned)', action, resource, allowed });
      if (!allowed && !refusal) {
        refusal = `User: ${fn ? `arn:${PARTITION}:sts::${ACCOUNT}:assumed-role/${fn.roleId}/${fn.name}` : 'anonymous'} is not authorized to perform: ${action} on resource: ${resource}`;
      }
    }
    return refusal;
  }

  // --- Lambda -------------------------------------------------------------------------------

  private loadFunctions(): void {
    const { template } = this.assembly;
    for (const [id, r] of resourcesOf(template, 'AWS::Lambda::Function')) {
      const p = r.Properties ?? {};
      if (!String(p.Runtime).startsWith('nodejs')) throw new Error(`emulation: runtime ${p.Runtime} of ${id} is not implemented`);
      const s3Key = this.resolver.resolve(p.Code?.S3Key) as string;
      const codeDir = this.assembly.assetDirs.get(s3Key);
      if (!codeDir) continue; // code that is not an asset of this app (CDK's own custom-resource providers)
      const roleId = (p.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      const retries = resourcesOf(template, 'AWS::Lambda::EventInvokeConfig').find(
        ([, c]) => (c.Properties?.FunctionName as { Ref?: string })?.Ref === id,
      );
      const fn: EmulatedFunction = {
        logicalId: id,
        name: this.resolver.ref(id),
        arn: this.resolver.getAtt(id, 'Arn'),
        roleId,
        handler: String(p.Handler),
        codeDir,
        env: this.resolver.resolve(p.Environment?.Variables ?? {}) as Record<string, string>,
        timeoutMs: Number(p.Timeout ?? 3) * 1000,
        asyncRetries: Number(retries?.[1].Properties?.MaximumRetryAttempts ?? 2),
        statements: this.roleStatements(roleId),
        logs: [],
        invocations: 0,
      };
      this.functions.set(id, fn);
      this.containers.set(id, []);
    }
  }

  private roleStatements(roleId: string): Statement[] {
    const { template } = this.assembly;
    const role = template.Resources[roleId];
    if (role?.Type !== 'AWS::IAM::Role') throw new Error(`emulation: ${roleId} is not a role`);
    const docs: unknown[] = [
      ...((role.Properties?.Policies as { PolicyDocument: unknown }[] | undefined) ?? []).map((p) => p.PolicyDocument),
      ...resourcesOf(template, 'AWS::IAM::Policy')
        .filter(([, p]) => (p.Properties?.Roles as { Ref?: string }[]).some((r) => r.Ref === roleId))
        .map(([, p]) => p.Properties?.PolicyDocument),
    ];
    return docs.flatMap((doc) =>
      ((this.resolver.resolve(doc) as { Statement: Record<string, unknown>[] }).Statement ?? []).map(checkStatement),
    );
  }

  /** Lambda's environment: the template's variables, plus what the Lambda service sets itself. */
  private containerEnv(fn: EmulatedFunction): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      ...fn.env,
      // The one value replaced: the data endpoint is the local stand-in, not the account's host.
      IOT_DATA_ENDPOINT: this.iotDataEndpoint,
      // The SDK's own endpoint override (no variable of the application): DynamoDB is dynalite,
      // behind the IAM gateway.
      AWS_ENDPOINT_URL_DYNAMODB: this.dynamoEndpoint,
      AWS_REGION: REGION,
      AWS_DEFAULT_REGION: REGION,
      // The role's temporary credentials; the access key names the function to the gateways.
      AWS_ACCESS_KEY_ID: fn.logicalId,
      AWS_SECRET_ACCESS_KEY: 'emulated',
      AWS_SESSION_TOKEN: 'emulated',
      AWS_LAMBDA_FUNCTION_NAME: fn.name,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      LAMBDA_TASK_ROOT: fn.codeDir,
      TZ: ':UTC',
      _HANDLER: fn.handler,
      LWMQN_EMU_TASK_ROOT: fn.codeDir,
    };
  }

  private async startContainer(fn: EmulatedFunction): Promise<Container> {
    const child = fork(join(__dirname, 'lambda-worker.cjs'), [], {
      env: this.containerEnv(fn),
      execArgv: [],
      silent: true,
      cwd: fn.codeDir,
    });
    const log = (d: Buffer) => {
      const lines = d.toString('utf8').split('\n').filter(Boolean);
      fn.logs.push(...lines);
      // LWMQN_EMULATION_LOGS=1 shows the functions' logs as they come (CloudWatch's live tail).
      if (process.env.LWMQN_EMULATION_LOGS === '1') for (const line of lines) process.stderr.write(`[${fn.logicalId}] ${line}\n`);
    };
    child.stdout?.on('data', log);
    child.stderr?.on('data', log);
    const container: Container = { child, busy: false };
    child.on('message', (msg: { type: string; id?: string; result?: unknown; message?: string; errorType?: string }) => {
      if (!msg.id) return;
      const pending = this.calls.get(msg.id);
      if (!pending) return;
      this.calls.delete(msg.id);
      if (msg.type === 'result') pending.resolve(msg.result);
      else pending.reject(new Error(`${msg.errorType}: ${msg.message}`));
    });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (msg: { type: string; message?: string }) => {
        if (msg.type === 'ready') resolve();
        if (msg.type === 'init-error') reject(new Error(`${fn.logicalId} failed to initialise: ${msg.message}`));
      };
      child.on('message', onMessage);
      child.once('exit', (code) => reject(new Error(`${fn.logicalId} exited with ${code} during init: ${fn.logs.join('\n')}`)));
    });
    child.on('exit', () => {
      const list = this.containers.get(fn.logicalId) ?? [];
      const i = list.indexOf(container);
      if (i >= 0) list.splice(i, 1);
    });
    return container;
  }

  /** Runs `work` in an idle environment of `fn`, starting one (a cold start) when all are busy. */
  private async withContainer<T>(fn: EmulatedFunction, work: (c: Container) => Promise<T>): Promise<T> {
    if (this.closing) throw new Error('emulation closed');
    const list = this.containers.get(fn.logicalId)!;
    let container = list.find((c) => !c.busy);
    if (!container && list.length < MAX_CONTAINERS) {
      const placeholder: Container = { child: undefined as unknown as ChildProcess, busy: true };
      list.push(placeholder);
      try {
        container = await this.startContainer(fn);
      } finally {
        list.splice(list.indexOf(placeholder), 1);
      }
      list.push(container);
    }
    if (!container) {
      container = await new Promise<Container>((resolve) => {
        const queue = this.waiting.get(fn.logicalId) ?? [];
        queue.push(resolve);
        this.waiting.set(fn.logicalId, queue);
      });
    }
    container.busy = true;
    try {
      return await work(container);
    } finally {
      container.busy = false;
      const next = this.waiting.get(fn.logicalId)?.shift();
      if (next && container.child.exitCode === null && container.child.signalCode === null) next(container);
      else if (next) {
        // The environment ended (a timeout): the next invocation gets a fresh one.
        void this.startContainer(fn).then((fresh) => (list.push(fresh), next(fresh)));
      }
    }
  }

  private run(fn: EmulatedFunction, container: Container, event: unknown, source: string): Promise<unknown> {
    const id = randomUUID();
    fn.invocations++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.calls.delete(id);
        container.child.kill('SIGKILL'); // Lambda ends an environment whose invocation timed out
        reject(new Error(`${fn.logicalId}: Task timed out after ${fn.timeoutMs / 1000} seconds (${source})`));
      }, fn.timeoutMs);
      this.calls.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      container.child.send({ type: 'invoke', id, requestId: id, event, timeoutMs: fn.timeoutMs, functionArn: fn.arn });
    });
  }

  /**
   * An asynchronous invocation (`Event`), as a topic rule makes it: retried per the function's
   * EventInvokeConfig, then sent to its on-failure destination, which the emulation records.
   */
  private invokeAsync(fn: EmulatedFunction, event: unknown, source: string): void {
    const attempt = async (left: number): Promise<void> => {
      try {
        await this.invoke(fn, event, source);
      } catch (err) {
        if (this.closing) return;
        this.failures.push({ function: fn.logicalId, source, error: String(err) });
        if (left > 0) return attempt(left - 1);
      }
    };
    void attempt(fn.asyncRetries);
  }

  /** Whether an `AWS::Lambda::Permission` lets `principal` invoke `fn` from `sourceArn`. */
  private mayInvoke(fn: EmulatedFunction, principal: string, sourceArn: string): boolean {
    return resourcesOf(this.assembly.template, 'AWS::Lambda::Permission').some(([, p]) => {
      const props = this.resolver.resolve(p.Properties) as Record<string, string>;
      const target = props.FunctionName;
      return (
        (target === fn.arn || target === fn.name) &&
        props.Action === 'lambda:InvokeFunction' &&
        props.Principal === principal &&
        (props.SourceArn === undefined || isAllowed([{ Effect: 'Allow', Action: '*', Resource: props.SourceArn }], '*', sourceArn))
      );
    });
  }

  private functionByArn(arn: string): EmulatedFunction {
    const fn = [...this.functions.values()].find((f) => f.arn === arn);
    if (!fn) throw new Error(`emulation: no function with ARN ${arn}`);
    return fn;
  }

  // --- IoT Core: the broker and the rules engine --------------------------------------------

  /**
   * Mosquitto with the devices' IoT policy as its ACL: `iot:Publish` on `topic/<t>` becomes
   * `pattern write <t>`, `iot:Receive` `pattern read <t>`, with `${iot:ClientId}` as `%c`.
   * Devices connect anonymously under their clientId; the emulated IoT Core itself (rules
   * engine, data plane) logs in with an account of its own that may read and write everything.
   */
  private async startBroker(): Promise<MosquittoProcess> {
    const policies = resourcesOf(this.assembly.template, 'AWS::IoT::Policy');
    if (policies.length !== 1) throw new Error(`emulation: expected one IoT policy, found ${policies.length}`);
    const doc = this.resolver.resolve(policies[0][1].Properties?.PolicyDocument) as { Statement: Record<string, unknown>[] };
    const acl: string[] = [`user ${INTERNAL_USER}`, 'topic readwrite #'];
    const prefix = `arn:${PARTITION}:iot:${REGION}:${ACCOUNT}:`;
    for (const raw of doc.Statement) {
      if (raw.Effect !== 'Allow' || 'Condition' in raw)
        throw new Error(`emulation: IoT policy statement not implemented: ${JSON.stringify(raw)}`);
      for (const resource of ([] as string[]).concat(raw.Resource as string | string[])) {
        if (!resource.startsWith(prefix)) throw new Error(`emulation: IoT policy resource not implemented: ${resource}`);
        const [kind, ...rest] = resource.slice(prefix.length).split('/');
        const name = rest.join('/');
        if (name.includes('*') || name.replace('${iot:ClientId}', '').includes('${')) {
          throw new Error(`emulation: IoT policy resource not implemented: ${resource}`);
        }
        const topic = name.replace('${iot:ClientId}', '%c');
        if (raw.Action === 'iot:Connect' && kind === 'client' && name === '${iot:ClientId}')
          continue; // any clientId
        else if (raw.Action === 'iot:Publish' && kind === 'topic') acl.push(`pattern write ${topic}`);
        else if (raw.Action === 'iot:Receive' && kind === 'topic') acl.push(`pattern read ${topic}`);
        // Mosquitto's ACL file has no rule for SUBSCRIBE itself; what a device receives is `read`.
        else if (raw.Action === 'iot:Subscribe' && kind === 'topicfilter') continue;
        else throw new Error(`emulation: IoT policy action not implemented: ${String(raw.Action)} on ${resource}`);
      }
    }
    const aclFile = join(this.dir, 'acl');
    const passwdFile = join(this.dir, 'passwd');
    writeFileSync(aclFile, `${acl.join('\n')}\n`);
    writeFileSync(passwdFile, '');
    const passwd = spawnSync(mosquittoBinary().replace(/mosquitto$/, 'mosquitto_passwd'), [
      '-b',
      passwdFile,
      INTERNAL_USER,
      this.suffix,
    ]);
    if (passwd.status !== 0) {
      const fallback = spawnSync('mosquitto_passwd', ['-b', passwdFile, INTERNAL_USER, this.suffix]);
      if (fallback.status !== 0) throw new Error(`mosquitto_passwd failed: ${String(fallback.stderr)}`);
    }
    // Mosquitto started as root drops to its own user, which must be able to read both files.
    chmodSync(this.dir, 0o755);
    chmodSync(aclFile, 0o644);
    chmodSync(passwdFile, 0o644);
    return startMosquitto(['allow_anonymous true', `password_file ${passwdFile}`, `acl_file ${aclFile}`]);
  }

  /**
   * The rules engine: per enabled rule, the FROM filter subscribed to (QoS 1, so nothing is
   * lost between broker and engine), and per message the SELECT's event, handed to the rule's
   * Lambda action as an asynchronous invocation. `clientid()` is the clientId in the topic: the
   * broker's ACL (the device policy) lets a client publish only on its own `<channel>/<clientId>`,
   * and Mosquitto does not tell subscribers who published.
   */
  private async startRules(): Promise<void> {
    const routes: Array<{ filter: string; handle: (topic: string, payload: Buffer) => void }> = [];
    for (const [id, r] of resourcesOf(this.assembly.template, 'AWS::IoT::TopicRule')) {
      const p = r.Properties?.TopicRulePayload as Record<string, any>;
      if (p.RuleDisabled) continue;
      if (p.AwsIotSqlVersion !== '2016-03-23')
        throw new Error(`emulation: SQL version ${p.AwsIotSqlVersion} of ${id} is not implemented`);
      const { columns, from } = parseRuleSql(String(p.Sql));
      const select = compileSelect(columns);
      const ruleArn = this.resolver.getAtt(id, 'Arn');
      const targets = (p.Actions as Record<string, any>[]).map((action) => {
        const kinds = Object.keys(action);
        if (kinds.length !== 1 || kinds[0] !== 'Lambda')
          throw new Error(`emulation: rule action ${kinds.join()} is not implemented`);
        return this.functionByArn(this.resolver.resolve(action.Lambda.FunctionArn) as string);
      });
      routes.push({
        filter: from,
        handle: (topic, payload) => {
          const event = select({ topic, payload, clientId: topic.split('/')[1] ?? '', receivedAt: Date.now() });
          for (const fn of targets) {
            // Without the resource policy IoT's invoke is refused: the rule's error action runs.
            if (!this.mayInvoke(fn, 'iot.amazonaws.com', ruleArn)) {
              this.failures.push({ function: fn.logicalId, source: `rule ${id}`, error: 'iot.amazonaws.com may not invoke it' });
              continue;
            }
            this.invokeAsync(fn, event, `rule ${id} (${topic})`);
          }
        },
      });
    }
    const client = this.iot!;
    client.on('message', (topic, payload) => {
      for (const route of routes) if (matchesFilter(route.filter, topic)) route.handle(topic, payload);
    });
    await client.subscribeAsync(
      routes.map((r) => r.filter),
      { qos: 1 },
    );
  }

  // --- API Gateway HTTP API -----------------------------------------------------------------

  /** The `$default` route: each HTTP request becomes a payload-format-2.0 event for the integration's function. */
  private async startHttpApi(): Promise<void> {
    const { template } = this.assembly;
    const routes = resourcesOf(template, 'AWS::ApiGatewayV2::Route');
    if (routes.length !== 1 || routes[0][1].Properties?.RouteKey !== '$default') {
      throw new Error('emulation: only one $default route is implemented');
    }
    const route = routes[0][1].Properties;
    const integrationId = /^integrations\/(.+)$/.exec(this.resolver.resolve(route.Target) as string)?.[1];
    const integration =
      template.Resources[
        resourcesOf(template, 'AWS::ApiGatewayV2::Integration').find(([id]) => this.resolver.ref(id) === integrationId)?.[0] ?? ''
      ];
    const ip = integration?.Properties ?? {};
    if (ip.IntegrationType !== 'AWS_PROXY' || ip.PayloadFormatVersion !== '2.0') {
      throw new Error('emulation: only an AWS_PROXY integration with payload format 2.0 is implemented');
    }
    const fn = this.functionByArn(this.resolver.resolve(ip.IntegrationUri) as string);
    const apiId = this.resolver.ref(String((route.ApiId as { Ref: string }).Ref));
    const integrationTimeoutMs = Number(ip.TimeoutInMillis ?? 30_000);
    const iam = route.AuthorizationType === 'AWS_IAM';
    if (!['AWS_IAM', 'NONE', undefined].includes(route.AuthorizationType as string | undefined)) {
      throw new Error(`emulation: route authorization ${String(route.AuthorizationType)} is not implemented`);
    }

    this.apiUrl = await this.listen((req, res) => {
      void readBody(req).then(async (body) => {
        const send = (status: number, payload: unknown) =>
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
        // The IAM authorizer: the emulation cannot check a SigV4 signature, only that there is one.
        if (iam && !String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 '))
          return send(403, { message: 'Forbidden' });
        if (
          !this.mayInvoke(
            fn,
            'apigateway.amazonaws.com',
            `arn:${PARTITION}:execute-api:${REGION}:${ACCOUNT}:${apiId}/$default/${req.method}${req.url}`,
          )
        ) {
          return send(500, { message: 'Internal Server Error' });
        }
        const event = httpApiEvent(req, body, apiId);
        let timer: NodeJS.Timeout | undefined;
        try {
          const result = await Promise.race([
            this.invoke(fn, event, `api ${req.method} ${req.url}`),
            new Promise<never>(
              (_, reject) => (timer = setTimeout(() => reject(new Error('integration timeout')), integrationTimeoutMs)),
            ),
          ]);
          writeHttpApiResult(res, result);
        } catch (err) {
          if (String(err).includes('integration timeout')) return send(503, { message: 'Service Unavailable' });
          this.failures.push({ function: fn.logicalId, source: `api ${req.method} ${req.url}`, error: String(err) });
          send(500, { message: 'Internal Server Error' });
        } finally {
          clearTimeout(timer);
        }
      });
    });
  }

  // --- EventBridge --------------------------------------------------------------------------

  private loadSchedules(): void {
    for (const [id, r] of resourcesOf(this.assembly.template, 'AWS::Events::Rule')) {
      const p = r.Properties ?? {};
      if (p.State !== 'ENABLED' || !p.ScheduleExpression) continue;
      for (const target of p.Targets as Record<string, unknown>[]) {
        if ('Input' in target || 'InputPath' in target || 'InputTransformer' in target) {
          throw new Error(`emulation: a schedule target with its own input is not implemented (${id})`);
        }
        const fn = this.functionByArn(this.resolver.resolve(target.Arn) as string);
        if (!this.mayInvoke(fn, 'events.amazonaws.com', this.resolver.getAtt(id, 'Arn'))) {
          throw new Error(`emulation: EventBridge may not invoke ${fn.logicalId} from ${id}`);
        }
        this.schedules.push({
          logicalId: id,
          expression: String(p.ScheduleExpression),
          periodMs: rateMs(String(p.ScheduleExpression)),
          target: fn,
        });
      }
    }
  }

  private async listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
    const server = createServer(handler);
    server.keepAliveTimeout = 60_000;
    this.servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The table and index ARNs a DynamoDB request acts on, as IAM sees them. */
export function dynamoResources(body: Record<string, any>): string[] {
  const table = (name: string) => `arn:${PARTITION}:dynamodb:${REGION}:${ACCOUNT}:table/${name}`;
  if (body.RequestItems) return Object.keys(body.RequestItems as object).map(table);
  if (Array.isArray(body.TransactItems)) {
    return (body.TransactItems as Record<string, { TableName: string }>[]).map((item) => table(Object.values(item)[0].TableName));
  }
  if (typeof body.TableName !== 'string') return ['*'];
  return [body.IndexName ? `${table(body.TableName)}/index/${String(body.IndexName)}` : table(body.TableName)];
}

/** MQTT topic filter matching (`+` one level, `#` the rest). */
export function matchesFilter(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

function connectInternal(url: string, clientId: string, password: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { clientId, username: INTERNAL_USER, password, reconnectPeriod: 0 });
    client.once('connect', () => resolve(client));
    client.once('error', reject);
  });
}

const TEXT_TYPES = /^(text\/|application\/(json|.*\+json|xml|.*\+xml|javascript|x-www-form-urlencoded))/i;

/** API Gateway's payload format 2.0 for an HTTP API request. */
function httpApiEvent(req: IncomingMessage, body: Buffer, apiId: string): Record<string, unknown> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined && name !== 'cookie') headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = k in query ? `${query[k]},${v}` : v;
  const now = new Date();
  const text = TEXT_TYPES.test(String(req.headers['content-type'] ?? ''));
  const event: Record<string, unknown> = {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    requestContext: {
      accountId: ACCOUNT,
      apiId,
      authorizer: {
        iam: {
          accessKey: 'EMULATED',
          accountId: ACCOUNT,
          callerId: 'EMULATED',
          userArn: `arn:${PARTITION}:iam::${ACCOUNT}:user/emulation`,
          userId: 'EMULATED',
        },
      },
      domainName: `${apiId}.execute-api.${REGION}.amazonaws.com`,
      domainPrefix: apiId,
      http: {
        method: req.method,
        path: url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: req.headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: body.length > 0 && !text,
  };
  if (req.headers.cookie) event.cookies = req.headers.cookie.split(/;\s*/);
  if (Object.keys(query).length > 0) event.queryStringParameters = query;
  if (body.length > 0) event.body = text ? body.toString('utf8') : body.toString('base64');
  return event;
}

/** A format-2.0 result back to HTTP: a `{statusCode, ...}` object as it says, anything else as a 200 JSON body. */
function writeHttpApiResult(res: ServerResponse, result: unknown): void {
  const r = result as {
    statusCode?: number;
    headers?: Record<string, string>;
    cookies?: string[];
    body?: string;
    isBase64Encoded?: boolean;
  } | null;
  if (r && typeof r === 'object' && typeof r.statusCode === 'number') {
    const headers: Record<string, string | string[]> = { ...(r.headers ?? {}) };
    if (r.cookies?.length) headers['set-cookie'] = r.cookies;
    res.writeHead(r.statusCode, headers);
    res.end(r.body === undefined ? undefined : Buffer.from(r.body, r.isBase64Encoded ? 'base64' : 'utf8'));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result));
}
