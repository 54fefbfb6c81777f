import { App } from 'aws-cdk-lib';
import { settingsFromContext, type LwmqnSettings } from './settings';
import { LwmqnStack } from './stack';

/**
 * `npx cdk synth|deploy [-c key=value ...]`: one environment-agnostic stack (the account and
 * region come from the deploying credentials), so synth needs neither credentials nor lookups.
 * Context keys: see infra/settings.ts and docs/DEPLOY.md.
 */
const app = new App();
const stackName = (app.node.tryGetContext('stackName') as string | undefined) ?? 'Lwmqn';
let settings: LwmqnSettings;
try {
  settings = settingsFromContext((key) => app.node.tryGetContext(key));
} catch (err) {
  console.error(`lwmqn infra: ${(err as Error).message}`);
  process.exit(1);
}
new LwmqnStack(app, stackName, {
  settings,
  description: 'LWMQN server: AWS IoT Core topic rules, Lambda handlers, DynamoDB registry, IAM-authorised HTTP API',
});
app.synth();
