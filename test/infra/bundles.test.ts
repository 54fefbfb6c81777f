import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildSync, type Metafile } from 'esbuild';
import { bundleOptions, FUNCTION_ENTRIES } from '../../infra/bundle';
import { DEFAULT_SETTINGS } from '../../infra/settings';
import { LwmqnStack } from '../../infra/stack';

/**
 * What keeps the functions' cold start short (docs/DEPLOY.md, "Cold start"; the timings come
 * from `npm run bench:bundles`): each bundle, built with the stack's own options, carries only
 * what its function uses, and Node is not told to parse source maps at every start.
 */
const dir = mkdtempSync(join(tmpdir(), 'lwmqn-bundle-test-'));
const built = new Map<string, { size: number; inputs: string[] }>();

beforeAll(() => {
  for (const entry of FUNCTION_ENTRIES) {
    const outfile = join(dir, entry.replace(/[/.]/g, '_'), 'index.js');
    const { metafile } = buildSync({ ...bundleOptions(entry, outfile), metafile: true }) as { metafile: Metafile };
    const [, output] = Object.entries(metafile.outputs).find(([file]) => file.endsWith('.js'))!;
    built.set(entry, { size: statSync(outfile).size, inputs: Object.keys(output.inputs) });
  }
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const channelEntries = () => FUNCTION_ENTRIES.filter((e) => e !== 'functions/api.ts');
const has = (entry: string, path: RegExp) => built.get(entry)!.inputs.some((input) => path.test(input));

test('the stack bundles exactly the entries measured here', () => {
  expect(FUNCTION_ENTRIES).toHaveLength(10);
  expect(FUNCTION_ENTRIES).toEqual(expect.arrayContaining(['functions/api.ts', 'functions/reaper.ts', 'functions/notify.ts']));
});

test.each(channelEntries())('%s carries none of the API’s packages, nor all of zod', (entry) => {
  expect(has(entry, /node_modules\/hono\//)).toBe(false);
  expect(has(entry, /node_modules\/@asteasolutions\/zod-to-openapi\//)).toBe(false);
  expect(has(entry, /node_modules\/prom-client\//)).toBe(false);
  // zod/mini: only the parts the schemas use; zod's classic API and its 40 locales stay out.
  expect(has(entry, /node_modules\/zod\/v4\/classic\//)).toBe(false);
  expect(has(entry, /node_modules\/zod\/v4\/locales\/(?!en\.js|index\.js)/)).toBe(false);
});

test('the AWS SDK clients come from their ES module builds, which esbuild can trim', () => {
  for (const entry of FUNCTION_ENTRIES) {
    expect(has(entry, /node_modules\/@aws-sdk\/client-dynamodb\/dist-es\//)).toBe(true);
    expect(has(entry, /node_modules\/@aws-sdk\/client-dynamodb\/dist-cjs\//)).toBe(false);
  }
});

// The API's own bundle keeps zod for its request schemas and zod-to-openapi (evaluated only when
// /openapi.json is first asked for), so only the functions every device message runs are held here.
test('every channel and reaper bundle is at most half the 1.1 MB each weighed with all of zod and the SDK’s CommonJS builds', () => {
  for (const entry of channelEntries()) {
    expect({ entry, kB: Math.round(built.get(entry)!.size / 1024) }).toEqual({ entry, kB: expect.any(Number) });
    expect(built.get(entry)!.size).toBeLessThan(600 * 1024);
  }
});

test('source maps are read only when the sourceMaps setting asks for them', () => {
  const nodeOptions = (sourceMaps: boolean) => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new LwmqnStack(app, 'LwmqnBundles', { settings: { ...DEFAULT_SETTINGS, sourceMaps } });
    const template = app.synth().getStackByName(stack.stackName).template as { Resources: Record<string, any> };
    return Object.values(template.Resources)
      .filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.TABLE_NAME)
      .map((r) => r.Properties.Environment.Variables.NODE_OPTIONS as string | undefined);
  };
  expect(nodeOptions(false)).toEqual(Array(11).fill(undefined));
  expect(nodeOptions(true)).toEqual(Array(11).fill('--enable-source-maps'));
});
