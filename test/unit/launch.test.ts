import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** `npm start`'s entrance (local/launch.cjs): TypeScript compiled in memory, then run. */
const LAUNCHER = join(__dirname, '../../local/launch.cjs');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const launch = require(LAUNCHER) as {
  compile(entry: string): Promise<string>;
  run(code: string, entry: string): Record<string, unknown>;
  compileError(err: unknown): string;
};

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'lwmqn-launch-'));
  mkdirSync(join(root, 'a'));
  mkdirSync(join(root, 'b'));
  writeFileSync(
    join(root, 'b', 'where.ts'),
    'export const where: { dir: string; file: string } = { dir: __dirname, file: __filename };\n',
  );
  writeFileSync(
    join(root, 'a', 'main.ts'),
    [
      "import { where } from '../b/where';",
      'type Here = string;',
      'export const here: Here = __dirname;',
      'export { where };',
      'export function fail(): never {',
      "  throw new Error('from main.ts, line 6');",
      '}',
      '',
    ].join('\n'),
  );
  writeFileSync(join(root, 'broken.ts'), 'export const x = ;\n');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

test('one script from many files, each keeping its own __dirname and __filename', async () => {
  const entry = join(root, 'a', 'main.ts');
  const main = launch.run(await launch.compile(entry), entry);
  expect(main.here).toBe(join(root, 'a'));
  expect(main.where).toEqual({ dir: join(root, 'b'), file: join(root, 'b', 'where.ts') });
});

test('a stack trace names the .ts file and its line', () => {
  // In a Node process of its own: jest formats stack traces itself, without Node's source maps.
  const entry = join(root, 'a', 'main.ts');
  const script = `const l = require(${JSON.stringify(LAUNCHER)});
l.compile(${JSON.stringify(entry)}).then((code) => {
  try { l.run(code, ${JSON.stringify(entry)}).fail(); } catch (err) { process.stdout.write(err.stack); }
});`;
  const stack = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  expect(stack).toContain('from main.ts, line 6');
  expect(stack).toContain(`${entry}:6:`);
});

test('a source that does not compile: one line with the reason and the place', async () => {
  const failure = await launch.compile(join(root, 'broken.ts')).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(failure).toBeDefined();
  const line = launch.compileError(failure);
  expect(line).toMatch(/^lwmqn: could not compile the server: Unexpected ";" \(.*broken\.ts:1\)$/);
  expect(line).not.toContain('\n');
});
