import type { SECTIONS } from '#shared/config';

/**
 * Which configuration sections each function reads: the stack gives a function exactly these
 * variables and no others, and a test builds every handler from what the stack gives it, so a function
 * can neither miss a setting nor depend on one it was not meant to read.
 */
export type SectionName = keyof typeof SECTIONS;

export const FUNCTION_CONFIG = {
  'terra-webhook': ['webhook', 'inbox', 'store', 'archive', 'payload'],
  'create-session': ['identity', 'terra', 'providers', 'connect'],
  'create-connection': ['identity', 'terra', 'providers', 'connect', 'store'],
  'list-connections': ['identity', 'terra', 'providers', 'connect', 'store'],
  'delete-connection': ['identity', 'terra', 'providers', 'connect', 'store'],
  'list-providers': ['identity', 'terra', 'providers'],
  'create-sdk-token': ['identity', 'terra', 'providers', 'store'],
  'terra-callback': ['terra', 'providers', 'connect', 'store'],
  reconcile: ['terra', 'store'],
  publisher: ['store', 'inbox', 'archive', 'events'],
  backfill: ['terra', 'store', 'backfill'],
  'delete-me': ['identity', 'terra', 'store', 'archive', 'deletion'],
  'get-deletion': ['identity', 'store', 'deletion'],
  'deletion-worker': ['terra', 'store', 'archive', 'deletion'],
} as const satisfies Record<string, readonly SectionName[]>;

export type FunctionEntry = keyof typeof FUNCTION_CONFIG;
