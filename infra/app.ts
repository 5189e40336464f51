import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { stackPropsFromContext } from './context.ts';
import { TerraConnectStack } from './terra-connect-stack.ts';

/** `npm run synth` / `npm run deploy`. Settings come from `cdk.json` context (`terraConnect`). */
const app = new App();
new TerraConnectStack(app, 'TerraConnect', stackPropsFromContext(app.node.tryGetContext('terraConnect')));
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
