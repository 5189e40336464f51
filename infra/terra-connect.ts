import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { UserPool, UserPoolClient } from 'aws-cdk-lib/aws-cognito';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { type IEventBus, Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { CfnRegistry } from 'aws-cdk-lib/aws-eventschemas';
import type { IManagedPolicy } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FUNCTION_ENTRIES, FUNCTIONS, type FunctionEntry } from '#shared/handlers/manifest';
import { ROUTES } from '#shared/http/routes';
import { Deletion } from './constructs/deletion.ts';
import { EventDelivery } from './constructs/event-delivery.ts';
import { EventSchemas } from './constructs/event-schemas.ts';
import { TerraHttpApi } from './constructs/http-api.ts';
import { Monitoring } from './constructs/monitoring.ts';
import { type ExistingTables, Storage } from './constructs/storage.ts';
import { functionBuilder } from './functions.ts';
import { resolveSettings, type TerraConnectSettingsProps } from './terra-connect-props.ts';

export interface TerraConnectProps extends TerraConnectSettingsProps {
  /**
   * Terra's credentials: a secret holding JSON `{dev_id, api_key, signing_secret, signing_secret_previous?}`.
   * Without one, a secret is created with placeholders and a random signing secret, to be put after deploy.
   */
  readonly terraSecret?: ISecret;
  /** Your own bus (same account and region) for the events, instead of one created here. */
  readonly eventBus?: IEventBus;
  /**
   * Both tables as they already exist (e.g. retained by an earlier deployment), instead of new ones; each
   * must have exactly the shape this construct would create (README, "Use it in your app").
   */
  readonly existingTables?: ExistingTables;
}

/** A function's name: its entry under `functions/` (one per route, then those no route calls). */
export type TerraFunctionName =
  | 'terra-webhook'
  | 'create-session'
  | 'create-connection'
  | 'list-connections'
  | 'delete-connection'
  | 'list-providers'
  | 'create-sdk-token'
  | 'terra-callback'
  | 'delete-me'
  | 'get-deletion'
  | 'reconcile'
  | 'publisher'
  | 'backfill'
  | 'deletion-worker';

// Spelled out for the package's declarations; a function added to the manifest and not here, or
// the other way round, fails the type check.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const NAMES_MATCH: Same<TerraFunctionName, FunctionEntry> = true;

/** Every function, by name. */
export type TerraConnectFunctions = Readonly<Record<TerraFunctionName, IFunction>>;

/**
 * The whole backend as one construct, for an existing CDK app: storage, the Terra secret, one function
 * per route plus the reconcile, the outbox publisher, the backfill and the deletion worker, the app's
 * events, the HTTP API and alarms. Its parts are public so the app can wire further: subscribe to the
 * bus, grant its own services reads, alarm on its own terms.
 */
export class TerraConnect extends Construct {
  /** Where the app's events arrive (source `terra-connect`). */
  readonly eventBus: IEventBus;
  /** Keyed `reference_id` (your user) + `user_id` (the Terra user), keys-only index `byUserId`, a stream. */
  readonly connectionsTable: ITableV2;
  /** Deliveries, owner guards, data requests, deletion jobs (docs/architecture.md, "Inbox table"). */
  readonly inboxTable: ITableV2;
  /** Every delivery as received; `terra.data` events point into it when their payload is too large. */
  readonly archiveBucket: IBucket;
  readonly httpApi: HttpApi;
  /** The API's base URL, without a trailing slash. */
  readonly apiUrl: string;
  /** What to paste into Terra's dashboard → Destinations. */
  readonly webhookUrl: string;
  readonly functions: TerraConnectFunctions;
  readonly terraSecret: ISecret;
  /** Every alarm's action: subscribe to it. */
  readonly alarmTopic: ITopic;
  /** Reads the payloads behind `terra.data`'s claim check and nothing else: attach it to a consumer. */
  readonly consumerPolicy: IManagedPolicy;
  /** The events' JSON Schemas (`terra-connect@<detail-type>`), where the account's consumers look them up. */
  readonly eventSchemaRegistry: CfnRegistry;
  /** Events the bus refused and stream batches that failed (`npm run ops -- redrive`). */
  readonly deadLetterQueue: IQueue;
  /** Carries a deletion that did not finish inside `DELETE /me`. */
  readonly deletionQueue: IQueue;
  /** The example subscription's queue, unless `exampleSubscription` is false. */
  readonly appEventsQueue?: IQueue;
  /** The starter user pool and its client, when no identity provider is given. */
  readonly userPool?: UserPool;
  readonly userPoolClient?: UserPoolClient;

