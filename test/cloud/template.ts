import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Reading a synthesized CloudFormation template the way the cloud would act on it: intrinsic
 * functions resolved against emulated physical names, IoT rule SQL parsed, IAM statements
 * matched. Whatever the template uses that this file does not understand fails loudly, so the
 * emulation never silently runs something other than what would be deployed.
 */

export const REGION = 'us-east-1';
export const ACCOUNT = '123456789012';
export const PARTITION = 'aws';

export interface Resource {
  Type: string;
  Properties?: Record<string, any>;
}

export interface Template {
  Resources: Record<string, Resource>;
}

/** The cloud assembly a synth wrote: the stack's template and where each function's code is. */
export interface Assembly {
  dir: string;
  stackName: string;
  template: Template;
  /** S3 object key of a file asset -> its directory in the assembly. */
  assetDirs: Map<string, string>;
}

export function readAssembly(dir: string): Assembly {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
    artifacts: Record<string, { type: string; properties?: { templateFile?: string } }>;
  };
  const stacks = Object.entries(manifest.artifacts).filter(([, a]) => a.type === 'aws:cloudformation:stack');
  if (stacks.length !== 1) throw new Error(`expected one stack in ${dir}, found ${stacks.length}`);
  const [stackName, stack] = stacks[0];
  const template = JSON.parse(readFileSync(join(dir, stack.properties!.templateFile!), 'utf8')) as Template;
  const assetDirs = new Map<string, string>();
  const assetsFile = Object.values(manifest.artifacts).find((a) => a.type === 'cdk:asset-manifest') as
    { properties: { file: string } } | undefined;
  if (!assetsFile) throw new Error(`no asset manifest in ${dir}`);
  const assets = JSON.parse(readFileSync(join(dir, assetsFile.properties.file), 'utf8')) as {
    files: Record<string, { source: { path: string; packaging?: string }; destinations: Record<string, { objectKey: string }> }>;
  };
  for (const file of Object.values(assets.files)) {
    for (const dest of Object.values(file.destinations)) assetDirs.set(dest.objectKey, join(dir, file.source.path));
  }
  return { dir, stackName, template, assetDirs };
}

export function resourcesOf(template: Template, type: string): [string, Resource][] {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

/**
 * Resolves `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub` and the pseudo parameters. `physical`
 * gives a resource's name (its Ref); ARNs follow from it by resource type.
 */
export class Resolver {
  constructor(
    private readonly template: Template,
    private readonly physical: (logicalId: string) => string,
  ) {}

  resolve(value: unknown): any {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v));
    if (value === null || typeof value !== 'object') return value;
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (keys.length === 1 && keys[0] === 'Ref') return this.ref(String(obj.Ref));
    if (keys.length === 1 && keys[0] === 'Fn::GetAtt') {
      const [id, attr] = obj['Fn::GetAtt'] as [string, string];
      return this.getAtt(id, attr);
    }
    if (keys.length === 1 && keys[0] === 'Fn::Join') {
      const [sep, parts] = obj['Fn::Join'] as [string, unknown[]];
      return (this.resolve(parts) as unknown[]).map(String).join(sep);
    }
    if (keys.length === 1 && keys[0] === 'Fn::Sub') {
      const arg = obj['Fn::Sub'];
      if (typeof arg !== 'string') throw new Error('emulation: Fn::Sub with variables is not implemented');
      return arg.replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
        const [id, attr] = name.split('.');
        return String(attr ? this.getAtt(id, attr) : this.ref(id));
      });
    }
    const intrinsic = keys.find((k) => k.startsWith('Fn::'));
    if (intrinsic) throw new Error(`emulation: ${intrinsic} is not implemented`);
    return Object.fromEntries(keys.map((k) => [k, this.resolve(obj[k])]));
  }

  ref(id: string): string {
    switch (id) {
      case 'AWS::Region':
        return REGION;
      case 'AWS::AccountId':
        return ACCOUNT;
      case 'AWS::Partition':
        return PARTITION;
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
    }
    if (id.startsWith('AWS::')) throw new Error(`emulation: pseudo parameter ${id} is not implemented`);
    this.resource(id);
    return this.physical(id);
  }

  getAtt(id: string, attr: string): string {
    const r = this.resource(id);
    const name = this.physical(id);
    if (r.Type === 'AWS::DynamoDB::Table' && attr === 'StreamArn') {
      return `arn:${PARTITION}:dynamodb:${REGION}:${ACCOUNT}:table/${name}/stream/1970-01-01T00:00:00.000`;
    }
    if (attr !== 'Arn') throw new Error(`emulation: Fn::GetAtt ${id}.${attr} is not implemented`);
    switch (r.Type) {
      case 'AWS::DynamoDB::Table':
        return `arn:${PARTITION}:dynamodb:${REGION}:${ACCOUNT}:table/${name}`;
      case 'AWS::Lambda::Function':
        return `arn:${PARTITION}:lambda:${REGION}:${ACCOUNT}:function:${name}`;
      case 'AWS::IAM::Role':
        return `arn:${PARTITION}:iam::${ACCOUNT}:role/${name}`;
      case 'AWS::SQS::Queue':
        return `arn:${PARTITION}:sqs:${REGION}:${ACCOUNT}:${name}`;
      case 'AWS::IoT::TopicRule':
        return `arn:${PARTITION}:iot:${REGION}:${ACCOUNT}:rule/${name}`;
      case 'AWS::Events::Rule':
        return `arn:${PARTITION}:events:${REGION}:${ACCOUNT}:rule/${name}`;
      default:
        throw new Error(`emulation: the ARN of a ${r.Type} is not implemented`);
    }
  }

  private resource(id: string): Resource {
    const r = this.template.Resources[id];
    if (!r) throw new Error(`emulation: the template has no resource ${id}`);
    return r;
  }
}

