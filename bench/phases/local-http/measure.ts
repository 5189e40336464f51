import {
  deliverLikeTerra,
  type MixDelivery,
  mixOf,
  population,
  terraHeaders,
} from '../../../test/helpers/traffic.ts';
import { drive, type Throughput, throughput } from '../../support/drive.ts';
import { SIGNING_SECRET } from '../webhook/measure.ts';
import { withLocalStack } from './stack.ts';

/**
 * The webhook through local mode's HTTP adapter (requirement 4, second half): the same Terra-like mix
 * over the same number of connected users, at the same concurrencies, each delivery signed and POSTed
 * by this process to the stack in its child.
 */
export interface HttpRow extends Throughput {
  concurrency: number;
  statuses: Record<string, number>;
}

export async function measureHttp(options: {
  events: number;
  users: number;
  concurrencies: number[];
}): Promise<HttpRow[]> {
  return withLocalStack(SIGNING_SECRET, async ({ webhookUrl }) => {
    const people = population(options.users, `hp${process.pid}`);
    await deliverLikeTerra({ webhookUrl, secret: SIGNING_SECRET, deliveries: people.auths, concurrency: 16 });
    const post = async (
      delivery: MixDelivery,
      headers: Record<string, string>,
      statuses: Record<string, number>,
    ) => {
      const response = await fetch(webhookUrl, { method: 'POST', headers, body: delivery.body });
      await response.arrayBuffer();
      statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    };
    // Warm the adapter, the handler and the connection pool.
    const warm = mixOf({ count: 200, seed: 500, prefix: `hw${process.pid}`, users: people.users });
    await drive(warm, 8, (d) => post(d, terraHeaders(d, SIGNING_SECRET), {}));
    const rows: HttpRow[] = [];
    for (const [i, concurrency] of options.concurrencies.entries()) {
      const deliveries = mixOf({
        count: options.events,
        seed: 600 + i,
        prefix: `h${i}-${process.pid}`,
        users: people.users,
      });
      const signed = deliveries.map((d) => ({ d, headers: terraHeaders(d, SIGNING_SECRET) }));
      const statuses: Record<string, number> = {};
      const run = await drive(signed, concurrency, ({ d, headers }) => post(d, headers, statuses));
      rows.push({ concurrency, ...throughput([run]), statuses });
    }
    return rows;
  });
}
