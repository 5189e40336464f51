import { Duration } from 'aws-cdk-lib';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { SECTIONS } from '#shared/config';
import { FUNCTIONS, type FunctionEntry, type Grant, readsTerraSecret } from '#shared/handlers/manifest';
import { CHECKPOINT_ID } from '#shared/store/tables';
import type { Monitoring } from './constructs/monitoring.ts';
import type { Storage } from './constructs/storage.ts';
import { TerraFunction } from './constructs/terra-function.ts';

/**
 * Each grant of the manifest (shared/handlers/manifest.ts) as what it allows on storage. A `Record` over
 * the union: a grant added there and not here does not compile.
 */
const GRANTS: Record<Grant, (storage: Storage, fn: TerraFunction) => void> = {
  records: (storage, fn) => storage.grantRecordWrites(fn),
  touch: (storage, fn) => storage.grantRecordTouch(fn),
  listing: (storage, fn) => storage.grantRecordListing(fn),
  inbox: (storage, fn) => storage.grantInbox(fn),
  archiveWrite: (storage, fn) => storage.grantArchiveWrite(fn),
  archiveRead: (storage, fn) => storage.grantArchiveRead(fn),
  deletion: (storage, fn) => storage.grantDeletion(fn),
  deletionStatus: (storage, fn) => storage.grantDeletionJobs(fn, ['dynamodb:GetItem']),
  sdkClaimOpen: (storage, fn) => storage.grantSdkClaims(fn, ['dynamodb:PutItem']),
  sdkClaimRead: (storage, fn) => storage.grantSdkClaims(fn, ['dynamodb:GetItem']),
  requestTracking: (storage, fn) => storage.grantRequestTracking(fn),
  parkedDrain: (storage, fn) => storage.grantParkedDrain(fn),
  connectionsScan: (storage, fn) => storage.grantConnectionsScan(fn),
  checkpoint: (storage, fn) => storage.grantCheckpoint(fn, CHECKPOINT_ID),
};

/** The variables of the sections a function reads, and no others. */
export function functionEnvironment(
  entry: FunctionEntry,
  settings: Record<string, string>,
): Record<string, string> {
  const wanted = new Set(FUNCTIONS[entry].sections.flatMap((name) => SECTIONS[name].variables));
  return Object.fromEntries(Object.entries(settings).filter(([name]) => wanted.has(name)));
}

export interface FunctionContext {
  storage: Storage;
  terraSecret: ISecret;
  monitoring: Monitoring;
  logRetention: RetentionDays;
  /** Every setting the construct knows; each function is given those of its sections. */
  settings: Record<string, string>;
  webhookReservedConcurrency: number;
}

/**
 * Builds a function as the manifest describes it, in the construct that owns its trigger: its size, its
 * environment, the Terra secret if it reads it, its grants on storage, its alarms. What only that
 * construct knows (a queue, the bus, a stream) it passes as `extra` settings and grants itself.
 */
export type BuildFunction = (
  scope: Construct,
  entry: FunctionEntry,
  extra?: Record<string, string>,
) => TerraFunction;

export function functionBuilder(context: FunctionContext): BuildFunction {
  return (scope, entry, extra = {}) => {
    const spec = FUNCTIONS[entry];
    const readsSecret = readsTerraSecret(entry);
    const fn = new TerraFunction(scope, entry, {
      entry,
      environment: functionEnvironment(entry, {
        ...context.settings,
        ...('settings' in spec ? spec.settings : {}),
        ...extra,
      }),
      timeout: Duration.seconds(spec.timeoutSeconds),
      memorySize: spec.memoryMb,
      logRetention: context.logRetention,
      ...('reservedConcurrency' in spec ? { reservedConcurrency: context.webhookReservedConcurrency } : {}),
      readsSecret,
    });
    if (readsSecret) context.terraSecret.grantRead(fn);
    for (const grant of spec.access) GRANTS[grant](context.storage, fn);
    context.monitoring.watchFunction(entry, fn.function);
    return fn;
  };
}
