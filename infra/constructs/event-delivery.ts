import { Duration, Validations } from 'aws-cdk-lib';
import { EventBus, type IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { FilterCriteria, FilterRule, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { EVENT_SOURCE } from '#shared/events/bus-events';
import type { BuildFunction } from '../functions.ts';
import type { Monitoring } from './monitoring.ts';
import { DATA_PREFIXES, type Storage } from './storage.ts';
import type { TerraFunction } from './terra-function.ts';

export interface EventDeliveryProps {
  storage: Storage;
  monitoring: Monitoring;
  /** Builds the publisher and the backfill as the manifest says; the streams and the bus are wired here. */
  build: BuildFunction;
  /** One example subscription (a rule to an SQS queue with a dead-letter queue); on by default. */
  exampleSubscription: boolean;
  /** The app's own bus (same account and region) instead of one of our own. */
  bus?: IEventBus;
}

const QUEUE_DEFAULTS = { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true } as const;

/**
 * Events for the app (docs/architecture.md, "Events for the app"): the custom bus, the outbox publisher
 * reading both tables' streams, backfill on connect reading the connections stream, the dead-letter
 * queue both share, an example subscription, and the read-only policy a consumer attaches.
 */
export class EventDelivery extends Construct {
  readonly bus: IEventBus;
  readonly deadLetters: Queue;
  readonly publisher: TerraFunction;
  readonly backfill: TerraFunction;
  readonly consumerPolicy: ManagedPolicy;
  /** The example subscription's queue, when there is one. */
  readonly appEvents?: Queue;

  constructor(scope: Construct, id: string, props: EventDeliveryProps) {
    super(scope, id);
    const { storage, monitoring } = props;
    this.bus =
      props.bus ??
      new EventBus(this, 'Bus', { description: 'terra-connect: events for the app (source terra-connect)' });

    this.deadLetters = new Queue(this, 'DeadLetters', {
      ...QUEUE_DEFAULTS,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetters).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is the dead-letter queue: events the bus refused and stream batches that failed.',
    });

    // The outbox publisher: both streams, in order per shard; a failed record is reported and retried.
    this.publisher = props.build(this, 'publisher', {
      EVENT_BUS_NAME: this.bus.eventBusName,
      DEAD_LETTER_QUEUE_URL: this.deadLetters.queueUrl,
    });
    const stream = {
      startingPosition: StartingPosition.TRIM_HORIZON,
      batchSize: 100,
      maxBatchingWindow: Duration.seconds(1),
      retryAttempts: 10,
      reportBatchItemFailures: true,
      onFailure: new SqsDlq(this.deadLetters),
    };
    this.publisher.function.addEventSource(
      new DynamoEventSource(storage.connections, {
        ...stream,
        // Removals (a deletion removing records, a record moving to another app user) tell the app
        // nothing: a deletion is announced once, by its job reaching `done` in the inbox.
        filters: [FilterCriteria.filter({ eventName: FilterRule.or('INSERT', 'MODIFY') })],
      }),
    );
    this.publisher.function.addEventSource(
      new DynamoEventSource(storage.inbox, {
        ...stream,
        filters: [
          FilterCriteria.filter({
            dynamodb: { NewImage: { status: { S: FilterRule.isEqual('processed') } } },
          }),
          FilterCriteria.filter({ dynamodb: { NewImage: { status: { S: FilterRule.isEqual('done') } } } }),
          // Data requests (`request#…`) reaching complete or failed: `terra.backfill`.
          FilterCriteria.filter({
            dynamodb: {
              Keys: { event_id: { S: FilterRule.beginsWith('request#') } },
              NewImage: { status: { S: FilterRule.or('complete', 'failed') } },
            },
          }),
        ],
      }),
    );
    this.bus.grantPutEventsTo(this.publisher);
    this.deadLetters.grantSendMessages(this.publisher);

    // Backfill on connect: the connections stream, active records only; it talks to Terra, patiently.
    this.backfill = props.build(this, 'backfill');
    this.backfill.function.addEventSource(
      new DynamoEventSource(storage.connections, {
        ...stream,
        batchSize: 10,
        filters: [
          FilterCriteria.filter({
            eventName: FilterRule.or('INSERT', 'MODIFY'),
            dynamodb: {
              NewImage: {
                status: { S: FilterRule.isEqual('active') },
              },
            },
          }),
        ],
      }),
    );

    for (const [name, fn] of [
      ['publisher', this.publisher],
      ['backfill', this.backfill],
    ] as const) {
      monitoring.watchStream(name, fn.function);
    }
    monitoring.watchQueue(
      'events-dead-letters',
      this.deadLetters,
      'Events the app should have received are waiting in the dead-letter queue: npm run ops -- redrive.',
    );

    // What a consumer needs beyond its subscription: the payloads behind terra.data's claim check.
    this.consumerPolicy = new ManagedPolicy(this, 'ConsumerPolicy', {
      description:
        'terra-connect: read archived payloads (the claim check of terra.data events), nothing else',
      statements: [
        new PolicyStatement({
          actions: ['s3:GetObject'],
          resources: DATA_PREFIXES.map((prefix) => storage.archive.arnForObjects(prefix)),
        }),
      ],
    });
    storage.acknowledgePrefixes(
      this.consumerPolicy,
      DATA_PREFIXES,
      'A consumer reads any payload a terra.data event points at: under users/, or unattributed/ for one that was parked.',
    );

    if (props.exampleSubscription) {
      const failed = new Queue(this, 'AppEventsDeadLetters', {
        ...QUEUE_DEFAULTS,
        retentionPeriod: Duration.days(14),
      });
      Validations.of(failed).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason: 'The example subscription’s dead-letter queue.',
      });
      this.appEvents = new Queue(this, 'AppEvents', {
        ...QUEUE_DEFAULTS,
        retentionPeriod: Duration.days(4),
        deadLetterQueue: { queue: failed, maxReceiveCount: 5 },
      });
      new Rule(this, 'AppEventsRule', {
        eventBus: this.bus,
        description: 'Example subscription: every terra-connect event into a queue the app consumes',
        eventPattern: { source: [EVENT_SOURCE] },
        targets: [new SqsQueue(this.appEvents, { deadLetterQueue: failed, retryAttempts: 8 })],
      });
    }
  }
}