/** One `AS` column of a topic rule's SELECT. */
export interface SelectColumn {
  alias: string;
  expr: string;
}

export interface ParsedRule {
  columns: SelectColumn[];
  from: string;
}

/**
 * `SELECT <expr> AS <alias>, ... FROM '<topic filter>'` (SQL version 2016-03-23). A WHERE
 * clause, `SELECT *`, or a column without an alias is refused: the emulation would have to guess.
 */
export function parseRuleSql(sql: string): ParsedRule {
  const m = /^\s*SELECT\s+(.+?)\s+FROM\s+'([^']+)'\s*$/is.exec(sql);
  if (!m) throw new Error(`emulation: topic rule SQL not understood (a WHERE clause is not implemented): ${sql}`);
  const columns = splitTopLevel(m[1]).map((part) => {
    const col = /^(.+?)\s+AS\s+([A-Za-z_][A-Za-z0-9_]*)$/is.exec(part.trim());
    if (!col) throw new Error(`emulation: a SELECT column without AS is not implemented: ${part}`);
    return { expr: col[1].trim(), alias: col[2] };
  });
  return { columns, from: m[2] };
}

function splitTopLevel(list: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (const ch of list) {
    if (ch === "'") quoted = !quoted;
    if (!quoted && ch === '(') depth++;
    if (!quoted && ch === ')') depth--;
    if (!quoted && depth === 0 && ch === ',') {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

/** What the rules engine knows about one inbound MQTT message. */
export interface InboundMessage {
  topic: string;
  payload: Buffer;
  clientId: string;
  receivedAt: number;
}

/** The SQL functions the emulation implements, exactly as the 2016-03-23 reference describes them. */
const SQL_FUNCTIONS: Record<string, (m: InboundMessage) => unknown> = {
  "encode(*, 'base64')": (m) => m.payload.toString('base64'),
  'topic()': (m) => m.topic,
  'clientid()': (m) => m.clientId,
  'timestamp()': (m) => m.receivedAt,
};

/** Checks every column up front, so a rule using a function the emulation lacks fails at start. */
export function compileSelect(columns: SelectColumn[]): (m: InboundMessage) => Record<string, unknown> {
  const compiled = columns.map(({ alias, expr }) => {
    const normalised = expr.replace(/\s+/g, ' ').replace(/\(\s*\*\s*,\s*/g, '(*, ');
    const fn = SQL_FUNCTIONS[normalised];
    if (!fn) throw new Error(`emulation: the topic rule SQL expression ${expr} is not implemented`);
    return [alias, fn] as const;
  });
  return (m) => Object.fromEntries(compiled.map(([alias, fn]) => [alias, fn(m)]));
}

/** An IAM policy statement, resolved. */
export interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
}

const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** IAM wildcard match: `*` any run of characters, `?` one character; case-insensitive for actions. */
function wildcard(pattern: string, value: string, ignoreCase: boolean): boolean {
  const re = new RegExp(
    `^${pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('')}$`,
    ignoreCase ? 'i' : '',
  );
  return re.test(value);
}

export function checkStatement(raw: Record<string, unknown>): Statement {
  for (const key of Object.keys(raw)) {
    if (!['Effect', 'Action', 'Resource', 'Sid'].includes(key)) {
      throw new Error(`emulation: IAM statement key ${key} is not implemented`);
    }
  }
  return raw as unknown as Statement;
}

/** IAM's evaluation for one request: an explicit Deny wins, else some Allow must match. */
export function isAllowed(statements: Statement[], action: string, resource: string): boolean {
  const matches = (s: Statement) =>
    asList(s.Action).some((a) => wildcard(a, action, true)) && asList(s.Resource).some((r) => wildcard(r, resource, false));
  if (statements.some((s) => s.Effect === 'Deny' && matches(s))) return false;
  return statements.some((s) => s.Effect === 'Allow' && matches(s));
}

/** `rate(5 minutes)` -> 300000; a cron expression is not implemented. */
export function rateMs(expression: string): number {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (!m) throw new Error(`emulation: schedule expression ${expression} is not implemented`);
  const unit = { minute: 60_000, hour: 3_600_000, day: 86_400_000 }[m[2].replace(/s$/, '') as 'minute' | 'hour' | 'day'];
  return Number(m[1]) * unit;
}

/**
 * EventBridge event pattern matching (the filter of a pipe): an object matches field by field,
 * an array lists the values a field may have. Content filters (`prefix`, `anything-but`, ...)
 * are not implemented and fail loudly.
 */
export function matchesPattern(pattern: unknown, value: unknown): boolean {
  if (Array.isArray(pattern)) {
    return pattern.some((p) => {
      if (p !== null && typeof p === 'object')
        throw new Error(`emulation: event pattern filter ${JSON.stringify(p)} is not implemented`);
      return p === value;
    });
  }
  if (pattern !== null && typeof pattern === 'object') {
    if (value === null || typeof value !== 'object') return false;
    return Object.entries(pattern as Record<string, unknown>).every(([k, p]) =>
      matchesPattern(p, (value as Record<string, unknown>)[k]),
    );
  }
  throw new Error(`emulation: event pattern ${JSON.stringify(pattern)} is not implemented`);
}
