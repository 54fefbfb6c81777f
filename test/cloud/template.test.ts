import { ruleSql } from '../../infra/stack';
import { dynamoResources, matchesFilter } from './emulator';
import { Resolver, checkStatement, compileSelect, isAllowed, matchesPattern, parseRuleSql, rateMs, type Template } from './template';

/** The emulation's reading of a template: what it implements works, and what it does not fails loudly. */

test("a channel rule's SQL builds exactly the handler input", () => {
  const { columns, from } = parseRuleSql(ruleSql('notify'));
  expect(from).toBe('notify/+');
  const event = compileSelect(columns)({ topic: 'notify/n1', payload: Buffer.from([0xff, 0x00]), clientId: 'n1', receivedAt: 1234 });
  expect(event).toEqual({ payload: '/wA=', topic: 'notify/n1', mqttClientId: 'n1', receivedAt: 1234 });
});

test('SQL the emulation does not implement is refused, not guessed', () => {
  expect(() => parseRuleSql("SELECT * FROM 'a/+' WHERE x = 1")).toThrow(/not understood/);
  expect(() => parseRuleSql("SELECT topic(2) FROM 'a/+'")).toThrow(/without AS/);
  expect(() => compileSelect(parseRuleSql("SELECT topic(2) AS t FROM 'a/+'").columns)).toThrow(/topic\(2\) is not implemented/);
  expect(() => compileSelect(parseRuleSql("SELECT encode(*, 'hex') AS p FROM 'a/+'").columns)).toThrow(/not implemented/);
});

test('IAM: wildcards in actions and resources, an explicit Deny wins, unknown statement keys refused', () => {
  const table = 'arn:aws:dynamodb:us-east-1:123456789012:table/t';
  const allow = checkStatement({
    Effect: 'Allow',
    Action: ['dynamodb:GetItem', 'dynamodb:Query'],
    Resource: [table, `${table}/index/*`],
  });
  expect(isAllowed([allow], 'dynamodb:GetItem', table)).toBe(true);
  expect(isAllowed([allow], 'dynamodb:Query', `${table}/index/byExpiry`)).toBe(true);
  expect(isAllowed([allow], 'dynamodb:Scan', table)).toBe(false);
  expect(isAllowed([allow], 'dynamodb:GetItem', `${table}2`)).toBe(false);
  expect(isAllowed([allow, { Effect: 'Deny', Action: 'dynamodb:*', Resource: '*' }], 'dynamodb:GetItem', table)).toBe(false);
  expect(() => checkStatement({ Effect: 'Allow', Action: '*', Resource: '*', Condition: {} })).toThrow(
    /Condition is not implemented/,
  );
});

test('the resources of a DynamoDB request, as IAM sees them', () => {
  const t = 'arn:aws:dynamodb:us-east-1:123456789012:table/t';
  expect(dynamoResources({ TableName: 't' })).toEqual([t]);
  expect(dynamoResources({ TableName: 't', IndexName: 'byExpiry' })).toEqual([`${t}/index/byExpiry`]);
  expect(dynamoResources({ RequestItems: { t: {} } })).toEqual([t]);
});

test('MQTT filters and event patterns', () => {
  expect(matchesFilter('notify/+', 'notify/n1')).toBe(true);
  expect(matchesFilter('notify/+', 'notify/response/n1')).toBe(false);
  expect(matchesFilter('lwmqn/#', 'lwmqn/events/n1/devStatus')).toBe(true);
  const pattern = { eventName: ['INSERT'], dynamodb: { NewImage: { sk: { S: ['discovery'] } } } };
  expect(matchesPattern(pattern, { eventName: 'INSERT', dynamodb: { NewImage: { sk: { S: 'discovery' } } } })).toBe(true);
  expect(matchesPattern(pattern, { eventName: 'MODIFY', dynamodb: { NewImage: { sk: { S: 'discovery' } } } })).toBe(false);
  expect(matchesPattern(pattern, { eventName: 'INSERT', dynamodb: { NewImage: { sk: { S: 'device' } } } })).toBe(false);
  expect(() => matchesPattern({ a: [{ prefix: 'x' }] }, { a: 'xy' })).toThrow(/not implemented/);
});

test('schedules and intrinsic functions', () => {
  expect(rateMs('rate(1 minute)')).toBe(60_000);
  expect(rateMs('rate(2 hours)')).toBe(7_200_000);
  expect(() => rateMs('cron(0 * * * ? *)')).toThrow(/not implemented/);
  const template: Template = { Resources: { T: { Type: 'AWS::DynamoDB::Table' }, Q: { Type: 'AWS::SQS::Queue' } } };
  const r = new Resolver(template, (id) => `phys-${id}`);
  expect(r.resolve({ 'Fn::Join': ['', [{ 'Fn::GetAtt': ['T', 'Arn'] }, '/index/*']] })).toBe(
    'arn:aws:dynamodb:us-east-1:123456789012:table/phys-T/index/*',
  );
  expect(r.resolve({ 'Fn::Sub': 'cdk-${AWS::AccountId}-${AWS::Region}-${Q}' })).toBe('cdk-123456789012-us-east-1-phys-Q');
  expect(() => r.resolve({ 'Fn::Select': [0, ['a']] })).toThrow(/Fn::Select is not implemented/);
  expect(() => r.resolve({ Ref: 'Missing' })).toThrow(/no resource Missing/);
});
