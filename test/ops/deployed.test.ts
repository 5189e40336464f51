import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { localClient } from '#local/dynamodb';
import { ensureTables } from '#local/tables';
import { type Sandbox, startSandbox } from '#sandbox/sandbox';
import { logger } from '#shared/log';
import { createDocumentClient } from '#shared/store/client';
import { ConnectionStore } from '#shared/store/connections';
import { DeliveryStore } from '#shared/store/deliveries';
import { S3Archive } from '#shared/store/s3-archive';
import { receiveWebhook, type WebhookDeps } from '#shared/webhooks/receive';
import { type AwsStandIn, type PutEventsEntry, startAwsStandIn } from '../helpers/aws-stand-in.ts';
import { ContractCheck, envelopeOfEntry } from '../helpers/event-contracts.ts';
import { signedHeaders } from '../helpers/signing.ts';
import { authSuccess, terraUser } from '../helpers/terra-fixtures.ts';
import { noDownloads } from '../helpers/webhook.ts';
import { cleanEnv, runOps } from './run-ops.ts';

/**
 * `--stack <name>`: the deployed mode, run for real as a child process with the SDK's default
 * credential chain and every AWS endpoint on this machine: the stack's outputs from the AWS stand-in's
 * CloudFormation (test/helpers/aws-stand-in.ts), the tables in DynamoDB Local (and its streams), the archive
 * bucket in s3rver, the dead-letter and deletion queues, the bus and the Terra secret in the stand-in's
 * SQS, EventBridge and Secrets Manager, Terra played by the sandbox. What it cannot show is IAM: the
 * caller's permissions.
 */
vi.setConfig({ testTimeout: 120_000 });

const STACK = 'terra-connect-test';
const BUCKET = 'terra-archive-ops';
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:terra-connect/terra-AbCdEf';
const SIGNING_SECRET = 'deployed-signing-secret';
const suffix = randomUUID().slice(0, 8);
const tables = { connectionsTable: `ops-connections-${suffix}`, inboxTable: `ops-inbox-${suffix}` };

let aws: AwsStandIn;
const contracts = new ContractCheck();
let s3rver: S3rver;
let sandbox: Sandbox;
let env: NodeJS.ProcessEnv;
let receiver: WebhookDeps;
let archive: S3Archive;

beforeAll(async () => {
  const dynamo = inject('dynamoEndpoint');
  const admin = localClient(dynamo);
  await ensureTables(admin, tables);
  admin.destroy();
  s3rver = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory: mkdtempSync(join(tmpdir(), 's3rver-ops-')),
    configureBuckets: [{ name: BUCKET }],
  });
  const address = await s3rver.run();
  const s3 = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  // Terra: the sandbox, with keys only the secret knows; it sends no webhooks (there is no API here).
  sandbox = await startSandbox({
    port: 0,
    devId: 'cloud-dev-id',
    apiKey: 'cloud-api-key',
    signingSecret: SIGNING_SECRET,
  });
  // S3 is s3rver's; the stand-in checks every signature against the caller's credentials.
  aws = await startAwsStandIn({
    services: ['cloudformation', 'sqs', 'events', 'secretsmanager'],
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    // The events the CLI publishes, as their targets would receive them, held to their JSON Schemas.
    observe: (call) => {
      if (call.operation !== 'PutEvents') return;
      for (const entry of (call.input.Entries ?? []) as PutEventsEntry[])
        contracts.check(envelopeOfEntry(entry));
    },
  });
  aws.stacks.set(STACK, {
    ApiUrl: 'https://api.example.com',
    ConnectionsTableName: tables.connectionsTable,
    InboxTableName: tables.inboxTable,
    ArchiveBucketName: BUCKET,
    TerraSecretArn: SECRET_ARN,
    EventBusName: 'terra-connect-events',
    DeadLetterQueueUrl: `${aws.url}/000000000000/dead-letters`,
    DeletionQueueUrl: `${aws.url}/000000000000/deletions`,
    TerraApiUrl: sandbox.apiUrl,
  });
  aws.stacks.set('old-stack', { ApiUrl: 'https://api.example.com', TerraSecretArn: SECRET_ARN });
  aws.secrets.set(
    SECRET_ARN,
    JSON.stringify({ dev_id: 'cloud-dev-id', api_key: 'cloud-api-key', signing_secret: SIGNING_SECRET }),
  );
  env = cleanEnv({
    AWS_REGION: 'us-east-1',
    // s3rver checks signatures against its own key pair, the AWS stand-in against the same.
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...aws.env,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo,
    AWS_ENDPOINT_URL_DYNAMODB_STREAMS: dynamo,
    AWS_ENDPOINT_URL_S3: s3,
    DELETION_GRACE_SECONDS: '1',
    // Never the local stack, whatever runs in this directory.
    TERRA_CONNECT_DATA_DIR: mkdtempSync(join(tmpdir(), 'ops-no-local-')),
  });
  // The deployed webhook, in-process, writing the same tables and bucket.
  const doc = createDocumentClient({ dynamoEndpoint: dynamo });
  const connections = new ConnectionStore(doc, tables);
  archive = new S3Archive(BUCKET, {
    endpoint: s3,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  receiver = {
    signingSecrets: async () => [SIGNING_SECRET],
    toleranceSeconds: 300,
    archive,
    deliveries: new DeliveryStore(doc, tables.inboxTable, connections, {
      leaseSeconds: 15,
      ttlDays: 30,
      now: Date.now,
    }),
    connections,
    payloads: noDownloads,
    now: Date.now,
    log: logger,
  };
});
afterAll(async () => {
  await aws?.stop();
  await sandbox?.stop();
  await s3rver?.close();
});

