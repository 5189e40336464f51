import { randomUUID } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { inject } from 'vitest';
import { localClient } from '#local/dynamodb';
import { ensureTables } from '#local/tables';
import { createDocumentClient } from '#shared/store/client';
import { itemsByAttention } from '#shared/store/conditions';

export interface TestTables {
  endpoint: string;
  connectionsTable: string;
  inboxTable: string;
  doc: DynamoDBDocumentClient;
}

/** Fresh, uniquely named tables in the run's DynamoDB Local. */
export async function createTestTables(): Promise<TestTables> {
  const endpoint = inject('dynamoEndpoint');
  const suffix = randomUUID().slice(0, 8);
  const names = { connectionsTable: `connections-${suffix}`, inboxTable: `inbox-${suffix}` };
  const admin = localClient(endpoint);
  await ensureTables(admin, names);
  admin.destroy();
  return { endpoint, ...names, doc: createDocumentClient({ dynamoEndpoint: endpoint }) };
}

/** The Terra users with parked deliveries in an inbox table, read as deletion reads them. */
export async function parkedUsers(doc: DynamoDBDocumentClient, inboxTable: string): Promise<string[]> {
  const parked = await itemsByAttention(doc, inboxTable, 'parked');
  return [...new Set(parked.map((item) => String(item.user_id ?? '')))].filter(Boolean).sort();
}
