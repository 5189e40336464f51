import {
  CreateTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { connectionsTableInput, INBOX_KEYS, inboxTableInput } from '#shared/aws/tables';

/** Creates both tables if they do not exist yet (state persists under `.local/` between runs). */
export async function ensureTables(
  client: DynamoDBClient,
  names: { connectionsTable: string; inboxTable: string },
): Promise<void> {
  for (const input of [connectionsTableInput(names.connectionsTable), inboxTableInput(names.inboxTable)]) {
    try {
      await client.send(new CreateTableCommand(input));
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
  }
  await client
    .send(
      new UpdateTimeToLiveCommand({
        TableName: names.inboxTable,
        TimeToLiveSpecification: { AttributeName: INBOX_KEYS.ttlAttribute, Enabled: true },
      }),
    )
    .catch(() => undefined); // already enabled
}
