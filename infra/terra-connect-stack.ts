import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { TerraConnect, type TerraConnectProps } from './terra-connect.ts';

export interface TerraConnectStackProps extends StackProps {
  terraConnect: TerraConnectProps;
}

/**
 * This repository's own app (`npm run synth`, `npm run deploy`): the `TerraConnect` construct alone in a
 * stack, with the outputs `npm run ops -- --stack <name>` and the README's deploy steps read.
 */
export class TerraConnectStack extends Stack {
  readonly terraConnect: TerraConnect;

  constructor(scope: Construct, id: string, props: TerraConnectStackProps) {
    super(scope, id, props);
    // `Default` is left out of logical ids: every resource keeps the id it had when the backend was
    // this stack itself, so an existing deployment updates in place (README, "Use it in your app").
    const terra = new TerraConnect(this, 'Default', props.terraConnect);
    this.terraConnect = terra;

    if (terra.userPool && terra.userPoolClient) {
      new CfnOutput(this, 'UserPoolId', { value: terra.userPool.userPoolId });
      new CfnOutput(this, 'UserPoolClientId', { value: terra.userPoolClient.userPoolClientId });
    }
    new CfnOutput(this, 'ApiUrl', { value: terra.apiUrl, description: 'Base URL for your frontend' });
    new CfnOutput(this, 'WebhookUrl', {
      value: terra.webhookUrl,
      description: 'Paste into Terra dashboard → Destinations → Webhook URL',
    });
    new CfnOutput(this, 'CallbackSuccessUrl', { value: `${terra.apiUrl}/callbacks/terra/success` });
    new CfnOutput(this, 'CallbackFailureUrl', { value: `${terra.apiUrl}/callbacks/terra/failure` });
    new CfnOutput(this, 'EventSchemaRegistryName', { value: terra.eventSchemaRegistry.attrRegistryName });
    new CfnOutput(this, 'TerraSecretArn', {
      value: terra.terraSecret.secretArn,
      description: 'Put {"dev_id","api_key","signing_secret"} here after deploy',
    });
    // What `npm run ops -- --stack <name>` reads to find this stack's parts.
    const terraApiUrl = props.terraConnect.terraApiUrl;
    if (terraApiUrl) new CfnOutput(this, 'TerraApiUrl', { value: terraApiUrl });
    new CfnOutput(this, 'ConnectionsTableName', { value: terra.connectionsTable.tableName });
    new CfnOutput(this, 'InboxTableName', { value: terra.inboxTable.tableName });
    new CfnOutput(this, 'ArchiveBucketName', { value: terra.archiveBucket.bucketName });
    new CfnOutput(this, 'AlarmTopicArn', {
      value: terra.alarmTopic.topicArn,
      description: 'Subscribe to get alarms',
    });
    if (terra.appEventsQueue) {
      new CfnOutput(this, 'AppEventsQueueUrl', {
        value: terra.appEventsQueue.queueUrl,
        description: 'Example subscription: the queue your app reads',
      });
    }
    new CfnOutput(this, 'EventBusName', { value: terra.eventBus.eventBusName });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: terra.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'ConsumerPolicyArn', { value: terra.consumerPolicy.managedPolicyArn });
    new CfnOutput(this, 'DeletionQueueUrl', { value: terra.deletionQueue.queueUrl });
  }
}
