import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import {
  type BusEvent,
  EVENT_SOURCE,
  type EventBus,
  entryBytes,
  MAX_ENTRY_BYTES,
} from '#shared/events/bus-events';

/**
 * The app's events on an EventBridge custom bus. PutEvents takes at most 10 entries and 256 KB per call
 * and may refuse some entries of a call (throttling, internal errors): those are retried with backoff,
 * and what is still refused is handed back for the dead-letter queue.
 */
const MAX_ENTRIES = 10;
const ATTEMPTS = 3;

export class EventBridgeBus implements EventBus {
  private readonly client: EventBridgeClient;

  constructor(
    private readonly busName: string,
    client?: EventBridgeClient,
  ) {
    this.client = client ?? new EventBridgeClient({ maxAttempts: 3 });
  }

  async publish(events: readonly BusEvent[]): Promise<BusEvent[]> {
    const refused: BusEvent[] = [];
    for (const batch of batches(events)) {
      let pending = batch;
      for (let attempt = 1; pending.length > 0 && attempt <= ATTEMPTS; attempt++) {
        if (attempt > 1)
          await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt * Math.random()));
        const result = await this.client.send(
          new PutEventsCommand({ Entries: pending.map((event) => this.entry(event)) }),
        );
        if (!result.FailedEntryCount) pending = [];
        else pending = pending.filter((_, i) => result.Entries?.[i]?.ErrorCode !== undefined);
      }
      refused.push(...pending);
    }
    return refused;
  }

  private entry(event: BusEvent): PutEventsRequestEntry {
    return {
      EventBusName: this.busName,
      Source: EVENT_SOURCE,
      DetailType: event.detailType,
      Detail: JSON.stringify(event.detail),
    };
  }
}

/** Groups events into PutEvents calls: 10 entries, 256 KB. */
function batches(events: readonly BusEvent[]): BusEvent[][] {
  const groups: BusEvent[][] = [];
  let current: BusEvent[] = [];
  let size = 0;
  for (const event of events) {
    const bytes = entryBytes(event);
    if (current.length === MAX_ENTRIES || (current.length > 0 && size + bytes > MAX_ENTRY_BYTES)) {
      groups.push(current);
      current = [];
      size = 0;
    }
    current.push(event);
    size += bytes;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}
