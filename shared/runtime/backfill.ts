import type { BackfillDeps } from '#shared/backfill/start';
import { type Env, SECTIONS } from '#shared/config';
import { logger } from '#shared/log';
import { BackfillStore } from '#shared/store/backfill';
import { storeWiring } from './store.ts';
import { terraClient } from './terra.ts';

/** Backfill on connect: Terra (with a patient backoff: this path has time), the plan and request items. */
export function backfillDeps(env: Env): BackfillDeps {
  const store = storeWiring(env);
  const config = SECTIONS.backfill.read(env);
  return {
    terra: terraClient(env, { backoffBaseMs: 1_000 }),
    plans: new BackfillStore(store.doc, store.config),
    days: config.days,
    types: config.types,
    now: Date.now,
    log: logger,
  };
}
