import { SqsDeadLetters } from '#shared/aws/dead-letters';
import { EventBridgeBus } from '#shared/aws/event-bus';
import { type Env, SECTIONS } from '#shared/config';
import type { PublisherDeps } from '#shared/events/publisher';
import { logger } from '#shared/log';
import { BackfillStore } from '#shared/store/backfill';
import { DeliveryStore } from '#shared/store/deliveries';
import { storeWiring } from './store.ts';
import { archiveOf } from './webhook.ts';

/** The stream publisher in AWS: EventBridge, its dead-letter queue, the tables and the archive. */
export function publisherDeps(
  env: Env,
): PublisherDeps & { tables: { connectionsTable: string; inboxTable: string } } {
  const store = storeWiring(env);
  const events = SECTIONS.events.read(env);
  return {
    bus: new EventBridgeBus(events.busName),
    deadLetters: new SqsDeadLetters(events.deadLetterQueueUrl),
    records: store.connections,
    requests: new BackfillStore(store.doc, store.config),
    parked: new DeliveryStore(store.doc, store.config.inboxTable, store.connections, {
      ...SECTIONS.inbox.read(env),
      now: Date.now,
    }),
    archive: archiveOf(SECTIONS.archive.read(env)),
    log: logger,
    tables: store.config,
  };
}
