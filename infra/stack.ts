import {
  ArnFormat,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  aws_apigatewayv2 as apigw,
  aws_apigatewayv2_authorizers as authorizers,
  aws_apigatewayv2_integrations as integrations,
  aws_dynamodb as dynamodb,
  aws_events as events,
  aws_events_targets as targets,
  aws_iam as iam,
  aws_iot as iot,
  aws_lambda as lambda,
  aws_lambda_destinations as destinations,
  aws_lambda_event_sources as eventSources,
  aws_logs as logs,
  aws_pipes as pipes,
  aws_sqs as sqs,
  custom_resources as cr,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { DEFAULT_CALL_BUDGET_MS, MIN_CALL_BUDGET_MS } from '../shared/call-budget';
import { CLIENT_CHANNELS, RESPONDING_CHANNELS, type ClientChannel } from '../shared/protocol/topics';
import { tableDefinition } from '../shared/store/table/definition';
import { REGISTRATION_SK } from '../shared/store/table/items';
import { bundledCode } from './bundle';
import type { LwmqnSettings } from './settings';

/** What a topic rule hands a channel's function: exactly the handler input of docs/PROTOCOL.md. */
export const ruleSql = (channel: ClientChannel): string =>
  `SELECT encode(*, 'base64') AS payload, topic() AS topic, clientid() AS mqttClientId, timestamp() AS receivedAt FROM '${channel}/+'`;

/**
 * The only item operations the registry store issues (shared/store/table/). No scan, no
 * table management: the table exists before any function runs.
 */
export const TABLE_ACTIONS = [
  'dynamodb:BatchGetItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
];

/** Topics the server publishes on, as IoT topic ARN resource names. */
export const SERVER_TOPICS = [...RESPONDING_CHANNELS.map((c) => `${c}/response/*`), 'request/*', 'announce', 'lwmqn/events/*'];

/** The stream records the registration pipe passes on: a registration item that did not exist before. */
export const REGISTRATION_PIPE_FILTER = { eventName: ['INSERT'], dynamodb: { NewImage: { sk: { S: [REGISTRATION_SK] } } } };

/** The deadline queue's delay: the request timeout in whole seconds, plus two. */
export const registrationDeadlineDelaySeconds = (requestTimeoutMs: number): number => Math.ceil(requestTimeoutMs / 1000) + 2;
/** Left for a function to log, answer (API Gateway) or fail cleanly after its last call has ended. */
export const CLEAN_END_MS = 1_000;

/**
 * A function's call budget (LWMQN_CALL_BUDGET_MS: one store or publish call, every retry
 * included, shared/call-budget.ts), derived from its timeout: after `waitMs` spent waiting for a
 * device, `calls` calls in a row that each use their whole budget still end CLEAN_END_MS before
 * Lambda stops the function. With a store or data endpoint that never answers, the first call
 * fails within its budget, so the invocation ends with an error (a 500 from the API) in time.
 */
export function callBudgetMs(timeoutMs: number, calls: number, waitMs = 0): number {
  const budget = Math.min(DEFAULT_CALL_BUDGET_MS, Math.floor((timeoutMs - waitMs - CLEAN_END_MS) / calls));
  if (budget < MIN_CALL_BUDGET_MS) throw new Error(`a ${timeoutMs} ms function timeout leaves no room for its calls`);
  return budget;
}

export interface LwmqnStackProps extends StackProps {
  settings: LwmqnSettings;
}

/**
 * The cloud runtime (docs/ARCHITECTURE.md): AWS IoT Core is the broker, one topic rule per client channel
 * invokes that channel's function, responses go out through the IoT data plane, the registry
 * lives in one DynamoDB table, the management API sits behind an IAM-authorised HTTP API, and
 * the reaper runs every minute. Environment-agnostic: synth needs no credentials or lookups.
 */
export class LwmqnStack extends Stack {
  readonly table: dynamodb.Table;
  readonly channelFunctions: Record<ClientChannel, lambda.IFunction>;
  readonly apiFunction: lambda.IFunction;
  readonly reaperFunction: lambda.IFunction;
  readonly registrationDeadlineFunction: lambda.IFunction;
  readonly registrationDeadlines: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly httpApi: apigw.HttpApi;
  readonly devicePolicy: iot.CfnPolicy;

  constructor(scope: Construct, id: string, props: LwmqnStackProps) {
    super(scope, id, props);
    const { settings } = props;

    this.table = this.createTable(settings.tableName);
    const iotEndpoint = settings.iotEndpoint ?? this.lookUpIotEndpoint();

    const environment: Record<string, string> = {
      TABLE_NAME: this.table.tableName,
      IOT_DATA_ENDPOINT: iotEndpoint,
      LWMQN_REQUEST_TIMEOUT_MS: String(settings.requestTimeoutMs),
      LWMQN_DEFAULT_LIFETIME: String(settings.defaultLifetime),
      LWMQN_JOIN: settings.join,
      LWMQN_INDEX_SHARDS: String(settings.indexShards),
      LWMQN_EVENTS: settings.events,
      LOG_LEVEL: settings.logLevel,
    };

    // Both the rules' error actions and the functions' failed asynchronous invocations land here,
    // so a message the server could not handle is kept for two weeks instead of vanishing.
    this.deadLetterQueue = new sqs.Queue(this, 'FailedMessages', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });

    const makeFunction = (name: string, entry: string, timeout: Duration, callBudget: number, description: string) => {
      const fn = new lambda.Function(this, `${name}Function`, {
        code: bundledCode(entry),
        handler: 'index.handler',
        description,
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: settings.memorySize,
        timeout,
        environment: {
          ...environment,
          LWMQN_CALL_BUDGET_MS: String(callBudget),
          ...(settings.sourceMaps ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
        },
        logGroup: new logs.LogGroup(this, `${name}Logs`, {
          retention: logs.RetentionDays.ONE_MONTH,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
      });
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: TABLE_ACTIONS,
          resources: [this.table.tableArn, `${this.table.tableArn}/index/*`],
        }),
      );
      fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['iot:Publish'], resources: SERVER_TOPICS.map((t) => this.iotArn('topic', t)) }),
      );
      return fn;
    };

    // The role the rules' error actions assume: send to the dead-letter queue, nothing else.
    const ruleErrorRole = new iam.Role(this, 'RuleErrorRole', {
      assumedBy: new iam.ServicePrincipal('iot.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
      description: 'lets the LWMQN topic rules keep the messages they failed to deliver',
    });
    ruleErrorRole.addToPolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.deadLetterQueue.queueArn] }));

    const channelFunctions = {} as Record<ClientChannel, lambda.IFunction>;
    for (const channel of CLIENT_CHANNELS) {
      const name = pascal(channel);
      // A handler makes a few calls in a row (a read, a write, the answer and events published
      // together): budgeted for three that each hang to the end.
      const timeout = Duration.seconds(10);
      const fn = makeFunction(
        name,
        `functions/${channel}.ts`,
        timeout,
        callBudgetMs(timeout.toMilliseconds(), 3),
        `LWMQN ${channel}/<clientId> handler`,
      );
      // A topic rule invokes asynchronously: two retries, then the event goes to the queue.
      fn.configureAsyncInvoke({
        retryAttempts: 2,
        maxEventAge: Duration.hours(1),
        onFailure: new destinations.SqsDestination(this.deadLetterQueue),
      });
      this.createTopicRule(channel, fn, ruleErrorRole);
      channelFunctions[channel] = fn;
    }
    this.channelFunctions = channelFunctions;

    // The API may wait a full request timeout for a device; the HTTP API stops at 30 s.
    // After waiting the request timeout for a device, two calls remain (the poll's last read and
    // closing the request): the budget is what is left of the timeout, shared by those two.
    const apiTimeout = Duration.seconds(Math.min(29, Math.ceil(settings.requestTimeoutMs / 1000) + 4));
    this.apiFunction = makeFunction(
      'Api',
      'functions/api.ts',
      apiTimeout,
      callBudgetMs(apiTimeout.toMilliseconds(), 2, settings.requestTimeoutMs),
      'LWMQN management API',
    );
    this.httpApi = new apigw.HttpApi(this, 'HttpApi', {
      description: 'LWMQN management API (SigV4 / IAM authorised)',
      // One `$default` route catches every method and path; it carries the IAM authorizer,
      // so no route is open. The hono app answers 404 for paths it does not know.
      defaultIntegration: new integrations.HttpLambdaIntegration('ApiIntegration', this.apiFunction),
      defaultAuthorizer: new authorizers.HttpIamAuthorizer(),
    });

    // A run stops starting work 10 s before this timeout (functions/reaper.ts) and leaves the
    // rest to the next minute's run. Nothing runs it again: neither EventBridge nor Lambda's
    // asynchronous retries, and an invocation Lambda could not start (throttled) is dropped after
    // a minute instead of kept for hours, so two runs never work on the same pile at once.
    const reaperTimeout = Duration.seconds(55);
    this.reaperFunction = makeFunction(
      'Reaper',
      'functions/reaper.ts',
      reaperTimeout,
      callBudgetMs(reaperTimeout.toMilliseconds(), 3),
      'LWMQN lifetime reaper',
    );
    this.reaperFunction.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.seconds(60) });
    new events.Rule(this, 'ReaperSchedule', {
      description: 'Runs the LWMQN reaper every minute',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(this.reaperFunction, { retryAttempts: 0, maxEventAge: Duration.seconds(60) })],
    });

    this.registrationDeadlines = new sqs.Queue(this, 'RegistrationDeadlines', {
      // A registration's reads are overdue once LWMQN_REQUEST_TIMEOUT_MS has passed, counted in
      // whole seconds of its item's expiresAt: two seconds more and the item is surely overdue.
      deliveryDelay: Duration.seconds(registrationDeadlineDelaySeconds(settings.requestTimeoutMs)),
      visibilityTimeout: Duration.seconds(30),
      retentionPeriod: Duration.hours(1),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 3 },
    });
    this.registrationDeadlineFunction = makeFunction(
      'RegistrationDeadline',
      'functions/registration-deadline.ts',
      Duration.seconds(10),
      // The registration read, its removal and the 500 published: three calls in a row.
      callBudgetMs(10_000, 3),
      'LWMQN registration deadline: fails a registration whose reads are overdue',
    );
    this.registrationDeadlineFunction.addEventSource(new eventSources.SqsEventSource(this.registrationDeadlines, { batchSize: 10 }));
    this.createRegistrationPipe();

    this.devicePolicy = this.createDevicePolicy(settings.bindThingName);

    new CfnOutput(this, 'IotDataEndpoint', { value: iotEndpoint, description: 'MQTT over TLS: mqtts://<this>:8883' });
    new CfnOutput(this, 'ApiUrl', { value: this.httpApi.apiEndpoint, description: 'management API (SigV4, service execute-api)' });
    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'DevicePolicyName', { value: this.devicePolicy.ref, description: 'attach to every device certificate' });
    new CfnOutput(this, 'FailedMessagesQueueUrl', { value: this.deadLetterQueue.queueUrl });
  }

  /** The table of shared/store/table.ts, with cloud-only extras: TTL and point-in-time recovery. */
  private createTable(tableName: string | undefined): dynamodb.Table {
    const def = tableDefinition(tableName ?? 'lwmqn');
    const attribute = (name: string | undefined): dynamodb.Attribute => {
      const found = def.AttributeDefinitions?.find((a) => a.AttributeName === name);
      if (!name || !found) throw new Error(`tableDefinition: no attribute definition for ${name}`);
      const type = { S: dynamodb.AttributeType.STRING, N: dynamodb.AttributeType.NUMBER, B: dynamodb.AttributeType.BINARY }[
        found.AttributeType as 'S' | 'N' | 'B'
      ];
      return { name, type };
    };
    const keys = (schema: { AttributeName?: string; KeyType?: string }[] | undefined) => {
      const hash = schema?.find((k) => k.KeyType === 'HASH');
      const range = schema?.find((k) => k.KeyType === 'RANGE');
      return {
        partitionKey: attribute(hash?.AttributeName),
        ...(range ? { sortKey: attribute(range.AttributeName) } : {}),
      };
    };
    if (def.BillingMode !== 'PAY_PER_REQUEST') throw new Error('tableDefinition: expected on-demand billing');

    const table = new dynamodb.Table(this, 'Table', {
      tableName,
      ...keys(def.KeySchema),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // The registry outlives the stack unless someone deletes it on purpose.
      removalPolicy: RemovalPolicy.RETAIN,
      // New registration items go on to the registration-deadline queue (createRegistrationPipe).
      stream: dynamodb.StreamViewType.NEW_IMAGE,
    });
    for (const gsi of def.GlobalSecondaryIndexes ?? []) {
      const projection = gsi.Projection?.ProjectionType;
      table.addGlobalSecondaryIndex({
        indexName: gsi.IndexName!,
        ...keys(gsi.KeySchema),
        projectionType:
          projection === 'KEYS_ONLY'
            ? dynamodb.ProjectionType.KEYS_ONLY
            : projection === 'INCLUDE'
              ? dynamodb.ProjectionType.INCLUDE
              : dynamodb.ProjectionType.ALL,
        ...(projection === 'INCLUDE' ? { nonKeyAttributes: gsi.Projection?.NonKeyAttributes } : {}),
      });
    }
    return table;
  }

  /**
   * Prompt registration failure: the table's stream -> an EventBridge pipe that keeps only new
   * registration items -> the delay queue -> the registration-deadline function, which answers
   * 500 if the reads are still not all answered. No handler changes: the pipe picks up what the
   * register handler already writes. The reaper remains the safety net.
   */
  private createRegistrationPipe(): pipes.CfnPipe {
    const role = new iam.Role(this, 'RegistrationPipeRole', {
      assumedBy: new iam.ServicePrincipal('pipes.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
      description: 'lets the LWMQN registration pipe read the table stream and fill the deadline queue',
    });
    this.table.grantStreamRead(role);
    this.registrationDeadlines.grantSendMessages(role);
    const pipe = new pipes.CfnPipe(this, 'RegistrationPipe', {
      description: 'new LWMQN registration items -> the registration deadline queue',
      roleArn: role.roleArn,
      source: this.table.tableStreamArn!,
      sourceParameters: {
        dynamoDbStreamParameters: { startingPosition: 'LATEST', batchSize: 1 },
        filterCriteria: { filters: [{ pattern: JSON.stringify(REGISTRATION_PIPE_FILTER) }] },
      },
      target: this.registrationDeadlines.queueArn,
    });
    pipe.node.addDependency(role);
    return pipe;
  }

  /** DescribeEndpoint (iot:Data-ATS) at deploy time, for when the endpoint was not given as context. */
  private lookUpIotEndpoint(): string {
    const lookup = new cr.AwsCustomResource(this, 'IotDataEndpointLookup', {
      onUpdate: {
        service: 'Iot',
        action: 'describeEndpoint',
        parameters: { endpointType: 'iot:Data-ATS' },
        physicalResourceId: cr.PhysicalResourceId.of('iot-data-ats-endpoint'),
        outputPaths: ['endpointAddress'],
      },
      // DescribeEndpoint has no resource-level permissions.
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: cr.AwsCustomResourcePolicy.ANY_RESOURCE }),
      installLatestAwsSdk: false,
    });
    return lookup.getResponseField('endpointAddress');
  }

  private createTopicRule(channel: ClientChannel, fn: lambda.IFunction, errorRole: iam.IRole): iot.CfnTopicRule {
    const name = pascal(channel);

    const rule = new iot.CfnTopicRule(this, `${name}Rule`, {
      ruleName: `${this.stackName.replace(/[^A-Za-z0-9_]/g, '_')}_${channel}`,
      topicRulePayload: {
        description: `${channel}/<clientId> -> the ${channel} function`,
        sql: ruleSql(channel),
        awsIotSqlVersion: '2016-03-23',
        ruleDisabled: false,
        actions: [{ lambda: { functionArn: fn.functionArn } }],
        errorAction: { sqs: { queueUrl: this.deadLetterQueue.queueUrl, roleArn: errorRole.roleArn, useBase64: false } },
      },
    });
    rule.node.addDependency(errorRole);
    fn.addPermission(`${name}RuleInvoke`, {
      principal: new iam.ServicePrincipal('iot.amazonaws.com'),
      sourceArn: rule.attrArn,
      sourceAccount: this.account,
    });
    return rule;
  }

  /**
   * Every device certificate gets this policy: a client connects only under its own clientId
   * (with `bindThingName`, only under its thing's name), publishes only on its own
   * `<channel>/<clientId>` topics (so a topic cannot lie about who sent it), and hears only its
   * own responses and requests plus the broadcast `announce`.
   */
  private createDevicePolicy(bindThingName: boolean): iot.CfnPolicy {
    const me = '${iot:ClientId}';
    const inbound = [...RESPONDING_CHANNELS.map((c) => `${c}/response/${me}`), `request/${me}`, 'announce'];
    // Bound: the clientId must be the name of the thing the certificate is attached to, so a
    // device cannot connect (and then publish) under another device's clientId.
    const connect = bindThingName
      ? {
          Effect: 'Allow',
          Action: 'iot:Connect',
          Resource: this.iotArn('client', '${iot:Connection.Thing.ThingName}'),
          Condition: { Bool: { 'iot:Connection.Thing.IsAttached': 'true' } },
        }
      : { Effect: 'Allow', Action: 'iot:Connect', Resource: this.iotArn('client', me) };
    return new iot.CfnPolicy(this, 'DevicePolicy', {
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          connect,
          { Effect: 'Allow', Action: 'iot:Publish', Resource: CLIENT_CHANNELS.map((c) => this.iotArn('topic', `${c}/${me}`)) },
          { Effect: 'Allow', Action: 'iot:Subscribe', Resource: inbound.map((t) => this.iotArn('topicfilter', t)) },
          { Effect: 'Allow', Action: 'iot:Receive', Resource: inbound.map((t) => this.iotArn('topic', t)) },
        ],
      },
    });
  }

  private iotArn(resource: 'client' | 'topic' | 'topicfilter', resourceName: string): string {
    return this.formatArn({ service: 'iot', resource, resourceName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
  }
}

const pascal = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
