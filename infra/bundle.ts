import { join } from 'node:path';
import { AssetHashType, DockerImage, aws_lambda as lambda } from 'aws-cdk-lib';
import { buildSync } from 'esbuild';

export const ROOT = join(__dirname, '..');

/** The esbuild target matching the functions' runtime (infra/stack.ts). */
export const BUNDLE_TARGET = 'node22';

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
          buildSync({
            entryPoints: [join(ROOT, entry)],
            outfile: join(outputDir, 'index.js'),
            bundle: true,
            platform: 'node',
            target: BUNDLE_TARGET,
            format: 'cjs',
            minify: true,
            // Mappings for readable stack traces (NODE_OPTIONS=--enable-source-maps), not the sources.
            sourcemap: true,
            sourcesContent: false,
            // Ship the AWS SDK versions the code was tested with, not the runtime's.
            external: [],
            logLevel: 'warning',
          });
          return true;
        },
      },
    },
  });
}
