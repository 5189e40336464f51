import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { lowerCaseHeaders, rawBody } from '#shared/http/request';
import { signPayload } from '#shared/terra/signature';
import { receiveWebhook, type WebhookDeps } from '#shared/webhooks/receive';
import { createTestTables, type TestTables } from '../helpers/dynamo.ts';
import {
  authCancelled,
  authSuccess,
  dataEvent,
  deauth,
  healthcheck,
  terraUser,
} from '../helpers/terra-fixtures.ts';
import { receiverDeps } from '../helpers/webhook.ts';

/**
 * Hostile input against the receiver, as API Gateway would hand it over (headers of any case, bodies
 * plain or base64). Invariants: never a 5xx, nothing stored without a valid signature, no unhandled
 * rejection, bounded memory.
 */
const SECRET = 'fuzz-secret';
const RUNS = Number(process.env.FUZZ_RUNS ?? 600);

let tables: TestTables;
let archiveDir: string;
let deps: WebhookDeps;

beforeAll(async () => {
  tables = await createTestTables();
  archiveDir = mkdtempSync(join(tmpdir(), 'terra-fuzz-'));
  deps = receiverDeps(tables, { secret: SECRET, archiveDir });
});

function deliver(event: Pick<APIGatewayProxyEventV2, 'headers' | 'body' | 'isBase64Encoded'>) {
  return receiveWebhook(deps, { headers: lowerCaseHeaders(event.headers), body: rawBody(event) });
}

const now = () => Math.floor(Date.now() / 1000);
const hex = fc.stringMatching(/^[0-9a-f]{64}$/);
const headerName = fc.constantFrom(
  'terra-signature',
  'Terra-Signature',
  'x-terra-signature',
  'X-TERRA-SIGNATURE',
);

/** Signature headers of every malformed shape, none of them valid for the body. */
const forgedSignature = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 100 }),
  hex.map((v1) => `t=${now()},v1=${v1}`),
  hex.map((v1) => `v1=${v1}`),
  hex.map((v1) => `t=${now()},t=${now()},v1=${v1}`),
  hex.map((v1) => `t=abc,v1=${v1}`),
  hex.map((v0) => `t=${now()},v0=${v0}`),
  fc.constant(`t=${now()},v1=`),
  fc.constant(`t=${now()},${'v1=00,'.repeat(5000)}`),
  fc.constant('t=,v1=,,,=,=='),
  fc.integer({ min: 0, max: 10 ** 12 }).chain((t) => hex.map((v1) => `t=${t},v1=${v1}`)),
);

