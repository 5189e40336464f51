import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { connectionsTableInput, INBOX_KEYS, inboxTableInput } from '#shared/store/tables';

/** Local state that predates the current key design: the remedy is a fresh start. */
export class StaleTablesError extends Error {
  override name = 'StaleTablesError';
}

const keysOf = (schema: CreateTableCommandInput['KeySchema']) =>
  JSON.stringify((schema ?? []).map((key) => [key.AttributeName, key.KeyType]));

/** Creates both tables if they do not exist yet (state persists under `.local/` between runs). */
export async function ensureTables(
  client: DynamoDBClient,
  names: { connectionsTable: string; inboxTable: string },
): Promise<void> {
  const tables = [
    // Connection records never expire: only the inbox (deliveries, tombstones, claims) has a TTL.
    { input: connectionsTableInput(names.connectionsTable), ttl: undefined },
    { input: inboxTableInput(names.inboxTable), ttl: INBOX_KEYS.ttlAttribute },
  ];
  for (const { input, ttl } of tables) {
    try {
      await client.send(new CreateTableCommand(input));
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
      const { Table } = await client.send(new DescribeTableCommand({ TableName: input.TableName }));
      const streams = Table?.StreamSpecification?.StreamEnabled === true;
      if (keysOf(Table?.KeySchema) !== keysOf(input.KeySchema) || !streams) {
        throw new StaleTablesError(
          `The local table ${input.TableName} was made by an older version of terra-connect (other keys); start with \`npm start -- --fresh\` to recreate it.`,
        );
      }
    }
    if (ttl === undefined) continue;
    await client
      .send(
        new UpdateTimeToLiveCommand({
          TableName: input.TableName,
          TimeToLiveSpecification: { AttributeName: ttl, Enabled: true },
        }),
      )
      .catch(() => undefined); // already enabled
  }
}
