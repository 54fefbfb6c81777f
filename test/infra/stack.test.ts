import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { DEFAULT_SETTINGS, settingsFromContext, type LwmqnSettings } from '../../infra/settings';
import { LwmqnStack, REGISTRATION_PIPE_FILTER, registrationDeadlineDelaySeconds, ruleSql } from '../../infra/stack';
import { REGISTRATION_SK } from '../../shared/store/table/items';
import { CLIENT_CHANNELS } from '../../shared/protocol/topics';
import { tableDefinition } from '../../shared/store/table/definition';

/**
 * The synthesized template of infra/stack.ts. The first synth bundles the eleven functions with
 * esbuild for real (a few seconds); the variants skip bundling through CDK's own switch.
 */
const outdirs: string[] = [];
function synth(settings: Partial<LwmqnSettings> = {}, bundle = false): { template: Template; stack: LwmqnStack; outdir: string } {
  const outdir = mkdtempSync(join(tmpdir(), 'lwmqn-cdk-'));
  outdirs.push(outdir);
  const app = new App({ outdir, context: bundle ? {} : { 'aws:cdk:bundling-stacks': [] } });
  const stack = new LwmqnStack(app, 'LwmqnTest', { settings: { ...DEFAULT_SETTINGS, ...settings } });
  return { template: Template.fromStack(stack), stack, outdir };
}

let bundled: ReturnType<typeof synth>;
let template: Template;
let json: any;
beforeAll(() => {
  bundled = synth({}, true);
  template = bundled.template;
  json = template.toJSON();
}, 120_000);
afterAll(() => outdirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const resourcesOf = (type: string): [string, any][] =>
  Object.entries(json.Resources as Record<string, any>).filter(([, r]) => r.Type === type);

const logicalIdOfFunction = (stack: LwmqnStack, fn: { node: { defaultChild?: unknown } }): string =>
  stack.getLogicalId(fn.node.defaultChild as never);

/** Every string inside a CloudFormation value, Fn::Join parts concatenated. */
function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(flatten).join('');
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    if ('Fn::Join' in obj) {
      const [sep, parts] = obj['Fn::Join'] as [string, unknown[]];
      return parts.map(flatten).join(sep);
    }
    if ('Ref' in obj) return `{${String(obj.Ref)}}`;
    return `{${Object.keys(obj)[0]}}`;
  }
  return String(value);
}

const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

describe('topic rules', () => {
  test('one rule per client channel, with the SQL of docs/PROTOCOL.md, "Handler input", a Lambda action and an error action', () => {
    const rules = resourcesOf('AWS::IoT::TopicRule');
    expect(rules).toHaveLength(CLIENT_CHANNELS.length);
    for (const channel of CLIENT_CHANNELS) {
      const sql = `SELECT encode(*, 'base64') AS payload, topic() AS topic, clientid() AS mqttClientId, timestamp() AS receivedAt FROM '${channel}/+'`;
      expect(ruleSql(channel)).toBe(sql);
      const fnId = logicalIdOfFunction(bundled.stack, bundled.stack.channelFunctions[channel]);
      template.hasResourceProperties('AWS::IoT::TopicRule', {
        TopicRulePayload: {
          Sql: sql,
          AwsIotSqlVersion: '2016-03-23',
          RuleDisabled: false,
          Actions: [{ Lambda: { FunctionArn: { 'Fn::GetAtt': [fnId, 'Arn'] } } }],
          ErrorAction: { Sqs: { QueueUrl: Match.anyValue(), RoleArn: Match.anyValue() } },
        },
      });
    }
  });

  test('IoT may invoke each channel function, from its own rule only', () => {
    for (const channel of CLIENT_CHANNELS) {
      const fnId = logicalIdOfFunction(bundled.stack, bundled.stack.channelFunctions[channel]);
      const [ruleId] = resourcesOf('AWS::IoT::TopicRule').find(([, r]) =>
        r.Properties.TopicRulePayload.Sql.endsWith(`'${channel}/+'`),
      )!;
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        Principal: 'iot.amazonaws.com',
        FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
        SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] },
      });
    }
  });

  test('failed messages are kept: the error action role may send to the dead-letter queue, functions retry then go there', () => {
    const queues = resourcesOf('AWS::SQS::Queue').filter(([id]) => id.startsWith('FailedMessages'));
    expect(queues).toHaveLength(1);
    const [queueId] = queues[0];
    // The registration-deadline queue hands what it could not deliver three times to the same place.
    const [, deadlines] = resourcesOf('AWS::SQS::Queue').find(([id]) => id.startsWith('RegistrationDeadlines'))!;
    expect(deadlines.Properties.RedrivePolicy.deadLetterTargetArn).toEqual({ 'Fn::GetAtt': [queueId, 'Arn'] });
    for (const [, rule] of resourcesOf('AWS::IoT::TopicRule')) {
      expect(rule.Properties.TopicRulePayload.ErrorAction.Sqs.QueueUrl).toEqual({ Ref: queueId });
    }
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'iot.amazonaws.com' } })] },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: [{ Action: 'sqs:SendMessage', Effect: 'Allow', Resource: { 'Fn::GetAtt': [queueId, 'Arn'] } }] },
    });
    for (const channel of CLIENT_CHANNELS) {
      const fnId = logicalIdOfFunction(bundled.stack, bundled.stack.channelFunctions[channel]);
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: fnId },
        MaximumRetryAttempts: 2,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } } },
      });
    }
  });
});

