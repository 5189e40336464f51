import type { ConnectionRecord } from '#shared/connections/model';
import { toConnection } from '#shared/connections/model';
import { applyEvent } from '#shared/connections/transitions';
import { createDocumentClient } from '#shared/store/client';
import {
  checkAgainstReference,
  type DriveReport,
  deliverLikeTerra,
  expectedConnections,
  mixOf,
  population,
  type ReferenceModel,
} from '../../test/helpers/traffic.ts';
import { round } from '../support/stats.ts';
import { withLocalStack } from './local-http/stack.ts';
import { SIGNING_SECRET } from './webhook/measure.ts';

/**
 * A burst (requirement 6): the Terra-like mix sent to local mode as fast as it accepts it, with Terra's
 * habits (each attempt freshly signed; anything but a 2xx retried), over users connected beforehand.
 * Reports the time until every delivery was accepted, the answers other than 200 by status, and
 * whether anything was lost: every distinct delivery has its inbox item, and every record the model
 * expects is there and equal.
 *
 * The model here is the state machine itself applied once to each distinct event, in order
 * (shared/connections/transitions.ts), not the property tests' independent model, which lives under
 * test/ and so may not be imported here. That still finds a lost, doubled or misapplied delivery; the
 * property tests are what hold the state machine to the spec.
 */
export const stateMachineModel: ReferenceModel = (events) => {
  let record: ConnectionRecord | undefined;
  for (const event of events) record = applyEvent(record, event);
  return record && toConnection(record);
};

export interface BurstResult {
  deliveries: number;
  distinct: number;
  concurrency: number;
  users: number;
  drainMs: number;
  deliveriesPerSec: number;
  report: DriveReport;
  /** First attempts answered other than 200, by status. */
  not200: Record<string, number>;
  check: {
    unrecorded: number;
    missing: number;
    wrong: number;
    inboxNotDone: number;
    inboxItems: number;
    expectedRecords: number;
  };
  lost: boolean;
  model: string;
}

export async function measureBurst(options: {
  events: number;
  concurrency: number;
  users: number;
}): Promise<BurstResult> {
  return withLocalStack(SIGNING_SECRET, async ({ webhookUrl, endpoint, tables }) => {
    const people = population(options.users, `bp${process.pid}`);
    await deliverLikeTerra({ webhookUrl, secret: SIGNING_SECRET, deliveries: people.auths, concurrency: 16 });
    const burst = mixOf({
      count: options.events,
      seed: 4242,
      prefix: `b${process.pid}`,
      users: people.users,
    });
    const started = performance.now();
    const report = await deliverLikeTerra({
      webhookUrl,
      secret: SIGNING_SECRET,
      deliveries: burst,
      concurrency: options.concurrency,
      retryDelayMs: 250,
      maxAttempts: 40,
    });
    const drainMs = performance.now() - started;
    const all = [...people.auths, ...burst];
    const expected = expectedConnections(all, stateMachineModel);
    const doc = createDocumentClient({ dynamoEndpoint: endpoint });
    try {
      const check = await checkAgainstReference(doc, tables.connectionsTable, tables.inboxTable, {
        deliveries: all,
        expected,
      });
      const not200 = Object.fromEntries(
        Object.entries(report.firstAttempt).filter(([status]) => status !== '200'),
      );
      const distinct = new Set(burst.map((d) => d.trace_id)).size;
      return {
        deliveries: burst.length,
        distinct,
        concurrency: options.concurrency,
        users: options.users,
        drainMs: round(drainMs, 0),
        deliveriesPerSec: round((burst.length / drainMs) * 1000, 1),
        report,
        not200,
        check: {
          unrecorded: check.unrecorded.length,
          missing: check.missing.length,
          wrong: check.wrong.length,
          inboxNotDone: check.inboxNotDone,
          inboxItems: check.inboxItems,
          expectedRecords: expected.size,
        },
        lost:
          report.lost > 0 ||
          check.unrecorded.length > 0 ||
          check.missing.length > 0 ||
          check.wrong.length > 0,
        model:
          'the state machine applied once per distinct event (not the independent reference model of test/property)',
      };
    } finally {
      doc.destroy();
    }
  });
}
