import { round } from './support/stats.ts';

/**
 * What 1M webhook deliveries cost on AWS (requirement 8), from what the benchmark measured per
 * delivery at the Terra-like mix (handler time, capacity units, archive PUTs and bytes, log bytes,
 * what the app is told) and list prices. What cannot be measured locally is assumed, and every
 * assumption is named next to its line.
 *
 * PRICES are us-east-1 list prices AS RECALLED, not fetched: they must be checked against AWS's
 * pricing pages before anyone relies on them.
 */
export const PRICES_AS_OF = '2025-08-01';
export const PRICES_NOTE = `us-east-1 list prices as recalled as of ${PRICES_AS_OF} (not fetched; check AWS's pricing pages)`;

export const PRICES = {
  /** HTTP API, first 300M requests a month; each request metered in 512 KB increments. */
  apiGatewayHttpPerMillion: 1.0,
  apiGatewayMeterBytes: 512 * 1024,
  lambdaRequestsPerMillion: 0.2,
  /** arm64, first 6 billion GB-seconds a month (x86: 0.0000166667). */
  lambdaArmPerGbSecond: 0.0000133334,
  lambdaX86PerGbSecond: 0.0000166667,
  /** On-demand, Standard table class, after the November 2024 price cut. */
  dynamoWritePerMillion: 0.625,
  dynamoReadPerMillion: 0.125,
  /** GetRecords by a Lambda event source mapping is not charged. */
  dynamoStreamsReadsByLambda: 0,
  s3PutPerThousand: 0.005,
  s3StandardPerGbMonth: 0.023,
  /** Custom events; each 64 KB chunk of an entry counts as one event. */
  eventBridgePerMillion: 1.0,
  secretsManagerPer10kCalls: 0.05,
  secretsManagerPerSecretMonth: 0.4,
  logsIngestPerGb: 0.5,
} as const;

/** What the local run cannot see; each is printed with the line it feeds. */
export const ASSUMED = {
  /** One PutObject of ~10 KB from Lambda to S3 in-region (in-process the archive is a local directory). */
  s3PutMs: 20,
  /** Lambda's START, END and REPORT lines per invocation. */
  platformLogBytes: 300,
  /** 1M deliveries spread over a month keep about one environment warm; each reads the secret every max-age. */
  secretMaxAgeSeconds: 300,
  warmEnvironments: 1,
  /** The publisher (DynamoDB Streams → EventBridge): records per invocation, duration, memory. */
  publisherBatch: 100,
  publisherMs: 60,
  publisherMemoryMb: 512,
} as const;

/** The per-delivery figures a capacity model needs, as measured at the mix (means: bills add up). */
export interface MeasuredDelivery {
  /** Handler time per delivery, in-process at concurrency 1 on DynamoDB Local, archive to a directory. */
  handlerMs: number;
  /** Billed write units (refused conditional writes included) and read units. */
  writeUnits: number;
  readUnits: number;
  /** DynamoDB requests (SDK retries included). */
  roundTrips: number;
  s3Puts: number;
  archivedBytes: number;
  /** What the handler logs. */
  logBytes: number;
  requestBytes: number;
  /** Notifications the app gets (data events and status changes), and their 64 KB chunks. */
  notifications: number;
  notificationChunks: number;
}

export interface CostLine {
  item: string;
  basis: string;
  usd: number;
}

export interface CostModel {
  pricesAsOf: string;
  pricesNote: string;
  prices: typeof PRICES;
  assumed: typeof ASSUMED;
  memoryMb: number;
  architecture: string;
  lines: CostLine[];
  totalUsd: number;
  /** Not per delivery: the secret itself, a month. */
  fixedMonthlyUsd: CostLine[];
  /** The init phase (billed since 2025-08-01) per 1,000 cold starts of the webhook, at its measured first response. */
  coldStartsPer1000Usd: number | null;
}

const money = (usd: number) => round(usd, 4);

