import { join } from 'node:path';
import { AssetHashType, DockerImage, aws_lambda as lambda } from 'aws-cdk-lib';
import { buildSync, type BuildOptions } from 'esbuild';
import { CLIENT_CHANNELS } from '../shared/protocol/topics';

export const ROOT = join(__dirname, '..');

/** The esbuild target matching the functions' runtime (infra/stack.ts). */
export const BUNDLE_TARGET = 'node22';

/** Every function's entry, as the stack bundles them (infra/stack.ts): one per channel, the API, the reaper. */
export const FUNCTION_ENTRIES: readonly string[] = [
  ...CLIENT_CHANNELS.map((channel) => `functions/${channel}.ts`),
  'functions/api.ts',
  'functions/reaper.ts',
];

/** The esbuild options of a function's bundle, shared by the stack and bench/bundles.ts. */
export function bundleOptions(entry: string, outfile: string) {
  return {
    entryPoints: [join(ROOT, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    target: BUNDLE_TARGET,
    format: 'cjs',
    // The packages' ES module builds first (the AWS SDK clients' dist-es): esbuild can drop what
    // a function never uses from those, not from their CommonJS builds. Packages without one
    // keep their `main`.
    mainFields: ['module', 'main'],
    minify: true,
    // Mappings for readable stack traces (the `sourceMaps` setting: NODE_OPTIONS=--enable-source-maps),
    // not the sources. Node reads the map only when that option is on.
    sourcemap: true,
    sourcesContent: false,
    // Ship the AWS SDK versions the code was tested with, not the runtime's.
    external: [],
    logLevel: 'warning',
  } satisfies BuildOptions;
}

/**
 * A function's code: `entry` bundled with the esbuild JS API straight into the asset's staging
 * directory at synth time. No Docker and no `npx` per function (NodejsFunction spawns one per
 * entry; in process this is about three times faster for the ten entries). The asset hash is
 * the hash of the bundle, so an unchanged bundle is not uploaded again.
 */
export function bundledCode(entry: string): lambda.Code {
  return lambda.Code.fromAsset(ROOT, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Required by the type; never pulled, because local bundling either succeeds or throws.
      image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:22-slim'),
      // CDK keys its bundling cache on the serialisable options only (not on `local`): the
      // entry has to appear here, or every function would get the first function's bundle.
      environment: { LWMQN_ENTRY: entry },
      local: {
        tryBundle(outputDir: string): boolean {
          buildSync(bundleOptions(entry, join(outputDir, 'index.js')));
          return true;
        },
      },
    },
  });
}
