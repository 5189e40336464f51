import { round } from './stats.ts';

/**
 * Issue 6 §5: what 1M webhook deliveries and 10k connects cost on AWS, from what the benchmark
 * measured (capacity units per delivery, handler duration, log bytes, PUTs) and list prices. Terra's
 * own latency is not measurable here; where a duration depends on it, the assumption is named.
 */
export const PRICES_AS_OF = '2026-11-22';
export const PRICES = {
  region: 'us-east-1',
  /** HTTP API, first 300M requests a month; metered per 512 KB. */
  apiGatewayPerMillion: 1.0,
  lambdaRequestsPerMillion: 0.2,
  /** Arm (the stack's architecture), first 7.5 billion GB-seconds a month. */
  lambdaArmPerGbSecond: 0.0000133334,
  /** On-demand, after the 2024-11-01 price cut. */
  dynamoWritePerMillion: 0.625,
  dynamoReadPerMillion: 0.125,
  s3PutPerThousand: 0.005,
  s3StandardPerGbMonth: 0.023,
  secretsManagerPer10k: 0.05,
  secretPerMonth: 0.4,
  logsIngestPerGb: 0.5,
} as const;

export const STACK = {
  webhookMemoryMb: 1024,
  otherMemoryMb: 512,
  secretMaxAgeSeconds: 300,
} as const;

/** Assumptions for what the local benchmark cannot see; every one is printed with the model. */
export const ASSUMED = {
  /** One PutObject of ~10 KB from Lambda to S3 in-region (the bench archives in memory). */
  s3PutMs: 20,
  /** Lambda's START/END/REPORT lines per invocation, and one API Gateway JSON access-log line. */
  platformLogBytes: 300,
  accessLogBytes: 350,
  /** Terra answering a widget-session or userInfo call. */
  terraCallMs: 300,
  listMs: 15,
} as const;

export interface CostInputs {
  /** Per delivery, measured: write units (refused conditional writes included), read units. */
  writeUnits: number;
  readUnits: number;
  /** Handler time per delivery measured at concurrency 1 on DynamoDB Local, archive excluded. */
  handlerMs: number;
  logBytes: number;
  /** Archive PUTs per delivery, counted (every delivery past the signature check, duplicates too). */
  s3Puts: number;
  bodyBytes: number;
  /** Per connect step, measured: units of the callback's write, the auth webhook, the list. */
  connect: { callback: Units; webhook: Units; list: Units };
  coldStartMs: number;
  /** Per delivery units measured on the proofs, to price what the fix would save. */
  alternatives?: Array<{ label: string; writeUnits: number; readUnits: number }>;
}

interface Units {
  writeUnits: number;
  readUnits: number;
}

export interface CostLine {
  item: string;
  basis: string;
  usd: number;
}

export interface CostModel {
  pricesAsOf: string;
  prices: typeof PRICES;
  assumed: typeof ASSUMED;
  webhook: { lines: CostLine[]; totalUsd: number; perDelivery: string; alternatives: CostLine[] };
  connects: { lines: CostLine[]; totalUsd: number };
  coldStarts: { basis: string; usdPer1000: number };
}

const money = (usd: number) => round(usd, 4);