describe('table', () => {
  test('on demand, TTL on expiresAt, point-in-time recovery, the keys and indexes of tableDefinition', () => {
    const def = tableDefinition('x');
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      KeySchema: def.KeySchema,
      AttributeDefinitions: Match.arrayWith(
        def.AttributeDefinitions!.map((a) => Match.objectEquals({ AttributeName: a.AttributeName, AttributeType: a.AttributeType })),
      ),
    });
    const [, table] = resourcesOf('AWS::DynamoDB::Table')[0];
    const byName = (list: any[]) => [...list].sort((a, b) => a.IndexName.localeCompare(b.IndexName));
    expect(byName(table.Properties.GlobalSecondaryIndexes)).toEqual(byName(def.GlobalSecondaryIndexes!));
    expect(table.Properties.AttributeDefinitions).toHaveLength(def.AttributeDefinitions!.length);
    expect(table.DeletionPolicy).toBe('Retain');
  });

  test('the table name comes from context when given, from CloudFormation otherwise', () => {
    const [, table] = resourcesOf('AWS::DynamoDB::Table')[0];
    expect(table.Properties.TableName).toBeUndefined();
    synth({ tableName: 'lwmqn-prod' }).template.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'lwmqn-prod' });
  });
});

describe('functions', () => {
  test('eleven functions of ours, each bundled, on Node.js 20 or newer; so is every other function', () => {
    const functions = resourcesOf('AWS::Lambda::Function');
    const ours = functions.filter(
      ([, f]) => f.Properties.Handler === 'index.handler' && f.Properties.Environment?.Variables?.TABLE_NAME,
    );
    expect(ours).toHaveLength(11);
    for (const [id, fn] of functions) {
      const runtimes: string[] =
        typeof fn.Properties.Runtime === 'string'
          ? [fn.Properties.Runtime]
          : // A region-dependent runtime (a custom resource provider) is a Fn::FindInMap: check every region.
            Object.values(json.Mappings?.[fn.Properties.Runtime['Fn::FindInMap'][0]] ?? {}).map(
              (m: any) => m[fn.Properties.Runtime['Fn::FindInMap'][2]],
            );
      expect(runtimes.length).toBeGreaterThan(0);
      for (const runtime of runtimes) {
        const major = /^nodejs(\d+)\.x$/.exec(runtime)?.[1];
        expect({ id, runtime, ok: major !== undefined && Number(major) >= 20 }).toEqual({ id, runtime, ok: true });
      }
    }
    // Each of ours is a real esbuild bundle in the cloud assembly, one per entry.
    const bundles = new Set<string>();
    for (const [, fn] of ours) {
      const key: string = fn.Properties.Code.S3Key;
      const dir = join(bundled.outdir, `asset.${key.replace(/\.zip$/, '')}`);
      expect(existsSync(join(dir, 'index.js'))).toBe(true);
      bundles.add(dir);
    }
    expect(bundles.size).toBe(11);
  });

  test('a bundled channel entry loads in plain Node, drops a spoofed message without any AWS call, and writes its CloudWatch metrics record', () => {
    const fnId = logicalIdOfFunction(bundled.stack, bundled.stack.channelFunctions.register);
    const key: string = json.Resources[fnId].Properties.Code.S3Key;
    const bundle = join(bundled.outdir, `asset.${key.replace(/\.zip$/, '')}`, 'index.js');
    const script = `
      const { handler } = require(${JSON.stringify(bundle)});
      handler({ payload: Buffer.from('{}').toString('base64'), topic: 'register/dev-1', mqttClientId: 'intruder', receivedAt: Date.now() })
        .then((r) => process.stdout.write('done:' + String(r)), (e) => { console.error(e); process.exit(1); });`;
    const out = execFileSync(process.execPath, ['-e', script], {
      env: {
        PATH: process.env.PATH,
        AWS_REGION: 'us-east-1',
        TABLE_NAME: 't',
        IOT_DATA_ENDPOINT: 'example-ats.iot.us-east-1.amazonaws.com',
        LOG_LEVEL: 'silent',
      },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // One embedded-metric-format record for the invocation, then the entry's own result.
    const [record, result] = out.split('\n');
    expect(result).toBe('done:undefined');
    const emf = JSON.parse(record) as {
      _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][] }> };
      Handled: number;
      channel: string;
    };
    expect(emf._aws.CloudWatchMetrics[0].Namespace).toBe('LWMQN');
    expect(emf._aws.CloudWatchMetrics[0].Dimensions[0]).toContain('channel');
    expect(emf).toMatchObject({ channel: 'register', Handled: 1 });
  });

  test('every function gets the settings through the documented environment (README.md, "Configuration")', () => {
    const s = synth({
      requestTimeoutMs: 7000,
      defaultLifetime: 3600,
      join: 'permit',
      iotEndpoint: 'abc-ats.iot.eu-west-1.amazonaws.com',
      indexShards: 32,
    });
    const t = s.template.toJSON();
    const ours = Object.values(t.Resources as Record<string, any>).filter((r) => r.Type === 'AWS::Lambda::Function');
    expect(ours).toHaveLength(11); // no lookup function: the endpoint came from context
    for (const fn of ours) {
      expect(fn.Properties.Environment.Variables).toMatchObject({
        TABLE_NAME: { Ref: expect.any(String) },
        IOT_DATA_ENDPOINT: 'abc-ats.iot.eu-west-1.amazonaws.com',
        LWMQN_REQUEST_TIMEOUT_MS: '7000',
        LWMQN_DEFAULT_LIFETIME: '3600',
        LWMQN_JOIN: 'permit',
        LWMQN_INDEX_SHARDS: '32',
        // The lifecycle events only, unless the deployment asks for more (docs/DEPLOY.md).
        LWMQN_EVENTS: 'devIncoming,devLeaving,devUpdate,devStatus',
      });
    }
    s.template.resourceCountIs('Custom::AWS', 0);
    s.template.hasOutput('IotDataEndpoint', { Value: 'abc-ats.iot.eu-west-1.amazonaws.com' });
  });

  test('without the endpoint in context it is looked up at deploy time (DescribeEndpoint, iot:Data-ATS)', () => {
    const [id, lookup] = resourcesOf('Custom::AWS')[0];
    expect(JSON.parse(lookup.Properties.Create)).toMatchObject({
      service: 'Iot',
      action: 'describeEndpoint',
      parameters: { endpointType: 'iot:Data-ATS' },
    });
    const fnId = logicalIdOfFunction(bundled.stack, bundled.stack.channelFunctions.notify);
    expect(json.Resources[fnId].Properties.Environment.Variables.IOT_DATA_ENDPOINT).toEqual({
      'Fn::GetAtt': [id, 'endpointAddress'],
    });
  });

  test('by default the index shards keep every index partition under half its 1,000 writes a second in a 1M-device re-registration burst', () => {
    // The arithmetic of infra/settings.ts: 1,000,000 registrations in 5 minutes, 2 index writes
    // each into one partition, over the shards.
    const perPartition = (2 * Math.ceil(1_000_000 / 300)) / DEFAULT_SETTINGS.indexShards;
    expect(perPartition).toBeLessThan(500);
    const ours = resourcesOf('AWS::Lambda::Function').filter(([, f]) => f.Properties.Environment?.Variables?.TABLE_NAME);
    expect(ours).toHaveLength(11);
    for (const [, fn] of ours) {
      expect(fn.Properties.Environment.Variables.LWMQN_INDEX_SHARDS).toBe(String(DEFAULT_SETTINGS.indexShards));
    }
  });

  test('a new registration item reaches the registration-deadline function after the request timeout plus two seconds', () => {
    const [tableId, table] = resourcesOf('AWS::DynamoDB::Table')[0];
    expect(table.Properties.StreamSpecification).toEqual({ StreamViewType: 'NEW_IMAGE' });
    const [queueId, queue] = resourcesOf('AWS::SQS::Queue').find(([id]) => id.startsWith('RegistrationDeadlines'))!;
    expect(queue.Properties.DelaySeconds).toBe(registrationDeadlineDelaySeconds(DEFAULT_SETTINGS.requestTimeoutMs));
    expect(registrationDeadlineDelaySeconds(10_000)).toBe(12);
    expect(registrationDeadlineDelaySeconds(2_500)).toBe(5);
    // The function's timeout must fit in the visibility timeout, or a message comes back while it still runs.
    const fnId = logicalIdOfFunction(bundled.stack, bundled.stack.registrationDeadlineFunction);
    expect(queue.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(json.Resources[fnId].Properties.Timeout);
    template.hasResourceProperties('AWS::Pipes::Pipe', {
      Source: { 'Fn::GetAtt': [tableId, 'StreamArn'] },
      SourceParameters: {
        DynamoDBStreamParameters: Match.objectLike({ StartingPosition: 'LATEST' }),
        FilterCriteria: { Filters: [{ Pattern: JSON.stringify(REGISTRATION_PIPE_FILTER) }] },
      },
      Target: { 'Fn::GetAtt': [queueId, 'Arn'] },
    });
    expect(REGISTRATION_PIPE_FILTER.dynamodb.NewImage.sk.S).toEqual([REGISTRATION_SK]);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      FunctionName: { Ref: fnId },
    });
    // The queue's delay follows the setting.
    const short = synth({ requestTimeoutMs: 3000 }).template.toJSON();
    const shortQueue = Object.entries(short.Resources as Record<string, any>).find(([id]) =>
      id.startsWith('RegistrationDeadlines'),
    )!;
    expect(shortQueue[1].Properties.DelaySeconds).toBe(5);
  });

  test('the reaper runs every minute, 55 s at most, and is never run again: two runs never overlap on one pile', () => {
    const reaperId = logicalIdOfFunction(bundled.stack, bundled.stack.reaperFunction);
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [reaperId, 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
        }),
      ],
    });
    expect(json.Resources[reaperId].Properties.Timeout).toBe(55);
    const configs = resourcesOf('AWS::Lambda::EventInvokeConfig').filter(([, c]) => c.Properties.FunctionName.Ref === reaperId);
    expect(configs.map(([, c]) => c.Properties)).toEqual([
      { FunctionName: { Ref: reaperId }, Qualifier: '$LATEST', MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
    ]);
  });
});

