import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * One document client per container. Timeouts are short on purpose: when DynamoDB is unreachable the
 * webhook must answer 5xx well inside Terra's ~8 s window so Terra retries, not hang on a socket.
 */
export function createDocumentClient(options: {
  dynamoEndpoint?: string | undefined;
}): DynamoDBDocumentClient {
  const local = options.dynamoEndpoint !== undefined;
  const client = new DynamoDBClient({
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000, throwOnRequestTimeout: true },
    ...(local
      ? {
          endpoint: options.dynamoEndpoint,
          region: 'us-east-1',
          // DynamoDB Local accepts any credentials; fixed ones keep every process on one database.
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        }
      : {}),
  });
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  });
}