export function costPerMillion(input: {
  perDelivery: MeasuredDelivery;
  memoryMb: number;
  architecture: string;
  accessLogBytes: number;
  coldStartMs?: number;
}): CostModel {
  const n = 1_000_000;
  const d = input.perDelivery;
  const gb = input.memoryMb / 1024;
  const perGbSecond =
    input.architecture === 'arm64' ? PRICES.lambdaArmPerGbSecond : PRICES.lambdaX86PerGbSecond;
  const billedMs = Math.ceil(d.handlerMs + ASSUMED.s3PutMs);
  const meters = Math.max(1, Math.ceil(d.requestBytes / PRICES.apiGatewayMeterBytes));
  const storedGb = (n * d.archivedBytes) / 1024 ** 3;
  const logGb = (n * (d.logBytes + ASSUMED.platformLogBytes + input.accessLogBytes)) / 1024 ** 3;
  const secretCalls = ((30 * 86_400) / ASSUMED.secretMaxAgeSeconds) * ASSUMED.warmEnvironments;
  const publisherInvocations = (n * d.notifications) / ASSUMED.publisherBatch;
  const lines: CostLine[] = [
    {
      item: 'API Gateway HTTP API',
      basis: `1M requests × ${meters} (${Math.round(d.requestBytes / 1024)} KB each, metered per 512 KB)`,
      usd: meters * PRICES.apiGatewayHttpPerMillion,
    },
    { item: 'Lambda requests', basis: '1M invocations', usd: PRICES.lambdaRequestsPerMillion },
    {
      item: 'Lambda duration',
      basis: `${billedMs} ms × ${gb} GB (${input.architecture}, the stack's ${input.memoryMb} MB) × 1M: ${round(d.handlerMs, 1)} ms measured + ${ASSUMED.s3PutMs} ms S3 PUT assumed`,
      usd: n * (billedMs / 1000) * gb * perGbSecond,
    },
    {
      item: 'DynamoDB write request units',
      basis: `${round(d.writeUnits, 2)} WRU per delivery, counted (refused conditional writes included)`,
      usd: (d.writeUnits * n * PRICES.dynamoWritePerMillion) / 1_000_000,
    },
    {
      item: 'DynamoDB read request units',
      basis: `${round(d.readUnits, 2)} RRU per delivery, counted`,
      usd: (d.readUnits * n * PRICES.dynamoReadPerMillion) / 1_000_000,
    },
    {
      item: 'S3 PUT (raw archive)',
      basis: `${round(d.s3Puts, 2)} PUT per delivery, counted (redeliveries are archived too)`,
      usd: ((n * d.s3Puts) / 1000) * PRICES.s3PutPerThousand,
    },
    {
      item: 'S3 storage',
      basis: `${round(storedGb, 1)} GB for one month (Standard, before lifecycle rules)`,
      usd: storedGb * PRICES.s3StandardPerGbMonth,
    },
    {
      item: 'EventBridge PutEvents',
      basis: `${round(d.notificationChunks, 3)} custom events (64 KB chunks) per delivery: processed data events and status changes; assumed one entry each`,
      usd: (n * d.notificationChunks * PRICES.eventBridgePerMillion) / 1_000_000,
    },
    {
      item: 'DynamoDB Streams reads by Lambda',
      basis: 'GetRecords by an event source mapping: free',
      usd: PRICES.dynamoStreamsReadsByLambda,
    },
    {
      item: 'Publisher Lambda',
      basis: `${Math.round(publisherInvocations)} invocations of ${ASSUMED.publisherBatch} stream records, ${ASSUMED.publisherMs} ms × ${ASSUMED.publisherMemoryMb} MB, assumed`,
      usd:
        (publisherInvocations * PRICES.lambdaRequestsPerMillion) / 1_000_000 +
        publisherInvocations *
          (ASSUMED.publisherMs / 1000) *
          (ASSUMED.publisherMemoryMb / 1024) *
          perGbSecond,
    },
    {
      item: 'Secrets Manager API calls',
      basis: `cached ${ASSUMED.secretMaxAgeSeconds} s: ${secretCalls} calls a month by ${ASSUMED.warmEnvironments} warm environment (1M a month, assumed)`,
      usd: (secretCalls / 10_000) * PRICES.secretsManagerPer10kCalls,
    },
    {
      item: 'CloudWatch Logs ingestion',
      basis: `${d.logBytes} B handler log (measured) + ${ASSUMED.platformLogBytes} B Lambda lines (assumed) + ${input.accessLogBytes} B access log (the stack's format) per delivery`,
      usd: logGb * PRICES.logsIngestPerGb,
    },
  ].map((line) => ({ ...line, usd: money(line.usd) }));
  return {
    pricesAsOf: PRICES_AS_OF,
    pricesNote: PRICES_NOTE,
    prices: PRICES,
    assumed: ASSUMED,
    memoryMb: input.memoryMb,
    architecture: input.architecture,
    lines,
    totalUsd: money(lines.reduce((sum, line) => sum + line.usd, 0)),
    fixedMonthlyUsd: [
      { item: 'Secrets Manager secret', basis: '1 secret', usd: PRICES.secretsManagerPerSecretMonth },
    ],
    coldStartsPer1000Usd:
      input.coldStartMs !== undefined && Number.isFinite(input.coldStartMs)
        ? money(1000 * (input.coldStartMs / 1000) * gb * perGbSecond)
        : null,
  };
}

/** The length of one access-log line in the stack's format, its `$context` variables filled typically. */
export function accessLogBytes(format: string | undefined): number {
  if (!format) return 250;
  const typical: Record<string, string> = {
    requestId: 'AbCdEfGhIjKlMnO=',
    routeKey: 'POST /webhooks/terra',
    status: '200',
    responseLatency: '31',
    integrationErrorMessage: '-',
    'authorizer.error': '-',
    'identity.sourceIp': '203.0.113.42',
    requestTime: '01/Dec/2026:09:50:51 +0000',
  };
  return Buffer.byteLength(
    format.replace(/\$context\.([A-Za-z.]+)/g, (_, name: string) => typical[name] ?? '-'),
  );
}
