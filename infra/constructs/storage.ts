import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AttributeType, Billing, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type CfnBucket,
  StorageClass,
} from 'aws-cdk-lib/aws-s3';
import { Construct, type IConstruct } from 'constructs';
import { CONNECTIONS_KEYS, INBOX_KEYS } from '../../shared/aws/tables.ts';

export interface StorageProps {
  /** Days before raw deliveries move to Infrequent Access, then Glacier Instant Retrieval. */
  archiveInfrequentAccessDays: number;
  archiveGlacierDays: number;
  /** Days after which raw deliveries are deleted; 0 keeps them. */
  archiveExpirationDays: number;
}

/**
 * The connections table, the webhook inbox and the raw-delivery archive (DESIGN §5), with grant helpers
 * that hand each function exactly the actions it uses on exactly these resources.
 */
export class Storage extends Construct {
  readonly connections: TableV2;
  readonly inbox: TableV2;
  readonly archive: Bucket;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);
    this.connections = new TableV2(this, 'Connections', {
      partitionKey: { name: CONNECTIONS_KEYS.partitionKey, type: AttributeType.STRING },
      sortKey: { name: CONNECTIONS_KEYS.sortKey, type: AttributeType.STRING },
      globalSecondaryIndexes: [
        {
          indexName: CONNECTIONS_KEYS.byUserIdIndex,
          partitionKey: { name: CONNECTIONS_KEYS.sortKey, type: AttributeType.STRING },
        },
      ],
      billing: Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.inbox = new TableV2(this, 'Inbox', {
      partitionKey: { name: INBOX_KEYS.partitionKey, type: AttributeType.STRING },
      timeToLiveAttribute: INBOX_KEYS.ttlAttribute,
      billing: Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

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
      lifecycleRules: [
        {
          transitions: [
            {
              storageClass: StorageClass.INFREQUENT_ACCESS,
              transitionAfter: Duration.days(props.archiveInfrequentAccessDays),
            },
            {
              storageClass: StorageClass.GLACIER_INSTANT_RETRIEVAL,
              transitionAfter: Duration.days(props.archiveGlacierDays),
            },
          ],
          ...(props.archiveExpirationDays > 0
            ? { expiration: Duration.days(props.archiveExpirationDays) }
            : {}),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  private indexArn(): string {
    return `${this.connections.tableArn}/index/${CONNECTIONS_KEYS.byUserIdIndex}`;
  }

  /** Reads records: by key, by reference_id, and by user_id through the index. */
  grantConnectionsRead(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:Query'],
        resources: [this.connections.tableArn, this.indexArn()],
      }),
    );
  }

  /** Reads and conditionally writes records (alone or inside a transaction). */
  grantConnectionsWrite(grantee: IGrantable): void {
    this.grantConnectionsRead(grantee);
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['dynamodb:PutItem'], resources: [this.connections.tableArn] }),
    );
  }

  grantInbox(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
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

  /** Writes raw deliveries under `raw/`; never reads, lists or deletes. */
  grantArchiveWrite(grantee: IGrantable & IConstruct): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['s3:PutObject'], resources: [this.archive.arnForObjects('raw/*')] }),
    );
    const stack = Stack.of(this);
    const bucketId = stack.resolve(stack.getLogicalId(this.archive.node.defaultChild as CfnBucket)) as string;
    Validations.of(grantee).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/raw/*]`,
      reason:
        'Every delivery is a new object under raw/; the grant is PutObject on that prefix, nothing else.',
    });
  }
}