const body = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 2000 }) },
  { weight: 3, arbitrary: fc.json({ maxDepth: 4 }) },
  {
    weight: 2,
    arbitrary: fc.uint8Array({ maxLength: 2000 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
  },
  { weight: 1, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: fc.constant('{"type":"auth"'.repeat(60_000)) },
);

const extraHeaders = fc.dictionary(fc.stringMatching(/^[A-Za-z-]{1,20}$/), fc.string({ maxLength: 200 }), {
  maxKeys: 5,
});

async function storedCounts() {
  const connections = await tables.doc.send(
    new ScanCommand({ TableName: tables.connectionsTable, Select: 'COUNT' }),
  );
  const inbox = await tables.doc.send(new ScanCommand({ TableName: tables.inboxTable, Select: 'COUNT' }));
  const archived = readdirSync(archiveDir, { recursive: true }).length;
  return { connections: connections.Count ?? 0, inbox: inbox.Count ?? 0, archived };
}

describe('webhook fuzz', () => {
  it(`never answers 5xx and stores nothing for ${RUNS} forged deliveries`, async () => {
    const before = await storedCounts();
    const heapBefore = process.memoryUsage().heapUsed;
    await fc.assert(
      fc.asyncProperty(
        body,
        fc.option(fc.tuple(headerName, forgedSignature), { nil: undefined }),
        extraHeaders,
        fc.boolean(),
        async (text, signature, extra, base64) => {
          const headers: Record<string, string> = { ...extra };
          if (signature) headers[signature[0]] = signature[1];
          const result = await deliver({
            headers,
            body: base64 ? Buffer.from(text).toString('base64') : text,
            isBase64Encoded: base64,
          });
          expect(result.status).toBe(401);
        },
      ),
      { numRuns: RUNS },
    );
    expect(await storedCounts()).toEqual(before);
    // A thousand hostile requests, some of 900 KB, leave no lasting weight behind.
    const heapGrowthMb = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;
    expect(heapGrowthMb).toBeLessThan(100);
  }, 120_000);

  it('answers 200 or 400, never 5xx, to validly signed bodies of any shape', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.json({ maxDepth: 5 }),
          fc.string({ maxLength: 500 }),
          fc.anything().map((value) => JSON.stringify(value) ?? ''),
        ),
        headerName,
        fc.boolean(),
        async (text, name, base64) => {
          const t = now();
          const result = await deliver({
            headers: { [name]: `t=${t},v1=${signPayload(SECRET, t, text)}` },
            body: base64 ? Buffer.from(text).toString('base64') : text,
            isBase64Encoded: base64,
          });
          let json = true;
          try {
            JSON.parse(text);
          } catch {
            json = false;
          }
          expect(result.status).toBe(json ? 200 : 400);
        },
      ),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  }, 120_000);

  it('records nothing from validly signed JSON that is not a Terra event', async () => {
    const before = await storedCounts();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({ type: fc.string(), user: fc.anything() }),
          fc.record({
            type: fc.constantFrom('auth', 'deauth', 'user_reauth'),
            user: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
          }),
          fc.array(fc.anything()),
        ),
        async (payload) => {
          const text = JSON.stringify(payload);
          const t = now();
          const result = await deliver({
            headers: { 'terra-signature': `t=${t},v1=${signPayload(SECRET, t, text)}` },
            body: text,
            isBase64Encoded: false,
          });
          expect(result).toMatchObject({
            status: 200,
            outcome: expect.stringMatching(/^(ignored|duplicate)$/),
          });
        },
      ),
      { numRuns: 100 },
    );
    expect((await storedCounts()).connections).toBe(before.connections);
  }, 60_000);

  /**
   * Validly signed deliveries that once answered 500 on every retry (a loop Terra only ends by giving
   * up): each must be applied, parked or recorded failed with a reason, and a retry must agree.
   */
  const LONE_SURROGATE = '\uD83C';
  const corpus: Array<[string, unknown, Record<string, string>?]> = [
    [
      'a cancelled login whose reference_id is a lone surrogate',
      authCancelled({ reference_id: LONE_SURROGATE }),
    ],
    [
      'a login whose reference_id is a lone surrogate',
      authSuccess({ user: terraUser({ user_id: 'fuzz-surrogate-auth', reference_id: LONE_SURROGATE }) }),
    ],
    [
      'a data event whose reference_id is a lone surrogate',
      dataEvent('sleep', {
        user: terraUser({ user_id: 'fuzz-surrogate-data', reference_id: LONE_SURROGATE }),
      }),
    ],
    [
      'a healthcheck whose reference_id ends in a lone low surrogate',
      { ...healthcheck(), reference_id: 'a\uDC00' },
    ],
    [
      'a data event with a 25-digit ordering timestamp',
      dataEvent('daily', { user: terraUser({ user_id: 'fuzz-ordering-data' }) }),
      { 'x-terra-ordering-timestamp': '1'.repeat(25) },
    ],
    [
      'a deauth with a 25-digit ordering timestamp',
      deauth({ user: terraUser({ user_id: 'fuzz-ordering-deauth' }) }),
      { 'x-terra-ordering-timestamp': '9'.repeat(25) },
    ],
    [
      'a login with an ordering timestamp beyond any number',
      authSuccess({ user: terraUser({ user_id: 'fuzz-ordering-auth' }) }),
      { 'x-terra-ordering-timestamp': '9'.repeat(400) },
    ],
  ];

  it.each(corpus)('applies, parks or records %s, never a 500 loop', async (_, payload, extra = {}) => {
    const text = JSON.stringify(payload);
    const traceId = `fuzz-corpus-${Buffer.from(text).length}-${Math.random().toString(36).slice(2)}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      const t = now();
      const result = await deliver({
        headers: {
          'terra-signature': `t=${t},v1=${signPayload(SECRET, t, text)}`,
          'x-terra-trace-id': traceId,
          ...extra,
        },
        body: text,
        isBase64Encoded: false,
      });
      expect(result.status).toBe(200);
    }
    const { Items } = await tables.doc.send(
      new ScanCommand({
        TableName: tables.inboxTable,
        FilterExpression: 'event_id = :id',
        ExpressionAttributeValues: { ':id': traceId },
      }),
    );
    expect(Items?.[0]?.status).toMatch(/^(processed|ignored|failed)$/);
  });
});
