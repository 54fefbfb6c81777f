import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/**
 * The shape docs/ARCHITECTURE.md promises: no import cycle anywhere in the product's code, no
 * file in shared/ over 300 lines, and no optional port a handler could branch on.
 */
const ROOT = resolve(__dirname, '../..');
const PRODUCT = ['shared', 'functions', 'local', 'infra', 'bench'];

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Relative imports of a file, static, dynamic and type-only alike, resolved to files. */
function importsOf(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const specifiers: string[] = [];
  const visit = (node: ts.Node) => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      specifiers.push(node.moduleSpecifier.text);
    }
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && ts.isStringLiteral(node.arguments[0])) {
      specifiers.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specifiers
    .filter((s) => s.startsWith('.'))
    .map((s) => resolve(dirname(file), s))
    .map((p) => [`${p}.ts`, join(p, 'index.ts')].find((candidate) => existsSync(candidate)))
    .filter((p): p is string => p !== undefined);
}

test('no import cycle in the product code', () => {
  const files = PRODUCT.flatMap((dir) => tsFiles(join(ROOT, dir)));
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  const state = new Map<string, 'visiting' | 'done'>();
  const cycles: string[] = [];
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'visiting') {
      cycles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(ROOT, f)).join(' -> '));
      return;
    }
    state.set(file, 'visiting');
    for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
    state.set(file, 'done');
  };
  for (const file of files) visit(file, []);
  expect(files.length).toBeGreaterThan(50);
  expect(cycles).toEqual([]);
});

test('no file in shared/ is over 300 lines', () => {
  const long = tsFiles(join(ROOT, 'shared'))
    .map((f) => ({ file: relative(ROOT, f), lines: readFileSync(f, 'utf8').split('\n').length }))
    .filter((f) => f.lines > 300);
  expect(long).toEqual([]);
});

test('every port in Deps is required', () => {
  const file = join(ROOT, 'shared/deps.ts');
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const deps = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === 'Deps');
  expect(deps).toBeDefined();
  const members = deps!.members.map((m) => ({ name: m.name?.getText(source), optional: !!m.questionToken }));
  expect(members.length).toBeGreaterThanOrEqual(9);
  expect(members.filter((m) => m.optional)).toEqual([]);
});