  constructor(scope: Construct, id: string, props: TerraConnectProps) {
    super(scope, id);
    void NAMES_MATCH;
    const { terraSecret: givenSecret, eventBus, existingTables, ...plain } = props;
    const settingsOf = resolveSettings(plain);

    const storage = new Storage(this, 'Storage', {
      archiveInfrequentAccessDays: settingsOf.archive.infrequentAccessDays,
      archiveGlacierDays: settingsOf.archive.glacierDays,
      archiveExpirationDays: settingsOf.archive.expirationDays,
      quarantineExpirationDays: settingsOf.archive.quarantineExpirationDays,
      ...(existingTables ? { existingTables } : {}),
    });

    const terraSecret = givenSecret ?? this.placeholderSecret();

    // Every setting the construct knows; each function gets only those its configuration sections read.
    const settings: Record<string, string> = {
      CONNECTIONS_TABLE: storage.connections.tableName,
      INBOX_TABLE: storage.inbox.tableName,
      ARCHIVE_BUCKET: storage.archive.bucketName,
      TERRA_SECRET_ARN: terraSecret.secretArn,
      INBOX_TTL_DAYS: String(settingsOf.inboxTtlDays),
      TOMBSTONE_DAYS: String(settingsOf.tombstoneDays),
      REDIRECT_TARGETS: JSON.stringify(settingsOf.redirectTargets),
      ...(settingsOf.defaultRedirectTarget
        ? { DEFAULT_REDIRECT_TARGET: settingsOf.defaultRedirectTarget }
        : {}),
      ...(settingsOf.terraApiUrl ? { TERRA_API_URL: settingsOf.terraApiUrl } : {}),
      ...(settingsOf.terraWidgetMode ? { TERRA_WIDGET_MODE: settingsOf.terraWidgetMode } : {}),
    };
    const logRetention = settingsOf.logRetention;
    const monitoring = new Monitoring(this, 'Monitoring');
    const build = functionBuilder({
      storage,
      terraSecret,
      monitoring,
      logRetention,
      settings,
      webhookReservedConcurrency: settingsOf.webhookReservedConcurrency,
    });
    const deletion = new Deletion(this, 'Deletion', { monitoring, build });
    settings.DELETION_QUEUE_URL = deletion.queue.queueUrl;
    const routes = ROUTES.map((route) => {
      const fn = build(this, route.entry);
      // A route that deletes (`DELETE /me`) queues the steps that outlast its request.
      if (FUNCTIONS[route.entry].access.some((grant) => grant === 'deletion')) deletion.letStart(fn.function);
      if (route.entry === 'terra-webhook') monitoring.watchWebhook(fn.logGroup);
      return { ...route, function: fn.function };
    });

    let jwt = settingsOf.identityProvider;
    if (!jwt) {
      const pool = this.starterUserPool();
      const client = new UserPoolClient(this, 'UsersClient', { userPool: pool, generateSecret: false });
      jwt = {
        issuer: `https://cognito-idp.${Stack.of(this).region}.amazonaws.com/${pool.userPoolId}`,
        audience: [client.userPoolClientId],
      };
      this.userPool = pool;
      this.userPoolClient = client;
    }

    const http = new TerraHttpApi(this, 'Http', {
      routes,
      jwt,
      corsOrigins: settingsOf.corsOrigins,
      throttle: settingsOf.throttle,
      webhookThrottle: settingsOf.webhookThrottle,
      logRetention,
    });
    monitoring.watchApi(http.stage.metricServerError({ period: Duration.minutes(5) }));

    const reconciler = build(this, 'reconcile');
    new Rule(this, 'ReconcileSchedule', {
      schedule: Schedule.expression(settingsOf.reconcileSchedule),
      targets: [new LambdaFunction(reconciler.function, { retryAttempts: 0 })],
    });

    const events = new EventDelivery(this, 'Events', {
      storage,
      monitoring,
      build,
      exampleSubscription: settingsOf.exampleSubscription,
      ...(eventBus ? { bus: eventBus } : {}),
    });

    const schemas = new EventSchemas(this, 'EventSchemas');

    this.eventBus = events.bus;
    this.eventSchemaRegistry = schemas.registry;
    this.connectionsTable = storage.connections;
    this.inboxTable = storage.inbox;
    this.archiveBucket = storage.archive;
    this.httpApi = http.api;
    this.apiUrl = http.url;
    this.webhookUrl = `${http.url}/webhooks/terra`;
    this.terraSecret = terraSecret;
    this.alarmTopic = monitoring.topic;
    this.consumerPolicy = events.consumerPolicy;
    this.deadLetterQueue = events.deadLetters;
    this.deletionQueue = deletion.queue;
    if (events.appEvents) this.appEventsQueue = events.appEvents;
    const byEntry: Partial<Record<FunctionEntry, IFunction>> = Object.fromEntries([
      ...routes.map((route) => [route.entry, route.function] as const),
      ['reconcile', reconciler.function],
      ['publisher', events.publisher.function],
      ['backfill', events.backfill.function],
      ['deletion-worker', deletion.worker.function],
    ]);
    this.functions = everyFunction(byEntry);
  }

