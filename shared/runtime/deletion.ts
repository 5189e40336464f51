import { SqsDeletionQueue } from '#shared/aws/deletion-queue';
import { type Env, SECTIONS } from '#shared/config';
import { logger } from '#shared/log';
import type { DeletionDeps } from '#shared/privacy/deletion';
import type { DeletionQueue } from '#shared/privacy/worker';
import { DeletionStore } from '#shared/store/deletions';
import { storeWiring } from './store.ts';
import { terraClient } from './terra.ts';
import { archiveOf } from './webhook.ts';

export interface DeletionWiring extends DeletionDeps {
  queue?: DeletionQueue | undefined;
  budgetMs: number;
}

/**
 * Deleting a user: Terra, both tables, the archive, and the queue that continues a deletion (SQS in
 * AWS; local mode hands its own in-process queue).
 */
export function deletionDeps(env: Env, overrides: { queue?: DeletionQueue } = {}): DeletionWiring {
  const store = storeWiring(env);
  const deletion = SECTIONS.deletion.read(env);
  return {
    terra: terraClient(env),
    records: store.connections,
    jobs: new DeletionStore(store.doc, store.config, {
      tombstoneDays: deletion.tombstoneDays,
      now: Date.now,
    }),
    archive: archiveOf(SECTIONS.archive.read(env)),
    graceMs: deletion.graceMs,
    budgetMs: deletion.budgetMs,
    queue: overrides.queue ?? (deletion.queueUrl ? new SqsDeletionQueue(deletion.queueUrl) : undefined),
    now: Date.now,
    log: logger,
  };
}

/** `GET /me/deletion` reads the job and nothing else. */
export function deletionReader(env: Env): Pick<DeletionStore, 'job'> {
  const store = storeWiring(env);
  return new DeletionStore(store.doc, store.config, {
    tombstoneDays: SECTIONS.deletion.read(env).tombstoneDays,
    now: Date.now,
  });
}
