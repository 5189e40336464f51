import type { SECTIONS } from '#shared/config';

/**
 * Every function, once: what calls it, which configuration sections it reads, what it may touch, and
 * its size. The CDK construct builds each function from its entry here (infra/terra-connect.ts), the
 * HTTP API's routes and the OpenAPI document are its `route`s (shared/http/routes.ts), local mode and the
 * bench build the same handlers from the same list (shared/handlers/index.ts maps each routed entry to
 * its handler, a missing one is a type error), and the bench reads sizes from the synthesized template.
 *
 * Adding a function is one entry here plus its file in `functions/` and its handler factory
 * (docs/how-to/add-an-app-route.md): the compiler names the code that is missing, the stack, docs and
 * README tests the files and rows.
 */
export type SectionName = keyof typeof SECTIONS;

/**
 * What a function may do to storage, beyond its logs (and the Terra secret, which a function reading the
 * `terra` or `webhook` section gets). infra/functions.ts maps each to its grant on the tables and the
 * archive; a grant without a mapping is a type error there.
 */
export type Grant =
  | 'records'
  | 'touch'
  | 'listing'
  | 'inbox'
  | 'archiveWrite'
  | 'archiveRead'
  | 'deletion'
  | 'deletionStatus'
  | 'sdkClaimOpen'
  | 'sdkClaimRead'
  | 'requestTracking'
  | 'parkedDrain'
  | 'connectionsScan'
  | 'checkpoint';

export interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  auth: 'jwt' | 'none';
}

/**
 * How a function that no route calls is invoked; the construct that owns the trigger wires it (the
 * schedule in terra-connect.ts, the streams in event-delivery.ts, the queue in deletion.ts).
 */
export type Trigger = 'schedule' | 'outbox-streams' | 'connections-stream' | 'deletion-queue';

interface FunctionSpec {
  /** The sections of shared/config.ts it reads: it gets exactly their variables and no others. */
  readonly sections: readonly SectionName[];
  readonly route?: Route;
  readonly trigger?: Trigger;
  readonly access: readonly Grant[];
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  /** Settings this function always runs with, over the defaults of shared/config.ts. */
  readonly settings?: Readonly<Record<string, string>>;
  /** Runs within its own concurrency budget (the construct's `webhookReservedConcurrency`). */
  readonly reservedConcurrency?: true;
}

const APP_ROUTE = { memoryMb: 512, timeoutSeconds: 10 } as const;