  /** Values are put after deploy (README, "Deploy"); the template holds only placeholders. */
  private placeholderSecret(): Secret {
    const secret = new Secret(this, 'TerraSecret', {
      description:
        'terra-connect: Terra dev_id, api_key, signing_secret (and signing_secret_previous while rotating)',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ dev_id: 'REPLACE_ME', api_key: 'REPLACE_ME' }),
        generateStringKey: 'signing_secret',
        excludePunctuation: true,
      },
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'Terra issues these credentials; they are rotated in Terra’s dashboard and then put here.',
    });
    return secret;
  }

  private starterUserPool(): UserPool {
    const pool = new UserPool(this, 'Users', {
      selfSignUpEnabled: false,
      passwordPolicy: {
        minLength: 12,
        requireDigits: true,
        requireLowercase: true,
        requireUppercase: true,
        requireSymbols: true,
      },
    });
    Validations.of(pool).acknowledge({
      id: 'AwsSolutions-COG2',
      reason: 'A starter pool for teams without an identity provider; MFA is their product decision.',
    });
    Validations.of(pool).acknowledge({
      id: 'AwsSolutions-COG8',
      reason: 'The Plus feature plan is a paid choice for the team that adopts this starter pool.',
    });
    Validations.of(pool).acknowledge({
      id: 'AwsSolutions-COG3',
      reason: 'Threat protection needs the Plus feature plan; teams enable it when they adopt this pool.',
    });
    return pool;
  }
}

/** Every entry of the manifest (shared/handlers/manifest.ts) has its function here, or the synth stops. */
function everyFunction(byEntry: Partial<Record<FunctionEntry, IFunction>>): TerraConnectFunctions {
  const missing = FUNCTION_ENTRIES.filter((entry) => !byEntry[entry]);
  if (missing.length > 0) throw new Error(`No function built for: ${missing.join(', ')}.`);
  return byEntry as TerraConnectFunctions;
}
