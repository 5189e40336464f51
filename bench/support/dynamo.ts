import { type DynamoLocal, localClient, startDynamoLocal } from '#local/dynamodb';
import { ensureTables } from '#local/tables';
import { track } from './children.ts';

/**
 * DynamoDB Local (in memory, on a free port, in its own process group) for the duration of `run`,
 * stopped on the way out whatever happens; Ctrl-C is handled by children.ts's registry.
 */
export async function withDynamo<T>(run: (dynamo: DynamoLocal) => Promise<T>): Promise<T> {
  const dynamo = await startDynamoLocal();
  const stop = track(() => dynamo.stop());
  try {
    return await run(dynamo);
  } finally {
    await stop();
  }
}

export interface Tables {
  connectionsTable: string;
  inboxTable: string;
}

/** A fresh pair of tables (the project's own definitions) under a unique name. */
export async function freshTables(endpoint: string, name: string): Promise<Tables> {
  const suffix = `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  const tables = { connectionsTable: `${name}-${suffix}-connections`, inboxTable: `${name}-${suffix}-inbox` };
  const admin = localClient(endpoint);
  try {
    await ensureTables(admin, tables);
  } finally {
    admin.destroy();
  }
  return tables;
}
