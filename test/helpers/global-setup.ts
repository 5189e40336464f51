import type { TestProject } from 'vitest/node';
import { type DynamoLocal, startDynamoLocal } from '#local/dynamodb';

/**
 * One in-memory DynamoDB Local for the whole run, on a free port of its own; every test file creates
 * its own uniquely named tables in it. Stopped (process group and all) when the run ends.
 */
// globalSetup runs outside the test workers, so vitest's `env` does not reach it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

let dynamo: DynamoLocal | undefined;

export async function setup(project: TestProject): Promise<void> {
  dynamo = await startDynamoLocal();
  project.provide('dynamoEndpoint', dynamo.endpoint);
}

export async function teardown(): Promise<void> {
  await dynamo?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}