describe('HTTP API', () => {
  test('every route carries the IAM authorizer and reaches the API function', () => {
    const routes = resourcesOf('AWS::ApiGatewayV2::Route');
    expect(routes.length).toBeGreaterThan(0);
    for (const [, route] of routes) expect(route.Properties.AuthorizationType).toBe('AWS_IAM');
    const apiId = logicalIdOfFunction(bundled.stack, bundled.stack.apiFunction);
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      IntegrationUri: { 'Fn::GetAtt': [apiId, 'Arn'] },
      PayloadFormatVersion: '2.0',
    });
  });
});

describe('IAM', () => {
  /** Statements of every IAM identity policy and trust policy in the template. */
  function statements(t: any): any[] {
    const out: any[] = [];
    for (const r of Object.values(t.Resources as Record<string, any>)) {
      if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') out.push(...r.Properties.PolicyDocument.Statement);
      if (r.Type === 'AWS::IAM::Role') {
        out.push(...r.Properties.AssumeRolePolicyDocument.Statement);
        for (const p of r.Properties.Policies ?? []) out.push(...p.PolicyDocument.Statement);
      }
      if (r.Type === 'AWS::SQS::QueuePolicy') out.push(...r.Properties.PolicyDocument.Statement);
    }
    return out;
  }

  test('no statement allows a wildcard action', () => {
    for (const t of [json, synth({ iotEndpoint: 'a-ats.iot.us-east-1.amazonaws.com', bindThingName: true }).template.toJSON()]) {
      const all = statements(t);
      expect(all.length).toBeGreaterThan(20);
      for (const s of all.filter((x) => x.Effect === 'Allow')) {
        expect(s.NotAction).toBeUndefined();
        for (const action of asList<string>(s.Action)) {
          expect(action).not.toBe('*');
          expect(action).not.toMatch(/\*/);
        }
      }
    }
  });

  test('functions reach the table and its indexes with item operations only', () => {
    const [tableId] = resourcesOf('AWS::DynamoDB::Table')[0];
    const isStreamRead = (s: any) =>
      asList<string>(s.Action).every((a) => /^dynamodb:(ListStreams|DescribeStream|GetRecords|GetShardIterator)$/.test(a));
    const tableStatements = statements(json).filter(
      (s) => asList<string>(s.Action).some((a) => a.startsWith('dynamodb:')) && !isStreamRead(s),
    );
    expect(tableStatements.length).toBeGreaterThanOrEqual(11);
    for (const s of tableStatements) {
      expect(asList<string>(s.Action).sort()).toEqual([
        'dynamodb:BatchGetItem',
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
      ]);
      expect(s.Resource).toEqual([
        { 'Fn::GetAtt': [tableId, 'Arn'] },
        { 'Fn::Join': ['', [{ 'Fn::GetAtt': [tableId, 'Arn'] }, '/index/*']] },
      ]);
    }
  });

  test('only the registration pipe reads the table stream, and only the stream', () => {
    const [tableId] = resourcesOf('AWS::DynamoDB::Table')[0];
    const streamStatements = statements(json).filter((s) =>
      asList<string>(s.Action).some((a) => /^dynamodb:.*Stream|GetRecords|GetShardIterator/.test(a)),
    );
    expect(streamStatements.map((s) => [asList<string>(s.Action).sort(), s.Resource])).toEqual([
      [['dynamodb:ListStreams'], '*'], // ListStreams has no resource-level permission
      [['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'], { 'Fn::GetAtt': [tableId, 'StreamArn'] }],
    ]);
    const [, pipeRole] = resourcesOf('AWS::IAM::Role').find(([id]) => id.startsWith('RegistrationPipeRole'))!;
    expect(pipeRole.Properties.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({ Service: 'pipes.amazonaws.com' });
  });

  test('functions publish only on the server topics', () => {
    const publish = statements(json).filter((s) => asList<string>(s.Action).includes('iot:Publish'));
    expect(publish).toHaveLength(11);
    const expected = [
      'register/response/*',
      'deregister/response/*',
      'update/response/*',
      'ping/response/*',
      'notify/response/*',
      'schedule/response/*',
      'request/*',
      'announce',
      'lwmqn/events/*',
    ].map((t) => `arn:{AWS::Partition}:iot:{AWS::Region}:{AWS::AccountId}:topic/${t}`);
    for (const s of publish) {
      expect(asList<string>(s.Action)).toEqual(['iot:Publish']);
      expect(asList(s.Resource).map(flatten).sort()).toEqual([...expected].sort());
    }
  });
});

describe('device policy', () => {
  const prefix = 'arn:{AWS::Partition}:iot:{AWS::Region}:{AWS::AccountId}:';
  const policyOf = (t: any) => {
    const policies = Object.values(t.Resources as Record<string, any>).filter((r) => r.Type === 'AWS::IoT::Policy');
    expect(policies).toHaveLength(1);
    return policies[0].Properties.PolicyDocument.Statement as any[];
  };
  const resourcesFor = (st: any[], action: string) =>
    st
      .filter((s) => s.Action === action)
      .flatMap((s) => asList(s.Resource).map(flatten))
      .map((r) => r.slice(prefix.length))
      .sort();

  test('confines each client to its own topics through ${iot:ClientId}', () => {
    const st = policyOf(json);
    for (const s of st) {
      expect(s.Effect).toBe('Allow');
      expect(asList<string>(s.Action).every((a) => /^iot:(Connect|Publish|Subscribe|Receive)$/.test(a))).toBe(true);
      for (const r of asList(s.Resource).map(flatten)) {
        expect(r.startsWith(prefix)).toBe(true);
        if (!r.endsWith('/announce')) expect(r).toMatch(/\/\$\{iot:ClientId\}$/);
      }
    }
    expect(resourcesFor(st, 'iot:Connect')).toEqual(['client/${iot:ClientId}']);
    expect(resourcesFor(st, 'iot:Publish')).toEqual(CLIENT_CHANNELS.map((c) => `topic/${c}/\${iot:ClientId}`).sort());
    const inbound = ['register', 'deregister', 'update', 'ping', 'notify', 'schedule'].map((c) => `${c}/response/\${iot:ClientId}`);
    inbound.push('request/${iot:ClientId}', 'announce');
    expect(resourcesFor(st, 'iot:Subscribe')).toEqual(inbound.map((t) => `topicfilter/${t}`).sort());
    expect(resourcesFor(st, 'iot:Receive')).toEqual(inbound.map((t) => `topic/${t}`).sort());
  });

  test('bindThingName ties the connection to the certificate’s thing', () => {
    const st = policyOf(synth({ bindThingName: true, iotEndpoint: 'a-ats.iot.us-east-1.amazonaws.com' }).template.toJSON());
    const connect = st.find((s) => s.Action === 'iot:Connect');
    expect(flatten(connect.Resource)).toBe(`${prefix}client/\${iot:Connection.Thing.ThingName}`);
    expect(connect.Condition).toEqual({ Bool: { 'iot:Connection.Thing.IsAttached': 'true' } });
    expect(resourcesFor(st, 'iot:Publish')).toEqual(CLIENT_CHANNELS.map((c) => `topic/${c}/\${iot:ClientId}`).sort());
  });
});

test('outputs: IoT data endpoint, API URL, table name, device policy name', () => {
  const outputs = json.Outputs as Record<string, any>;
  expect(Object.keys(outputs)).toEqual(expect.arrayContaining(['IotDataEndpoint', 'ApiUrl', 'TableName', 'DevicePolicyName']));
  const [policyId] = resourcesOf('AWS::IoT::Policy')[0];
  expect(outputs.DevicePolicyName.Value).toEqual({ Ref: policyId });
  const [tableId] = resourcesOf('AWS::DynamoDB::Table')[0];
  expect(outputs.TableName.Value).toEqual({ Ref: tableId });
  const [apiId] = resourcesOf('AWS::ApiGatewayV2::Api')[0];
  expect(outputs.ApiUrl.Value).toEqual({ 'Fn::GetAtt': [apiId, 'ApiEndpoint'] });
});

describe('context settings', () => {
  const from = (ctx: Record<string, unknown>) => settingsFromContext((k) => ctx[k]);

  test('defaults, and strings from `cdk -c key=value` parsed', () => {
    expect(from({})).toEqual(DEFAULT_SETTINGS);
    expect(
      from({
        tableName: 'lwmqn',
        defaultLifetime: '600',
        requestTimeoutMs: '5000',
        join: 'permit',
        iotEndpoint: 'https://abc-ats.iot.us-east-1.amazonaws.com/',
        bindThingName: 'true',
        indexShards: '64',
        sourceMaps: 'true',
        events: 'devStatus, devNotify',
      }),
    ).toMatchObject({
      sourceMaps: true,
      events: 'devStatus,devNotify',
      tableName: 'lwmqn',
      defaultLifetime: 600,
      requestTimeoutMs: 5000,
      join: 'permit',
      iotEndpoint: 'abc-ats.iot.us-east-1.amazonaws.com',
      bindThingName: true,
      indexShards: 64,
    });
  });

  test.each([
    [{ join: 'closed' }, /join/],
    [{ requestTimeoutMs: '60000' }, /requestTimeoutMs/],
    [{ defaultLifetime: 'soon' }, /defaultLifetime/],
    [{ tableName: 'a b' }, /tableName/],
    [{ iotEndpoint: 'not an endpoint' }, /iotEndpoint/],
    [{ bindThingName: 'yes' }, /bindThingName/],
    [{ indexShards: '0' }, /indexShards/],
    [{ indexShards: 'many' }, /indexShards/],
    [{ sourceMaps: 'on' }, /sourceMaps/],
    [{ events: 'devIncoming,devNotfy' }, /^context events: unknown event type devNotfy/],
  ])('rejects %j at synth', (ctx, message) => {
    expect(() => from(ctx)).toThrow(message);
  });
});
