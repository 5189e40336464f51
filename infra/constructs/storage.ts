import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AttributeType,
  Billing,
  type ITableV2,
  ProjectionType,
  StreamViewType,
  TableV2,
} from 'aws-cdk-lib/aws-dynamodb';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type CfnBucket,
  type LifecycleRule,
  StorageClass,
} from 'aws-cdk-lib/aws-s3';
import { Construct, type IConstruct } from 'constructs';
import { CONNECTIONS_KEYS, INBOX_KEYS } from '#shared/store/tables';

/** The archive's top-level prefixes (docs/architecture.md, "Archive layout"). */
export const ARCHIVE_PREFIXES = ['users', 'references', 'unattributed', 'quarantine'] as const;

/** Where one person's payloads can be: a deletion lists and deletes these and nothing else. */
const USER_PREFIXES = ['users', 'references', 'quarantine', 'unattributed'] as const;

/**
 * Where the payloads a `terra.data` event points at live: under their Terra user, or, for a delivery that
 * was parked until its owner was known, under `unattributed/<user_id>/` (docs/decisions/0020).
 */
export const DATA_PREFIXES = ['users/*', 'unattributed/*'] as const;

export interface StorageProps {
  /** Days before raw deliveries move to Infrequent Access, then Glacier Instant Retrieval. */
  archiveInfrequentAccessDays: number;
  archiveGlacierDays: number;
  /** Days after which archived payloads are deleted; 0 keeps them. */
  archiveExpirationDays: number;
  /** Days after which quarantined (stale) deliveries are deleted. */
  quarantineExpirationDays: number;
  /** Both tables as they already exist (see `ExistingTables`), instead of new ones. */
  existingTables?: ExistingTables;
}

/** A table that exists already: its name, and the ARN of its stream (the outbox the publisher reads). */
export interface ExistingTable {
  readonly tableName: string;
  readonly tableStreamArn: string;
}

/**
 * Tables a deployment already has, e.g. those an earlier stack retained. Both or neither: the inbox holds
 * each connection's owner guard, written with the record in one transaction, so one table without the
 * other would be records without guards. Each must have exactly the shape `Storage` creates (keys,
 * indexes, TTL, a `NEW_AND_OLD_IMAGES` stream; README, "Use it in your app"): the grants below name only
 * these tables, their indexes and streams, as they do for tables of our own.
 */
export interface ExistingTables {
  readonly connections: ExistingTable;
  readonly inbox: ExistingTable;
}

/**
 * How long the archive keeps what (README, "Data map"): payloads for `archiveExpirationDays` (moving to
 * cheaper storage on the way, where that comes before the expiry), quarantined deliveries for
 * `quarantineExpirationDays`. A transition on or after the expiry would be refused by S3, so it is left out.
 */
export function archiveLifecycle(props: StorageProps): LifecycleRule[] {
  const expiry = props.archiveExpirationDays;
  const before = (days: number) => expiry === 0 || days < expiry;
  const transitions = [
    {
      storageClass: StorageClass.INFREQUENT_ACCESS,
      transitionAfter: Duration.days(props.archiveInfrequentAccessDays),
    },
    {
      storageClass: StorageClass.GLACIER_INSTANT_RETRIEVAL,
      transitionAfter: Duration.days(props.archiveGlacierDays),
    },
  ].filter((transition) => before(transition.transitionAfter.toDays()));
  return [
    ...['users/', 'references/', 'unattributed/'].map((prefix) => ({
      id: `archive-${prefix.slice(0, -1)}`,
      prefix,
      ...(transitions.length ? { transitions } : {}),
      ...(expiry > 0 ? { expiration: Duration.days(expiry) } : {}),
    })),
    {
      id: 'archive-quarantine',
      prefix: 'quarantine/',
      expiration: Duration.days(props.quarantineExpirationDays),
    },
  ];
}

/**
 * The connections table, the webhook inbox and the archive (docs/architecture.md, "Data model"), with
 * grant helpers that hand each function exactly the actions it uses on exactly these resources.
 */
