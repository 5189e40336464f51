import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { SdkClaims } from '#shared/connections/ports';
import { isConditionFailure } from './conditions.ts';
import { RESERVED } from './tables.ts';

/**
 * An app user's pending claim on SDK connections (shared/connections/sdk-claims.ts): one inbox item under
 * `sdk#<reference_id>` with `claim_until` (epoch ms), which decides, and `expires_at` for DynamoDB's TTL,
 * which only tidies up (it deletes up to days late). `POST /sdk-token` may only put these items; the
 * webhook and `GET /connections?refresh=true` read them.
 */
export class SdkClaimStore implements SdkClaims {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly now: () => number = Date.now,
  ) {}

  async open(reference_id: string, until: number): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            event_id: RESERVED.sdkClaim(reference_id),
            reference_id,
            claim_until: until,
            expires_at: Math.ceil(until / 1000),
          },
          // Two tokens minted close together (two functions' clocks): the later end stands.
          ConditionExpression: 'attribute_not_exists(event_id) OR claim_until < :until',
          ExpressionAttributeValues: { ':until': until },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  async live(reference_id: string): Promise<boolean> {
    const result = await this.doc.send(
      new GetCommand({
        TableName: this.table,
        Key: { event_id: RESERVED.sdkClaim(reference_id) },
        ConsistentRead: true,
      }),
    );
    const until = result.Item?.claim_until;
    return typeof until === 'number' && until > this.now();
  }
}
