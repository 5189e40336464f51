import { CfnOutput, Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { UserPool, UserPoolClient } from 'aws-cdk-lib/aws-cognito';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { SECTIONS } from '#shared/config';
import { FUNCTION_CONFIG, type FunctionEntry, type SectionName } from '#shared/handlers/config-sections';
import { ROUTES } from '#shared/http/routes';
import { CHECKPOINT_ID } from '#shared/store/tables';
import { Deletion } from './constructs/deletion.ts';
import { EventDelivery } from './constructs/event-delivery.ts';
import { EventSchemas } from './constructs/event-schemas.ts';
import { TerraHttpApi } from './constructs/http-api.ts';
import { Monitoring } from './constructs/monitoring.ts';
import { Storage } from './constructs/storage.ts';
import { TerraFunction } from './constructs/terra-function.ts';

export interface RedirectTarget {
  success: string;
  failure: string;
}

export interface TerraConnectProps extends StackProps {
  /** The app's identity provider; without one the stack creates a Cognito user pool. */
  jwt?: { issuer: string; audience: string[] };
  /** Browser origins allowed to call the API; none by default (never `*`). */
  corsOrigins: string[];
  redirectTargets: Record<string, RedirectTarget>;
  defaultRedirectTarget?: string;
  terraApiUrl?: string;
  terraWidgetMode?: 'widget-api' | 'legacy';
  throttle: { rateLimit: number; burstLimit: number };
  webhookThrottle: { rateLimit: number; burstLimit: number };
  /** The webhook function's concurrency budget: the rest of the account's stays for the app routes. */
  webhookReservedConcurrency: number;
  /** EventBridge schedule of the reconcile, e.g. `rate(6 hours)`. */
  reconcileSchedule: string;
  logRetention: RetentionDays;
  /** The example subscription of the app's events (a rule to an SQS queue); on unless turned off. */
  exampleSubscription: boolean;
  /** How long delivery records (and their dedupe) are kept; how long tombstones of deleted users are. */
  inboxTtlDays: number;
  tombstoneDays: number;
  archive: {
    infrequentAccessDays: number;
    glacierDays: number;
    expirationDays: number;
    quarantineExpirationDays: number;
  };
}

type Grant =
  | 'records'
  | 'touch'
  | 'listing'
  | 'inbox'
  | 'archiveWrite'
  | 'deletion'
  | 'deletionStatus'
  | 'sdkClaimOpen'
  | 'sdkClaimRead';

/** What each function may touch besides its logs and the Terra secret (every function reads that). */
const ACCESS: Record<string, readonly Grant[]> = {
  'terra-webhook': ['records', 'touch', 'inbox', 'archiveWrite'],
  'terra-callback': ['records'],
  // `?refresh=true` applies what Terra says before listing; an SDK-only user only under the caller's claim.
  'list-connections': ['records', 'listing', 'sdkClaimRead'],
  'create-connection': ['records'],
  'delete-connection': ['records'],
  'create-session': [],
  'list-providers': [],
  // The token names no app user: the caller's claim is what binds the SDK connection to them.
  'create-sdk-token': ['sdkClaimOpen'],
  'delete-me': ['deletion'],
  'get-deletion': ['deletionStatus'],
};

/** The variables of the sections a function reads (shared/handlers/config-sections.ts), and no others. */
export function functionEnvironment(entry: string, settings: Record<string, string>): Record<string, string> {
  const sections: readonly SectionName[] | undefined = FUNCTION_CONFIG[entry as FunctionEntry];
  if (!sections) throw new Error(`No configuration sections declared for function '${entry}'.`);
  const wanted = new Set(sections.flatMap((name) => SECTIONS[name].variables));
  return Object.fromEntries(Object.entries(settings).filter(([name]) => wanted.has(name)));
}

/** Only functions that talk to Terra or check its signatures read the Terra secret. */
function readsTerraSecret(entry: string): boolean {
  const sections: readonly SectionName[] = FUNCTION_CONFIG[entry as FunctionEntry] ?? [];
  return sections.includes('terra') || sections.includes('webhook');
}

function grant(storage: Storage, fn: TerraFunction, grants: readonly Grant[]): void {
  for (const name of grants) {
    if (name === 'records') storage.grantRecordWrites(fn);
    if (name === 'touch') storage.grantRecordTouch(fn);
    if (name === 'listing') storage.grantRecordListing(fn);
    if (name === 'inbox') storage.grantInbox(fn);
    if (name === 'archiveWrite') storage.grantArchiveWrite(fn);
    if (name === 'deletion') storage.grantDeletion(fn);
    if (name === 'deletionStatus') storage.grantDeletionJobs(fn, ['dynamodb:GetItem']);
    if (name === 'sdkClaimOpen') storage.grantSdkClaims(fn, ['dynamodb:PutItem']);
    if (name === 'sdkClaimRead') storage.grantSdkClaims(fn, ['dynamodb:GetItem']);
  }
}

/** The whole backend: storage, the Terra secret, one function per route, the app's events, deletion, the API, alarms. */
export class TerraConnectStack extends Stack {
  constructor(scope: Construct, id: string, props: TerraConnectProps) {
    super(scope, id, props);

    const storage = new Storage(this, 'Storage', {
      archiveInfrequentAccessDays: props.archive.infrequentAccessDays,
      archiveGlacierDays: props.archive.glacierDays,
      archiveExpirationDays: props.archive.expirationDays,
      quarantineExpirationDays: props.archive.quarantineExpirationDays,
    });

    // Values are put after deploy (README, "Deploy"); the template holds only placeholders.
    const terraSecret = new Secret(this, 'TerraSecret', {
      description:
        'terra-connect: Terra dev_id, api_key, signing_secret (and signing_secret_previous while rotating)',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ dev_id: 'REPLACE_ME', api_key: 'REPLACE_ME' }),
        generateStringKey: 'signing_secret',
        excludePunctuation: true,
      },
    });
    Validations.of(terraSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'Terra issues these credentials; they are rotated in Terra’s dashboard and then put here.',
    });

    // Every setting the stack knows; each function gets only those its configuration sections read.
    const settings: Record<string, string> = {
      CONNECTIONS_TABLE: storage.connections.tableName,
      INBOX_TABLE: storage.inbox.tableName,
      ARCHIVE_BUCKET: storage.archive.bucketName,
      TERRA_SECRET_ARN: terraSecret.secretArn,
      INBOX_TTL_DAYS: String(props.inboxTtlDays),
      TOMBSTONE_DAYS: String(props.tombstoneDays),
      REDIRECT_TARGETS: JSON.stringify(props.redirectTargets),
      ...(props.defaultRedirectTarget ? { DEFAULT_REDIRECT_TARGET: props.defaultRedirectTarget } : {}),
      ...(props.terraApiUrl ? { TERRA_API_URL: props.terraApiUrl } : {}),
      ...(props.terraWidgetMode ? { TERRA_WIDGET_MODE: props.terraWidgetMode } : {}),
    };
    const environmentOf = (entry: string) => functionEnvironment(entry, settings);

    const monitoring = new Monitoring(this, 'Monitoring');
    const deletion = new Deletion(this, 'Deletion', {
      storage,
      terraSecret,
      monitoring,
      logRetention: props.logRetention,
      environmentOf: (entry, extra) => functionEnvironment(entry, { ...settings, ...extra }),
    });
    settings.DELETION_QUEUE_URL = deletion.queue.queueUrl;
    const routes = ROUTES.map((route) => {
      const access = ACCESS[route.entry];
      if (!access) throw new Error(`No access rules for function '${route.entry}'.`);
      const webhook = route.entry === 'terra-webhook';
      const fn = new TerraFunction(this, route.entry, {
        entry: route.entry,
        environment: environmentOf(route.entry),
        // Terra waits ~8 s for an answer; the receiver must fail (and be retried) well before.
        timeout: webhook ? Duration.seconds(5) : Duration.seconds(10),
        memorySize: webhook ? 1024 : 512,
        logRetention: props.logRetention,
        ...(webhook ? { reservedConcurrency: props.webhookReservedConcurrency } : {}),
        readsSecret: readsTerraSecret(route.entry),
      });
      if (readsTerraSecret(route.entry)) terraSecret.grantRead(fn);
      grant(storage, fn, access);
      if (access.includes('deletion')) deletion.letStart(fn.function);
      monitoring.watchFunction(route.entry, fn.function);
      if (webhook) monitoring.watchWebhook(fn.logGroup);
      return { ...route, function: fn.function };
    });

    let jwt = props.jwt;
    if (!jwt) {
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
      const client = new UserPoolClient(this, 'UsersClient', { userPool: pool, generateSecret: false });
      jwt = {
        issuer: `https://cognito-idp.${this.region}.amazonaws.com/${pool.userPoolId}`,
        audience: [client.userPoolClientId],
      };
      new CfnOutput(this, 'UserPoolId', { value: pool.userPoolId });
      new CfnOutput(this, 'UserPoolClientId', { value: client.userPoolClientId });
    }

    const http = new TerraHttpApi(this, 'Http', {
      routes,
      jwt,
      corsOrigins: props.corsOrigins,
      throttle: props.throttle,
      webhookThrottle: props.webhookThrottle,
      logRetention: props.logRetention,
    });
    monitoring.watchApi(http.stage.metricServerError({ period: Duration.minutes(5) }));

    const reconciler = new TerraFunction(this, 'reconcile', {
      entry: 'reconcile',
      environment: environmentOf('reconcile'),
      // Pages through every Terra user; a run that reaches its deadline checkpoints and the next resumes.
      timeout: Duration.minutes(10),
      logRetention: props.logRetention,
      readsSecret: true,
    });
    terraSecret.grantRead(reconciler);
    storage.grantRecordWrites(reconciler);
    storage.grantConnectionsScan(reconciler);
    storage.grantCheckpoint(reconciler, CHECKPOINT_ID);
    monitoring.watchFunction('reconcile', reconciler.function);
    new Rule(this, 'ReconcileSchedule', {
      schedule: Schedule.expression(props.reconcileSchedule),
      targets: [new LambdaFunction(reconciler.function, { retryAttempts: 0 })],
    });

    new EventDelivery(this, 'Events', {
      storage,
      terraSecret,
      monitoring,
      logRetention: props.logRetention,
      environmentOf: (entry, extra) => functionEnvironment(entry, { ...settings, ...extra }),
      exampleSubscription: props.exampleSubscription,
    });
    new EventSchemas(this, 'EventSchemas');

    new CfnOutput(this, 'ApiUrl', { value: http.url, description: 'Base URL for your frontend' });
    new CfnOutput(this, 'WebhookUrl', {
      value: `${http.url}/webhooks/terra`,
      description: 'Paste into Terra dashboard → Destinations → Webhook URL',
    });
    new CfnOutput(this, 'CallbackSuccessUrl', { value: `${http.url}/callbacks/terra/success` });
    new CfnOutput(this, 'CallbackFailureUrl', { value: `${http.url}/callbacks/terra/failure` });
    new CfnOutput(this, 'TerraSecretArn', {
      value: terraSecret.secretArn,
      description: 'Put {"dev_id","api_key","signing_secret"} here after deploy',
    });
    // What `npm run ops -- --stack <name>` reads to find this stack's parts.
    if (props.terraApiUrl) new CfnOutput(this, 'TerraApiUrl', { value: props.terraApiUrl });
    new CfnOutput(this, 'ConnectionsTableName', { value: storage.connections.tableName });
    new CfnOutput(this, 'InboxTableName', { value: storage.inbox.tableName });
    new CfnOutput(this, 'ArchiveBucketName', { value: storage.archive.bucketName });
    new CfnOutput(this, 'AlarmTopicArn', {
      value: monitoring.topic.topicArn,
      description: 'Subscribe to get alarms',
    });
  }
}