export class Storage extends Construct {
  readonly connections: ITableV2;
  readonly inbox: ITableV2;
  readonly archive: Bucket;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);
    const existing = props.existingTables;
    this.connections = existing
      ? TableV2.fromTableAttributes(this, 'Connections', existing.connections)
      : Storage.connectionsTable(this);
    this.inbox = existing
      ? TableV2.fromTableAttributes(this, 'Inbox', existing.inbox)
      : Storage.inboxTable(this);

    const accessLogs = new Bucket(this, 'ArchiveAccessLogs', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This bucket receives the archive’s access logs; logging it to itself would loop.',
    });
    this.archive = new Bucket(this, 'Archive', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'archive/',
      lifecycleRules: archiveLifecycle(props),
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  private static connectionsTable(scope: Storage): TableV2 {
    return new TableV2(scope, 'Connections', {
      // As the product promises (docs/decisions/0020): an app user's partition holds its connections.
      partitionKey: { name: CONNECTIONS_KEYS.partitionKey, type: AttributeType.STRING },
      sortKey: { name: CONNECTIONS_KEYS.sortKey, type: AttributeType.STRING },
      globalSecondaryIndexes: [
        {
          indexName: CONNECTIONS_KEYS.byUserIdIndex,
          partitionKey: { name: CONNECTIONS_KEYS.sortKey, type: AttributeType.STRING },
          projectionType: ProjectionType.KEYS_ONLY,
        },
      ],
      dynamoStream: StreamViewType.NEW_AND_OLD_IMAGES,
      billing: Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  private static inboxTable(scope: Storage): TableV2 {
    return new TableV2(scope, 'Inbox', {
      partitionKey: { name: INBOX_KEYS.partitionKey, type: AttributeType.STRING },
      globalSecondaryIndexes: [
        {
          indexName: INBOX_KEYS.byAttentionIndex,
          partitionKey: { name: INBOX_KEYS.attentionKey, type: AttributeType.STRING },
          sortKey: { name: INBOX_KEYS.attentionSort, type: AttributeType.STRING },
          projectionType: ProjectionType.KEYS_ONLY,
        },
      ],
      timeToLiveAttribute: INBOX_KEYS.ttlAttribute,
      dynamoStream: StreamViewType.NEW_AND_OLD_IMAGES,
      billing: Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /** Actions on the inbox table's reserved items whose keys start with one of `prefixes` only. */
  private grantReserved(grantee: IGrantable, actions: string[], prefixes: readonly string[]): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions,
        resources: [this.inbox.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': prefixes.map((p) => `${p}#*`) } },
      }),
    );
  }

  /**
   * Reads records by key and writes them conditionally (alone or inside a transaction), with the owner
   * guard that decides where a record lives: read, created with the record, moved with it.
   */
  grantRecordWrites(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
        resources: [this.connections.tableArn],
      }),
    );
    this.grantReserved(
      grantee,
      ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      ['owner'],
    );
  }

  /** A data event's one blind conditional update of `last_webhook_update`: the webhook's alone. */
  grantRecordTouch(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['dynamodb:UpdateItem'], resources: [this.connections.tableArn] }),
    );
  }

  /** Lists an app user's records (one query on the partition) and the progress of their backfills. */
  grantRecordListing(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['dynamodb:Query'], resources: [this.connections.tableArn] }),
    );
    this.grantReserved(grantee, ['dynamodb:BatchGetItem'], ['request']);
  }

  /**
   * Backfill plans (an attribute of the record: updated only while it exists) and data requests (inbox
   * items, written only while the guard says the user is owned).
   */
  grantRequestTracking(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:UpdateItem'],
        resources: [this.connections.tableArn],
      }),
    );
    this.grantReserved(grantee, ['dynamodb:GetItem', 'dynamodb:UpdateItem'], ['request', 'owner']);
  }

  /** Applies parked deliveries once their Terra user's owner is known (the publisher). */
  grantParkedDrain(grantee: IGrantable): void {
    this.grantRecordWrites(grantee);
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
        resources: [this.inbox.tableArn],
      }),
    );
  }

  /** Reads archived payloads (to inline them into events); never writes, lists or deletes. */
  grantArchiveRead(grantee: IGrantable & IConstruct): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: DATA_PREFIXES.map((prefix) => this.archive.arnForObjects(prefix)),
      }),
    );
    this.acknowledgePrefixes(
      grantee,
      DATA_PREFIXES,
      'The publisher reads the payload a terra.data event points at, to inline it when it fits.',
    );
  }

  /**
   * Deleting a user: deletes on both tables (no BatchWriteItem, which would allow puts), the tombstone
   * put, its deletion job's own item, the records it must find; object deletes under the prefixes a
   * user's payloads live in, and listing only those prefixes.
   */
  grantDeletion(grantee: IGrantable & IConstruct): void {
    const principal = grantee.grantPrincipal;
    principal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:DeleteItem', 'dynamodb:Query'],
        resources: [this.connections.tableArn],
      }),
    );
    // The guard turned into the tombstone (an update that answers what it held); deliveries, requests and
    // parked lists deleted.
    this.grantReserved(grantee, ['dynamodb:UpdateItem'], ['owner']);
    principal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['dynamodb:DeleteItem'], resources: [this.inbox.tableArn] }),
    );
    // The parked deliveries that name the person: the attention index, then the items.
    principal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [`${this.inbox.tableArn}/index/${INBOX_KEYS.byAttentionIndex}`],
      }),
    );
    principal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['dynamodb:BatchGetItem'], resources: [this.inbox.tableArn] }),
    );
    this.grantDeletionJobs(grantee, ['dynamodb:GetItem', 'dynamodb:PutItem']);
    principal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [this.archive.bucketArn],
        conditions: { StringLike: { 's3:prefix': USER_PREFIXES.map((prefix) => `${prefix}/*`) } },
      }),
    );
    const objects = USER_PREFIXES.map((prefix) => `${prefix}/*`);
    principal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['s3:DeleteObject'],
        resources: objects.map((prefix) => this.archive.arnForObjects(prefix)),
      }),
    );
    this.acknowledgePrefixes(
      grantee,
      objects,
      'A deletion removes every payload of the user, whatever its key under these prefixes.',
    );
  }

  /** The deletion jobs' items in the inbox table (`deletion#<reference_id>`), and no delivery. */
  grantDeletionJobs(grantee: IGrantable & IConstruct, actions: string[]): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions,
        resources: [this.inbox.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['deletion#*'] } },
      }),
    );
  }

  /** App users' claims on SDK connections (`sdk#<reference_id>`), and no delivery or other reserved item. */
  grantSdkClaims(grantee: IGrantable, actions: string[]): void {
    this.grantReserved(grantee, actions, ['sdk']);
  }

  /** Claims, closes, records and parks deliveries (a park checks that no guard exists yet). */
  grantInbox(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: [
          'dynamodb:GetItem',
          'dynamodb:UpdateItem',
          'dynamodb:PutItem',
          'dynamodb:ConditionCheckItem',
        ],
        resources: [this.inbox.tableArn],
      }),
    );
  }

  /** The reconcile's sweep over every record. */
  grantConnectionsScan(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['dynamodb:Scan'], resources: [this.connections.tableArn] }),
    );
  }

  /** The reconcile checkpoint: one reserved key in the inbox table, and no delivery item. */
  grantCheckpoint(grantee: IGrantable, key: string): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
        resources: [this.inbox.tableArn],
        conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [key] } },
      }),
    );
  }

  /** Writes raw deliveries under the archive's four prefixes; never reads or lists, deletes only what it just wrote under users/. */
  grantArchiveWrite(grantee: IGrantable & IConstruct): void {
    const prefixes = ARCHIVE_PREFIXES.map((prefix) => `${prefix}/*`);
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['s3:PutObject'],
        resources: prefixes.map((prefix) => this.archive.arnForObjects(prefix)),
      }),
    );
    // A data delivery whose user is deleted between its touch and its write takes back what it just
    // archived under users/ (shared/webhooks/receive.ts, applyData); Put can overwrite there already.
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['s3:DeleteObject'],
        resources: [this.archive.arnForObjects('users/*')],
      }),
    );
    this.acknowledgePrefixes(
      grantee,
      prefixes,
      'Every delivery is a new object under its Terra user (or references/, unattributed/, quarantine/); the grant is PutObject on those four prefixes, and DeleteObject on users/ only, to take back a delivery for a user deleted as it was written.',
    );
  }

  /** cdk-nag's IAM5 for object grants on whole prefixes: each acknowledged with its reason. */
  acknowledgePrefixes(grantee: IConstruct, prefixes: readonly string[], reason: string): void {
    const stack = Stack.of(this);
    const bucketId = stack.resolve(stack.getLogicalId(this.archive.node.defaultChild as CfnBucket)) as string;
    for (const prefix of prefixes) {
      Validations.of(grantee).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${prefix}]`,
        reason,
      });
    }
  }
}