export const FUNCTIONS = {
  'terra-webhook': {
    sections: ['webhook', 'inbox', 'store', 'archive', 'payload'],
    route: { method: 'POST', path: '/webhooks/terra', auth: 'none' },
    access: ['records', 'touch', 'inbox', 'archiveWrite'],
    // More memory is more CPU: the signature check and the archive write are the first answer's time.
    memoryMb: 1024,
    // Terra waits ~8 s for an answer; the receiver must fail (and be retried) well before.
    timeoutSeconds: 5,
    reservedConcurrency: true,
  },
  'create-session': {
    sections: ['identity', 'terra', 'providers', 'connect'],
    route: { method: 'POST', path: '/sessions', auth: 'jwt' },
    access: [],
    ...APP_ROUTE,
  },
  'create-connection': {
    sections: ['identity', 'terra', 'providers', 'connect', 'store'],
    route: { method: 'POST', path: '/connections', auth: 'jwt' },
    access: ['records'],
    ...APP_ROUTE,
  },
  'list-connections': {
    sections: ['identity', 'terra', 'providers', 'connect', 'store'],
    route: { method: 'GET', path: '/connections', auth: 'jwt' },
    // `?refresh=true` applies what Terra says before listing; an SDK-only user only under the caller's claim.
    access: ['records', 'listing', 'sdkClaimRead'],
    ...APP_ROUTE,
  },
  'delete-connection': {
    sections: ['identity', 'terra', 'providers', 'connect', 'store'],
    route: { method: 'DELETE', path: '/connections/{user_id}', auth: 'jwt' },
    access: ['records'],
    ...APP_ROUTE,
  },
  'list-providers': {
    sections: ['identity', 'terra', 'providers'],
    route: { method: 'GET', path: '/providers', auth: 'jwt' },
    access: [],
    ...APP_ROUTE,
  },
  'create-sdk-token': {
    sections: ['identity', 'terra', 'providers', 'store'],
    route: { method: 'POST', path: '/sdk-token', auth: 'jwt' },
    // The token names no app user: the caller's claim is what binds the SDK connection to them.
    access: ['sdkClaimOpen'],
    ...APP_ROUTE,
  },
  'terra-callback': {
    sections: ['terra', 'providers', 'connect', 'store'],
    route: { method: 'GET', path: '/callbacks/terra/{outcome}', auth: 'none' },
    access: ['records'],
    ...APP_ROUTE,
  },
  'delete-me': {
    sections: ['identity', 'terra', 'store', 'archive', 'deletion'],
    route: { method: 'DELETE', path: '/me', auth: 'jwt' },
    // Also queues the deletion's next steps (Deletion.letStart).
    access: ['deletion'],
    ...APP_ROUTE,
  },
  'get-deletion': {
    sections: ['identity', 'store', 'deletion'],
    route: { method: 'GET', path: '/me/deletion', auth: 'jwt' },
    access: ['deletionStatus'],
    ...APP_ROUTE,
  },
  reconcile: {
    sections: ['terra', 'store'],
    trigger: 'schedule',
    access: ['records', 'connectionsScan', 'checkpoint'],
    memoryMb: 512,
    // Pages through every Terra user; a run that reaches its deadline checkpoints and the next resumes.
    timeoutSeconds: 600,
  },
  publisher: {
    sections: ['store', 'inbox', 'archive', 'events'],
    trigger: 'outbox-streams',
    // The records' owner and the data requests; a new record's parked deliveries (docs/decisions/0020).
    access: ['requestTracking', 'parkedDrain', 'archiveRead'],
    memoryMb: 512,
    timeoutSeconds: 60,
  },
  backfill: {
    sections: ['terra', 'store', 'backfill'],
    trigger: 'connections-stream',
    access: ['requestTracking'],
    memoryMb: 512,
    timeoutSeconds: 300,
    // No user waits on it: Terra gets five attempts and a minute each, where an app route gives up sooner.
    settings: { TERRA_MAX_ATTEMPTS: '5', TERRA_DEADLINE_MS: '60000' },
  },
  'deletion-worker': {
    sections: ['terra', 'store', 'archive', 'deletion'],
    trigger: 'deletion-queue',
    access: ['deletion'],
    memoryMb: 512,
    timeoutSeconds: 300,
  },
} as const satisfies Record<string, FunctionSpec>;

export type FunctionEntry = keyof typeof FUNCTIONS;

/** The entries an HTTP route calls. */
export type HttpEntry = {
  [Entry in FunctionEntry]: (typeof FUNCTIONS)[Entry] extends { route: Route } ? Entry : never;
}[FunctionEntry];

type RouteOf<Entry extends HttpEntry> = (typeof FUNCTIONS)[Entry]['route'];

/** Every route as API Gateway names it, `METHOD /path`: what the OpenAPI operations are keyed by. */
export type RouteKey = {
  [Entry in HttpEntry]: `${RouteOf<Entry>['method']} ${RouteOf<Entry>['path']}`;
}[HttpEntry];

export const FUNCTION_ENTRIES = Object.keys(FUNCTIONS) as FunctionEntry[];

/** The sections each function reads, by entry. */
export const sectionsOf = (entry: FunctionEntry): readonly SectionName[] => FUNCTIONS[entry].sections;

/** Functions that talk to Terra or check its signatures read the Terra secret; no other does. */
export function readsTerraSecret(entry: FunctionEntry): boolean {
  const sections: readonly SectionName[] = FUNCTIONS[entry].sections;
  return sections.includes('terra') || sections.includes('webhook');
}