export function costModel(input: CostInputs): CostModel {
  const n = 1_000_000;
  const webhookGb = STACK.webhookMemoryMb / 1024;
  const billedMs = Math.ceil(input.handlerMs + ASSUMED.s3PutMs);
  const logGb = (n * (input.logBytes + ASSUMED.platformLogBytes + ASSUMED.accessLogBytes)) / 1024 ** 3;
  const storedGb = (n * input.s3Puts * input.bodyBytes) / 1024 ** 3;
  const secretCalls = (30 * 86_400) / STACK.secretMaxAgeSeconds;
  const webhook: CostLine[] = [
    { item: 'API Gateway HTTP API', basis: '1M requests (each < 512 KB)', usd: PRICES.apiGatewayPerMillion },
    { item: 'Lambda requests', basis: '1M invocations', usd: PRICES.lambdaRequestsPerMillion },
    {
      item: 'Lambda duration',
      basis: `${billedMs} ms × ${webhookGb} GB × 1M (${round(input.handlerMs, 1)} ms measured + ${ASSUMED.s3PutMs} ms S3 PUT assumed)`,
      usd: n * (billedMs / 1000) * webhookGb * PRICES.lambdaArmPerGbSecond,
    },
    {
      item: 'DynamoDB writes',
      basis: `${round(input.writeUnits, 2)} WRU per delivery, counted`,
      usd: (input.writeUnits * n * PRICES.dynamoWritePerMillion) / 1_000_000,
    },
    {
      item: 'DynamoDB reads',
      basis: `${round(input.readUnits, 2)} RRU per delivery, counted`,
      usd: (input.readUnits * n * PRICES.dynamoReadPerMillion) / 1_000_000,
    },
    {
      item: 'S3 PUT (raw archive)',
      basis: `${round(input.s3Puts, 2)} PUT per delivery, counted (duplicates are archived too)`,
      usd: ((n * input.s3Puts) / 1000) * PRICES.s3PutPerThousand,
    },
    {
      item: 'S3 storage',
      basis: `${round(storedGb, 1)} GB for a month (Standard, before lifecycle)`,
      usd: storedGb * PRICES.s3StandardPerGbMonth,
    },
    {
      item: 'Secrets Manager',
      basis: `cached ${STACK.secretMaxAgeSeconds} s: ≤ ${secretCalls} calls per warm container-month; 1 container`,
      usd: (secretCalls / 10_000) * PRICES.secretsManagerPer10k,
    },
    {
      item: 'CloudWatch Logs',
      basis: `${input.logBytes} B handler log (measured) + ${ASSUMED.platformLogBytes} B Lambda + ${ASSUMED.accessLogBytes} B access log per delivery`,
      usd: logGb * PRICES.logsIngestPerGb,
    },
  ].map((line) => ({ ...line, usd: money(line.usd) }));
  const webhookTotal = webhook.reduce((sum, line) => sum + line.usd, 0);

  const k = 10_000;
  const small = STACK.otherMemoryMb / 1024;
  const connectGbSeconds =
    small * (ASSUMED.terraCallMs / 1000) + // POST /sessions: Terra's widget session
    small * ((ASSUMED.terraCallMs + input.handlerMs) / 1000) + // callback: userInfo, then the record
    webhookGb * ((input.handlerMs + ASSUMED.s3PutMs) / 1000) + // the auth webhook
    small * (ASSUMED.listMs / 1000); // the frontend lists its connections
  const { callback, webhook: auth, list } = input.connect;
  const connectWrites = callback.writeUnits + auth.writeUnits + list.writeUnits;
  const connectReads = callback.readUnits + auth.readUnits + list.readUnits;
  const connects: CostLine[] = [
    {
      item: 'API Gateway HTTP API',
      basis: '4 requests per connect: POST /sessions, callback, auth webhook, GET /connections',
      usd: (4 * k * PRICES.apiGatewayPerMillion) / 1_000_000,
    },
    {
      item: 'Lambda requests',
      basis: '4 invocations per connect',
      usd: (4 * k * PRICES.lambdaRequestsPerMillion) / 1_000_000,
    },
    {
      item: 'Lambda duration',
      basis: `${round(connectGbSeconds, 3)} GB-s per connect (Terra calls ${ASSUMED.terraCallMs} ms assumed)`,
      usd: k * connectGbSeconds * PRICES.lambdaArmPerGbSecond,
    },
    {
      item: 'DynamoDB',
      basis: `${round(connectWrites, 2)} WRU + ${round(connectReads, 2)} RRU per connect, counted`,
      usd:
        (k * (connectWrites * PRICES.dynamoWritePerMillion + connectReads * PRICES.dynamoReadPerMillion)) /
        1_000_000,
    },
    { item: 'S3 PUT', basis: 'the auth webhook archived', usd: (k / 1000) * PRICES.s3PutPerThousand },
  ].map((line) => ({ ...line, usd: money(line.usd) }));
  return {
    pricesAsOf: PRICES_AS_OF,
    prices: PRICES,
    assumed: ASSUMED,
    webhook: {
      lines: webhook,
      totalUsd: money(webhookTotal),
      perDelivery: `$${round((webhookTotal / n) * 1_000_000, 2)} per million`,
      alternatives: (input.alternatives ?? []).map((alt) => ({
        item: `DynamoDB with ${alt.label}`,
        basis: `${round(alt.writeUnits, 2)} WRU + ${round(alt.readUnits, 2)} RRU per delivery, counted on the proof`,
        usd: money(
          (n *
            (alt.writeUnits * PRICES.dynamoWritePerMillion + alt.readUnits * PRICES.dynamoReadPerMillion)) /
            1_000_000,
        ),
      })),
    },
    connects: { lines: connects, totalUsd: money(connects.reduce((sum, line) => sum + line.usd, 0)) },
    coldStarts: {
      basis: `Lambda bills the init phase since 2025-08-01: ${round(input.coldStartMs, 0)} ms (webhook import, measured) × ${webhookGb} GB, per 1,000 cold starts`,
      usdPer1000: money(1000 * (input.coldStartMs / 1000) * webhookGb * PRICES.lambdaArmPerGbSecond),
    },
  };
}
