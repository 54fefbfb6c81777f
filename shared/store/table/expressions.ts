import { assertStorable, assertStorableName } from '../storable';
import type { Assigned, Condition, DeviceWrite, Operand, Path } from '../device-writes';

/**
 * Placeholders for one DynamoDB request: every attribute name and value goes through one, so a
 * resource id or a device's string can never be read as expression syntax. The same name gets
 * the same placeholder: the embedded store parses every expression on every call.
 */
export class Placeholders {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private readonly byName = new Map<string, string>();
  private n = 0;

  name(attr: string): string {
    let key = this.byName.get(attr);
    if (!key) {
      assertStorableName(attr);
      key = `#n${this.n++}`;
      this.names[key] = attr;
      this.byName.set(attr, key);
    }
    return key;
  }

  value(v: unknown): string {
    const key = `:v${this.n++}`;
    this.values[key] = v;
    return key;
  }

  path(path: Path): string {
    return path.map((p) => this.name(p)).join('.');
  }
}

function operand(x: Placeholders, o: Operand): string {
  return 'attr' in o ? x.path(o.attr) : x.value(o.value);
}

function assigned(x: Placeholders, to: Assigned): string {
  return 'sum' in to ? `${operand(x, to.sum[0])} + ${operand(x, to.sum[1])}` : operand(x, to);
}

export function conditionExpression(x: Placeholders, c: Condition): string {
  if ('exists' in c) return `attribute_exists(${x.path(c.exists)})`;
  if ('anyOf' in c) return `(${c.anyOf.map((each) => conditionExpression(x, each)).join(' OR ')})`;
  return `${x.path(c.compare)} ${c.op} ${x.value(c.value)}`;
}

export interface RenderedUpdate {
  UpdateExpression: string;
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues: Record<string, unknown>;
}

/**
 * One conditional UpdateItem for a device write. Values the store cannot hold are refused here,
 * before the request (RejectedValueError), never recognised afterwards by its error text.
 */
export function renderUpdate(write: DeviceWrite): RenderedUpdate {
  const x = new Placeholders();
  for (const s of write.set) if ('value' in s.to) assertStorable(s.to.value);
  const sets = write.set.map((s) => `${x.path(s.path)} = ${assigned(x, s.to)}`);
  const removes = write.remove.map((p) => x.path(p));
  return {
    UpdateExpression: `SET ${sets.join(', ')}` + (removes.length ? ` REMOVE ${removes.join(', ')}` : ''),
    ConditionExpression: write.requires.map((r) => conditionExpression(x, r.condition)).join(' AND '),
    ExpressionAttributeNames: x.names,
    ExpressionAttributeValues: x.values,
  };
}
