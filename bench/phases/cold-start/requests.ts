import { randomUUID } from 'node:crypto';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { dataEvent, padToBytes } from '#sandbox/payloads';
import type { ConnectionEvent } from '#shared/connections/model';
import type { FunctionEntry } from '#shared/handlers/manifest';
import { terraHeaders, terraUser } from '../../../test/helpers/traffic.ts';
import { apiGatewayEvent, jwtClaims, scheduledEvent, webhookEvent } from '../../support/events.ts';
import type { ColdAnswer } from './child.ts';

/**
 * The realistic request each function answers first in its cold start, keyed by entry name (the
 * file under `functions/`). A new function gets measured once it has an entry here; until then the
 * run lists it as skipped and says why. What a request needs beforehand (a user at Terra, a record
 * in its table) is made before the process starts, outside the timing.
 */
export interface Fixture {
  /** This function's own tables, so that one function's records never slow another's scan. */
  tables: { connectionsTable: string; inboxTable: string };
  signingSecret: string;
  /** Applies events to this function's connections table (the store's own code, outside the timing). */
  seed(events: ConnectionEvent[]): Promise<void>;
  /** A user connected at the Terra sandbox for this app user; answers its Terra user_id. */
  connectAtTerra(referenceId: string): Promise<string>;
  /** Removes a user at the sandbox, as Terra's deauthenticateUser. */
  removeAtTerra(userId: string): Promise<void>;
  /** Puts an object in the S3 stand-in, as the webhook archived it. */
  putObject(key: string, body: Buffer): void;
  /** Entries EventBridge has accepted so far. */
  published(): number;
}

export interface Sample {
  event: unknown;
  /** Undefined when the answer is the one a working function gives; else what is wrong with it. */
  check(answer: ColdAnswer | undefined): string | undefined;
  cleanup?(): Promise<void>;
}

export interface RealisticRequest {
  describe: string;
  /** Also measured warm: after the first answer, WARM_REQUESTS more of the same request (measure.ts). */
  warm?: true;
  setup?(fixture: Fixture): Promise<void>;
  next(fixture: Fixture): Promise<Sample>;
}

const WEBHOOK_USER = 'bench-webhook-user';
const APP_USER = 'bench-app-user';
const LIST_USER = 'bench-list-user';

const authenticated = (user_id: string, reference_id: string): ConnectionEvent => ({
  user_id,
  reference_id,
  provider: 'GARMIN',
  event_id: `bench-seed-${randomUUID()}`,
  at: Date.now() - 60_000,
  change: { kind: 'authenticated', scopes: ['ACTIVITY_EXPORT', 'HEALTH_EXPORT'] },
});

function expectStatus(status: number, more?: (answer: ColdAnswer) => string | undefined) {
  return (answer: ColdAnswer | undefined) => {
    if (answer?.statusCode !== status)
      return `answered ${answer?.statusCode ?? 'nothing'} (${answer?.body?.slice(0, 160) ?? ''}), expected ${status}`;
    return more?.(answer);
  };
}

const bodyJson = (answer: ColdAnswer): Record<string, unknown> => {
  try {
    return JSON.parse(answer.body ?? '{}') as Record<string, unknown>;
  } catch {
    return {};
  }
};

/** Heart-rate samples until the activity event is 8 KB, as a detailed data event is. */
const ACTIVITY_8KB = padToBytes(dataEvent('activity', terraUser(WEBHOOK_USER, APP_USER)), 8 * 1024);

const json = { 'content-type': 'application/json' };

/** A batch of DynamoDB stream records, as Lambda's event source mapping hands it over. */
function streamEvent(
  table: string,
  changes: Array<{
    eventName: 'INSERT' | 'MODIFY';
    keys: Record<string, unknown>;
    image: Record<string, unknown>;
  }>,
): DynamoDBStreamEvent {
  const now = Math.floor(Date.now() / 1000);
  return {
    Records: changes.map((change, i) => {
      const NewImage = marshall(change.image, { removeUndefinedValues: true }) as NonNullable<
        NonNullable<DynamoDBStreamEvent['Records'][number]['dynamodb']>['NewImage']
      >;
      return {
        eventID: randomUUID().replace(/-/g, ''),
        eventName: change.eventName,
        eventVersion: '1.1',
        eventSource: 'aws:dynamodb',
        awsRegion: 'us-east-1',
        dynamodb: {
          ApproximateCreationDateTime: now,
          Keys: marshall(change.keys) as typeof NewImage,
          NewImage,
          SequenceNumber: `${now}${String(i).padStart(6, '0')}00000000000000`,
          SizeBytes: JSON.stringify(change.image).length,
          StreamViewType: 'NEW_AND_OLD_IMAGES',
        },
        eventSourceARN: `arn:aws:dynamodb:us-east-1:123456789012:table/${table}/stream/2026-12-01T00:00:00.000`,
      };
    }),
  };
}

