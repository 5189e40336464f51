import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { DeadLetterQueue, QueueMessage } from '#shared/operations/redrive';
import { parseTerraSecret, SecretError } from '#shared/terra/credentials';

/**
 * The CLI's own AWS calls for a deployed stack, with the caller's credentials (the SDK's default
 * chain, region from AWS_REGION or `--region`): the stack's outputs, the dead-letter queue, object sizes in the
 * archive bucket, the Terra secret. DynamoDB is read through shared/store only.
 */

/** The stack's outputs by key; undefined when there is no such stack. */
export async function stackOutputs(
  name: string,
  client: CloudFormationClient = new CloudFormationClient({ maxAttempts: 3 }),
): Promise<Record<string, string> | undefined> {
  try {
    const { Stacks } = await client.send(new DescribeStacksCommand({ StackName: name }));
    const stack = Stacks?.[0];
    if (stack === undefined) return undefined;
    return Object.fromEntries(
      (stack.Outputs ?? [])
        .filter((output) => output.OutputKey !== undefined && output.OutputValue !== undefined)
        .map((output) => [output.OutputKey ?? '', output.OutputValue ?? '']),
    );
  } catch (error) {
    // CloudFormation answers a missing stack with a ValidationError "Stack with id … does not exist".
    if (error instanceof Error && error.name === 'ValidationError' && /does not exist/.test(error.message)) {
      return undefined;
    }
    throw error;
  } finally {
    client.destroy();
  }
}

/** The dead-letter queue, read by one redrive run: each message hidden from others while it works. */
export class SqsDeadLetterQueue implements DeadLetterQueue {
  constructor(
    private readonly queueUrl: string,
    private readonly client: SQSClient = new SQSClient({ maxAttempts: 3 }),
    private readonly visibilitySeconds = 300,
  ) {}

  async receive(): Promise<QueueMessage[]> {
    const { Messages } = await this.client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: this.visibilitySeconds,
      }),
    );
    return (Messages ?? [])
      .filter((message) => message.MessageId && message.ReceiptHandle)
      .map((message) => ({
        id: message.MessageId ?? '',
        receipt: message.ReceiptHandle ?? '',
        body: message.Body ?? '',
      }));
  }

  async delete(message: QueueMessage): Promise<void> {
    await this.client.send(
      new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: message.receipt }),
    );
  }

  async approximateCount(): Promise<number> {
    const { Attributes } = await this.client.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages'],
      }),
    );
    return Number(Attributes?.ApproximateNumberOfMessages ?? 0) || 0;
  }
}

/** The size of an archived object without downloading it; undefined when it is gone. */
export function s3ObjectSize(bucket: string, client: S3Client = new S3Client({ maxAttempts: 3 })) {
  return async (key: string): Promise<number | undefined> => {
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return head.ContentLength;
    } catch (error) {
      if (error instanceof Error && (error.name === 'NotFound' || error.name === 'NoSuchKey'))
        return undefined;
      throw error;
    }
  };
}

export class SecretReadError extends Error {
  override name = 'SecretReadError';
}

/**
 * The stack's Terra secret (TerraSecretArn), read with the caller's credentials (the functions read it
 * through the Lambda extension, which only exists inside Lambda). Parsed as the functions parse it; only
 * the dev id and API key are kept, and errors name what is missing, never a value.
 */
export async function readTerraSecret(
  arn: string,
  client: SecretsManagerClient = new SecretsManagerClient({ maxAttempts: 3 }),
): Promise<{ devId: string; apiKey: string }> {
  try {
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    let value: unknown;
    try {
      value = JSON.parse(SecretString ?? '');
    } catch {
      throw new SecretReadError('The Terra secret is not JSON.');
    }
    const { devId, apiKey } = parseTerraSecret(value);
    return { devId, apiKey };
  } catch (error) {
    if (error instanceof SecretReadError || error instanceof SecretError) throw error;
    const { name, message } = error as Error;
    throw new SecretReadError(`Secrets Manager did not give the Terra secret (${name}: ${message}).`);
  } finally {
    client.destroy();
  }
}
