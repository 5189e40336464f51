import type { WebhookResult } from './phases/webhook/worker.ts';
import { round } from './support/stats.ts';

/**
 * What 1M webhook deliveries cost on AWS: what the webhook phase counted per delivery, times list
 * prices. The prices are us-east-1 list prices AS RECALLED as of PRICES_AS_OF (the day Lambda began
 * billing the init phase), not fetched: check AWS's pricing pages before relying on them.
 */
export const PRICES_AS_OF = '2025-08-01';

/** USD per unit, in one place; the README's "Cost model" quotes these. */
export const PRICES = {
  /** HTTP API, first 300M a month; a request is metered per 512 KB. */
  apiGatewayRequest: 1.0 / 1e6,
  lambdaRequest: 0.2 / 1e6,
  lambdaGbSecondArm: 0.0000133334,
  lambdaGbSecondX86: 0.0000166667,
  /** On-demand, Standard table class, after the November 2024 cut. Stream reads by Lambda are free. */
  dynamoWriteUnit: 0.625 / 1e6,
  dynamoReadUnit: 0.125 / 1e6,
  s3Put: 0.005 / 1000,
  s3GbMonth: 0.023,
  /** A custom event is metered per 64 KB chunk. */
  eventBridgeEvent: 1.0 / 1e6,
  secretsManagerCall: 0.05 / 10_000,
  logsIngestGb: 0.5,
} as const;

/** What a local run cannot see. */
export const ASSUMED = {
  /** One PutObject of ~10 KB from Lambda to S3 in-region (in-process the archive is a directory). */
  s3PutMs: 20,
  /** Lambda's START, END and REPORT lines per invocation. */
  platformLogBytes: 300,
  /** DynamoDB Streams → EventBridge publisher: records per invocation, its duration and memory. */
  publisherBatch: 100,
  publisherMs: 60,
  publisherMemoryMb: 512,
  /** 1M deliveries a month keep about one environment warm, re-reading the secret every 5 minutes. */
  secretCallsPerMonth: (30 * 86_400) / 300,
  deliveriesPerMonth: 1_000_000,
} as const;

export interface CostModel {
  totalUsd: number;
  /** Units per delivery by price, and what they come to per 1M deliveries. */
  lines: Array<{ price: keyof typeof PRICES; perDelivery: number; usdPer1M: number }>;
  pricesAsOf: string;
  prices: typeof PRICES;
  assumed: typeof ASSUMED;
}

const GB = 1024 ** 3;

export function costPerMillion(
  webhook: WebhookResult,
  fn: { memoryMb: number; architecture: string },
  accessLogFormat: string | undefined,
): CostModel {
  const gb = fn.memoryMb / 1024;
  const publishes = webhook.notifications.eventsPerDelivery / ASSUMED.publisherBatch;
  const perDelivery: Partial<Record<keyof typeof PRICES, number>> = {
    apiGatewayRequest: Math.max(1, Math.ceil(webhook.requestBytes / (512 * 1024))),
    lambdaRequest: 1 + publishes,
    // Lambda bills whole milliseconds of the webhook; the publisher's share rides on the same price.
    [fn.architecture === 'arm64' ? 'lambdaGbSecondArm' : 'lambdaGbSecondX86']:
      (Math.ceil(webhook.meanDurationMs + ASSUMED.s3PutMs) / 1000) * gb +
      publishes * (ASSUMED.publisherMs / 1000) * (ASSUMED.publisherMemoryMb / 1024),
    // Refused conditional writes are billed too; the worker counts them in.
    dynamoWriteUnit: webhook.all.meanWriteUnits,
    dynamoReadUnit: webhook.all.meanReadUnits,
    s3Put: webhook.archive.putsPerDelivery,
    s3GbMonth: webhook.archive.bytesPerDelivery / GB,
    eventBridgeEvent: webhook.notifications.chunksPerDelivery,
    secretsManagerCall: ASSUMED.secretCallsPerMonth / ASSUMED.deliveriesPerMonth,
    logsIngestGb:
      (webhook.logBytesPerDelivery + ASSUMED.platformLogBytes + accessLogBytes(accessLogFormat)) / GB,
  };
  const lines = Object.entries(perDelivery).map(([price, units]) => ({
    price: price as keyof typeof PRICES,
    perDelivery: units,
    usdPer1M: round(1e6 * units * PRICES[price as keyof typeof PRICES], 4),
  }));
  return {
    totalUsd: round(
      lines.reduce((sum, line) => sum + line.usdPer1M, 0),
      2,
    ),
    lines,
    pricesAsOf: PRICES_AS_OF,
    prices: PRICES,
    assumed: ASSUMED,
  };
}

/** One access-log line in the stack's format, its `$context` variables filled with typical values. */
function accessLogBytes(format: string | undefined): number {
  if (!format) return 250;
  const typical: Record<string, string> = {
    requestId: 'AbCdEfGhIjKlMnO=',
    routeKey: 'POST /webhooks/terra',
    status: '200',
    responseLatency: '31',
    'identity.sourceIp': '203.0.113.42',
    requestTime: '01/Dec/2026:09:50:51 +0000',
  };
  return Buffer.byteLength(
    format.replace(/\$context\.([A-Za-z.]+)/g, (_, name: string) => typical[name] ?? '-'),
  );
}