const ops = (...args: string[]) => runOps(['--stack', STACK, ...args], env);

async function sandboxUser(reference_id: string): Promise<string> {
  const response = await fetch(`${sandbox.url}/sandbox/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ reference_id, provider: 'GARMIN' }),
  });
  return ((await response.json()) as { user_id: string }).user_id;
}

/** The stream record of a Terra user's connection record being written, as Lambda would have had it. */
async function streamBatchOf(user_id: string) {
  const client = localClient(inject('dynamoEndpoint'));
  const streams = new DynamoDBStreamsClient({
    endpoint: inject('dynamoEndpoint'),
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tables.connectionsTable }));
    const streamArn = Table?.LatestStreamArn ?? '';
    const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    for (const shard of StreamDescription?.Shards ?? []) {
      const { ShardIterator } = await streams.send(
        new GetShardIteratorCommand({
          StreamArn: streamArn,
          ShardId: shard.ShardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const { Records } = await streams.send(new GetRecordsCommand({ ShardIterator }));
      const record = Records?.find(
        (candidate) =>
          candidate.dynamodb?.NewImage?.user_id?.S === user_id &&
          candidate.dynamodb?.NewImage?.status?.S !== undefined,
      );
      const sequence = record?.dynamodb?.SequenceNumber;
      if (sequence) {
        return {
          streamArn,
          shardId: shard.ShardId ?? '',
          startSequenceNumber: sequence,
          endSequenceNumber: sequence,
        };
      }
    }
    throw new Error(`no stream record for ${user_id}`);
  } finally {
    client.destroy();
    streams.destroy();
  }
}

type Row = Record<string, unknown>;

describe('--stack <name> (a deployed stack, its AWS on this machine)', () => {
  it('finds deliveries, replays a stale one, shows the connection, redrives the dead letters, lists Terra users, deletes a user', async () => {
    const reference_id = `deployed-${randomUUID()}`;
    const user_id = await sandboxUser(reference_id);
    const orphan = await sandboxUser(`deployed-${randomUUID()}`);
    const traceId = `trace-${user_id}`;
    const body = JSON.stringify(authSuccess({ user: terraUser({ user_id, reference_id }) }));
    const headers = signedHeaders(body, {
      secret: SIGNING_SECRET,
      traceId,
      timestamp: Math.floor(Date.now() / 1000) - 3600,
    });
    expect((await receiveWebhook(receiver, { headers, body: Buffer.from(body) })).outcome).toBe('stale');

    const stale = await ops('deliveries', '--status', 'stale', '--json');
    expect(stale.code, stale.stderr).toBe(0);
    expect(stale.json).toMatchObject({ target: { kind: 'deployed', name: STACK }, by: 'status' });
    expect(stale.json.deliveries).toEqual([
      expect.objectContaining({ event_id: traceId, status: 'stale', user_id }),
    ]);

    const detail = await ops('delivery', traceId, '--json');
    expect(detail.code, detail.stderr).toBe(0);
    expect(detail.json.archive).toEqual([
      { role: 'body', key: expect.stringMatching(new RegExp(`^quarantine/${user_id}/`)), bytes: body.length },
    ]);
    expect(detail.stdout).not.toContain('demo-account');

    const replayed = await ops('replay', traceId, '--json');
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(replayed.json.results).toEqual([
      expect.objectContaining({ event_id: traceId, outcome: 'processed', status: 'processed' }),
    ]);
    expect(await archive.list(`users/${user_id}/`)).toHaveLength(1);

    const connection = await ops('connection', reference_id, '--json');
    expect(connection.code, connection.stderr).toBe(0);
    expect(connection.json).toMatchObject({
      by: 'reference_id',
      connections: [{ user_id, status: 'active' }],
    });
    expect((connection.json.deliveries as Row[]).map((row) => row.event_id)).toEqual([traceId]);

    // The dead letters: an event the bus refused, a stream batch the publisher failed on, and junk.
    const refusedEvent = {
      detailType: 'terra.connection',
      detail: {
        id: `connection:${randomUUID()}`,
        user_id,
        reference_id,
        provider: 'GARMIN',
        status: 'active',
        previous_status: null,
        at: new Date().toISOString(),
      },
    };
    aws.send('dead-letters', JSON.stringify(refusedEvent));
    aws.send(
      'dead-letters',
      JSON.stringify({
        requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 11 },
        version: '1.0',
        timestamp: new Date().toISOString(),
        DDBStreamBatchInfo: { ...(await streamBatchOf(user_id)), batchSize: 1 },
      }),
    );
    aws.send('dead-letters', 'not a dead letter');
    const redrive = await ops('redrive', '--json');
    expect(redrive.code, redrive.stderr).toBe(4);
    expect(redrive.json).toMatchObject({ to: 'terra-connect-events', redriven: 2, failed: 1 });
    expect(redrive.json.results).toEqual(
      expect.arrayContaining([
        { id: refusedEvent.detail.id, kind: 'event', detail_type: 'terra.connection', outcome: 'redriven' },
        expect.objectContaining({ kind: 'stream_batch', outcome: 'redriven', changes: 1 }),
        expect.objectContaining({ kind: 'unrecognised', outcome: 'failed' }),
      ]),
    );
    const published = aws.events.map((entry) => ({
      bus: entry.EventBusName,
      type: entry.DetailType,
      detail: JSON.parse(entry.Detail ?? '{}') as Row,
    }));
    expect(published).toContainEqual({
      bus: 'terra-connect-events',
      type: 'terra.connection',
      detail: refusedEvent.detail,
    });
    // The stream record, through the publisher: the connection becoming active.
    expect(published).toContainEqual({
      bus: 'terra-connect-events',
      type: 'terra.connection',
      detail: expect.objectContaining({ user_id, status: 'active', previous_status: null }),
    });
    expect(aws.queues.get('dead-letters')?.map((message) => message.body)).toEqual(['not a dead letter']);
    contracts.assert();

    // Terra's users, with the stack's secret: the orphan has no record here.
    const terraUsers = await ops('terra-users', '--json');
    expect(terraUsers.code, terraUsers.stderr).toBe(0);
    expect(terraUsers.json).toMatchObject({
      terra_users: 2,
      users: [{ user_id: orphan, reason: 'no_record' }],
    });
    expect(aws.callsTo('GetSecretValue', 'secretsmanager')).not.toEqual([]);
    expect(terraUsers.stdout).not.toContain('cloud-api-key');

    const deletion = await ops('delete-user', reference_id, '--yes', '--json');
    expect(deletion.code, deletion.stderr).toBe(0);
    expect(deletion.json.deletion).toMatchObject({
      status: 'done',
      connections: 1,
      deliveries: 1,
      payloads: 2,
    });
    expect(sandbox.users().map((user) => user.user_id)).toEqual([orphan]);
    expect(await archive.list(`users/${user_id}/`)).toEqual([]);
    expect(await archive.list(`quarantine/${user_id}/`)).toEqual([]);
    // The deletion worker was told too, for the case the CLI had stopped.
    expect(aws.queues.get('deletions')?.map((message) => JSON.parse(message.body) as Row)).toEqual([
      { reference_id, deletion_id: expect.any(String) },
    ]);

    // Every AWS call was signed with the caller's credentials, for exactly what was sent.
    expect(aws.calls.filter((call) => !call.signed)).toEqual([]);
    expect(aws.calls.filter((call) => !call.signatureValid)).toEqual([]);
  });

  it('names the outputs an older stack lacks, and a stack that does not exist', async () => {
    const old = await runOps(['deliveries', '--stack', 'old-stack', '--json'], env);
    expect(old.code).toBe(1);
    expect((old.json.error as Row).message).toContain(
      'ConnectionsTableName, InboxTableName, ArchiveBucketName',
    );
    const missing = await runOps(['connection', 'someone', '--stack', 'no-such-stack', '--json'], env);
    expect(missing.code).toBe(3);
    expect(missing.json).toEqual({
      error: { code: 'not_found', message: expect.stringContaining('no-such-stack') },
    });
  });
});
