import { oidName, ridName } from '../../shared/protocol/ids';
import type { ObjectTree } from '../../shared/store/model';

/** IPSO's units resource (5701 `units`): an instance's numeric values are in these units. */
const UNITS_RID = '5701';

/**
 * A device's object tree for people: one line per resource, its IPSO path by name, the numeric
 * ids, and its value with the instance's units, e.g.
 * `temperature/0/sensorValue  (3303/0/5700)  21.5 C`.
 */
export function objectLines(tree: ObjectTree): string {
  const rows: Array<[string, string, string]> = [];
  for (const [oid, instances] of Object.entries(tree)) {
    for (const [iid, resources] of Object.entries(instances ?? {})) {
      const units = typeof resources?.[UNITS_RID] === 'string' ? resources[UNITS_RID] : undefined;
      for (const [rid, value] of Object.entries(resources ?? {})) {
        const path = `${oidName(oid) ?? oid}/${iid}/${ridName(oid, rid) ?? rid}`;
        const shown = typeof value === 'string' ? value : JSON.stringify(value);
        rows.push([path, `(${oid}/${iid}/${rid})`, typeof value === 'number' && units ? `${shown} ${units}` : shown]);
      }
    }
  }
  if (rows.length === 0) return '(no objects)';
  const widths = [0, 1].map((i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map(([path, ids, value]) => `${path.padEnd(widths[0])}  ${ids.padEnd(widths[1])}  ${value}`).join('\n');
}
