import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { CheckpointPort, ReconcileCheckpoint } from '#shared/connections/reconcile';
import { CHECKPOINT_ID } from './tables.ts';

/**
 * Where an interrupted reconcile resumes: one item in the inbox table under a reserved id (the stack
 * grants the reconcile function that key and no other), expiring after a day so a stale run is not
 * resumed forever.
 */
export class CheckpointStore implements CheckpointPort {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly now: () => number = Date.now,
  ) {}

  async load(): Promise<ReconcileCheckpoint | undefined> {
    const result = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { event_id: CHECKPOINT_ID }, ConsistentRead: true }),
    );
    return result.Item?.checkpoint as ReconcileCheckpoint | undefined;
  }

  async save(checkpoint: ReconcileCheckpoint): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.table,
        Item: { event_id: CHECKPOINT_ID, checkpoint, expires_at: Math.floor(this.now() / 1000) + 86_400 },
      }),
    );
  }

  async clear(): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.table, Key: { event_id: CHECKPOINT_ID } }));
  }
}