const batchAnswer = (answer: ColdAnswer | undefined): string | undefined => {
  const failures = (JSON.parse(answer?.body ?? '{}') as { batchItemFailures?: unknown[] }).batchItemFailures;
  if (!Array.isArray(failures)) return `answered ${answer?.body?.slice(0, 160)}`;
  return failures.length === 0 ? undefined : `reported ${failures.length} failed record(s)`;
};

const PUBLISHER_USER = 'bench-publisher-user';

// Keyed by the manifest's entries: a request for a function that does not exist does not compile.
export const REQUESTS: Readonly<Record<string, RealisticRequest>> = {
  'terra-webhook': {
    describe: 'one signed 8 KB activity delivery for a connected user',
    setup: (f) => f.seed([authenticated(WEBHOOK_USER, APP_USER)]),
    async next(f) {
      const at = Date.now();
      const body = JSON.stringify({
        ...ACTIVITY_8KB,
        user: { ...terraUser(WEBHOOK_USER, APP_USER), last_webhook_update: new Date(at).toISOString() },
      });
      const delivery = { trace_id: randomUUID(), at, body };
      return {
        event: webhookEvent(body, terraHeaders(delivery, f.signingSecret)),
        check: expectStatus(200, (answer) =>
          bodyJson(answer).outcome === 'processed'
            ? undefined
            : `outcome ${String(bodyJson(answer).outcome)}`,
        ),
      };
    },
  },
  'create-session': {
    describe: 'POST /sessions for two providers, JWT-authorized: a widget session at Terra',
    async next() {
      const body = JSON.stringify({ providers: ['GARMIN', 'OURA'], language: 'en' });
      return {
        event: apiGatewayEvent({ entry: 'create-session', body, headers: json, claims: jwtClaims(APP_USER) }),
        check: expectStatus(201),
      };
    },
  },
  'create-connection': {
    describe: 'POST /connections {provider: GARMIN}, JWT-authorized: a login link at Terra, a pending record',
    async next() {
      const body = JSON.stringify({ provider: 'GARMIN' });
      return {
        event: apiGatewayEvent({
          entry: 'create-connection',
          body,
          headers: json,
          claims: jwtClaims(APP_USER),
        }),
        check: expectStatus(201),
      };
    },
  },
  'list-connections': {
    describe: 'GET /connections, JWT-authorized, for an app user with 3 connections',
    warm: true,
    setup: (f) => f.seed(['oura', 'garmin', 'whoop'].map((p) => authenticated(`bench-list-${p}`, LIST_USER))),
    async next() {
      return {
        event: apiGatewayEvent({ entry: 'list-connections', claims: jwtClaims(LIST_USER) }),
        check: expectStatus(200, (answer) => {
          const listed = (bodyJson(answer).connections as unknown[] | undefined)?.length;
          return listed === 3 ? undefined : `listed ${listed} connections, expected 3`;
        }),
      };
    },
  },
  'delete-connection': {
    describe: 'DELETE /connections/{user_id}, JWT-authorized: deauthenticated at Terra, recorded',
    async next(f) {
      const reference = `bench-delete-${randomUUID().slice(0, 8)}`;
      const userId = await f.connectAtTerra(reference);
      await f.seed([authenticated(userId, reference)]);
      return {
        event: apiGatewayEvent({
          entry: 'delete-connection',
          path: `/connections/${userId}`,
          pathParameters: { user_id: userId },
          claims: jwtClaims(reference),
        }),
        check: expectStatus(204),
      };
    },
  },
  'list-providers': {
    describe: "GET /providers, JWT-authorized: Terra's catalogue",
    async next() {
      return {
        event: apiGatewayEvent({ entry: 'list-providers', claims: jwtClaims(APP_USER) }),
        check: expectStatus(200),
      };
    },
  },
  'create-sdk-token': {
    describe: "POST /sdk-token, JWT-authorized: a token for Terra's mobile SDK",
    async next() {
      return {
        event: apiGatewayEvent({ entry: 'create-sdk-token', claims: jwtClaims(APP_USER) }),
        check: expectStatus(201),
      };
    },
  },
  'terra-callback': {
    describe: 'GET /callbacks/terra/success after a login: confirmed at Terra, recorded, 302',
    async next(f) {
      const reference = `bench-callback-${randomUUID().slice(0, 8)}`;
      const userId = await f.connectAtTerra(reference);
      // As create-connection left it: pending until Terra confirms.
      await f.seed([{ ...authenticated(userId, reference), change: { kind: 'pending' } }]);
      return {
        event: apiGatewayEvent({
          entry: 'terra-callback',
          path: '/callbacks/terra/success',
          pathParameters: { outcome: 'success' },
          query: { redirect: 'web', user_id: userId, resource: 'GARMIN', reference_id: reference },
          userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Safari/605.1.15',
        }),
        check: expectStatus(302, (answer) => {
          const location = answer.headers?.location ?? '';
          return /status=active/.test(location) ? undefined : `redirected to ${location}`;
        }),
        cleanup: () => f.removeAtTerra(userId),
      };
    },
  },
  reconcile: {
    describe: 'the scheduled run over 20 Terra users, all already in the table',
    async setup(f) {
      const events: ConnectionEvent[] = [];
      for (let i = 0; i < 20; i++) {
        const reference = `bench-reconcile-${i}`;
        events.push(authenticated(await f.connectAtTerra(reference), reference));
      }
      await f.seed(events);
    },
    async next() {
      return {
        event: scheduledEvent('TerraConnect-ReconcileSchedule'),
        check: (answer) => {
          const report = answer?.body ? (JSON.parse(answer.body) as Record<string, unknown>) : {};
          if (report.finished !== true) return `did not finish: ${answer?.body?.slice(0, 160)}`;
          return report.failed === 0 ? undefined : `${String(report.failed)} users failed`;
        },
      };
    },
  },
  publisher: {
    describe:
      'a stream batch with one processed 8 KB activity delivery: owner read, payload inlined from S3, PutEvents',
    setup: (f) => f.seed([authenticated(PUBLISHER_USER, APP_USER)]),
    async next(f) {
      const at = Date.now();
      const event_id = randomUUID();
      const body = Buffer.from(
        JSON.stringify({ ...ACTIVITY_8KB, user: terraUser(PUBLISHER_USER, APP_USER) }),
      );
      const archive_key = `delivery/${PUBLISHER_USER}/${new Date(at).toISOString().slice(0, 10)}/${event_id}.json`;
      f.putObject(archive_key, body);
      const published = f.published();
      return {
        event: streamEvent(f.tables.inboxTable, [
          {
            eventName: 'INSERT',
            keys: { event_id },
            image: {
              event_id,
              type: 'activity',
              archive_key,
              bytes: body.length,
              received_at: new Date(at).toISOString(),
              at,
              signed_at: Math.floor(at / 1000),
              user_id: PUBLISHER_USER,
              reference_id: APP_USER,
              provider: 'GARMIN',
              data: true,
              status: 'processed',
              outcome: 'applied',
              attempts: 1,
              expires_at: Math.floor(at / 1000) + 30 * 86_400,
            },
          },
        ]),
        check: (answer) =>
          batchAnswer(answer) ??
          (f.published() - published === 1
            ? undefined
            : `published ${f.published() - published} events, expected 1`),
      };
    },
  },
  backfill: {
    describe:
      "a connections-stream batch with one newly active user: the plan claimed, Terra's data endpoints asked",
    async next(f) {
      const reference = `bench-backfill-${randomUUID().slice(0, 8)}`;
      const userId = await f.connectAtTerra(reference);
      const seeded = authenticated(userId, reference);
      await f.seed([seeded]);
      const at = new Date(seeded.at).toISOString();
      return {
        event: streamEvent(f.tables.connectionsTable, [
          {
            eventName: 'INSERT',
            keys: { reference_id: reference, user_id: userId },
            image: {
              user_id: userId,
              reference_id: reference,
              provider: 'GARMIN',
              status: 'active',
              scopes: ['ACTIVITY_EXPORT', 'HEALTH_EXPORT'],
              created_at: at,
              updated_at: at,
              clock: {},
              scopes_base: ['ACTIVITY_EXPORT', 'HEALTH_EXPORT'],
              scope_changes: {},
              version: 1,
            },
          },
        ]),
        check: batchAnswer,
        cleanup: () => f.removeAtTerra(userId),
      };
    },
  },
} satisfies Partial<Record<FunctionEntry, RealisticRequest>>;
