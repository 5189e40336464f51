import { fileURLToPath } from 'node:url';

/**
 * Patched copies of function bundles that prove what a cold-start fix would gain before anyone changes
 * `shared/`. Each patch swaps one module of the bundle for a file here, or rewrites its source; when the
 * source no longer looks the way a rewrite expects (the fix landed, or the code moved), the proof is
 * reported as not applicable instead of measuring something else.
 */
export interface Patch {
  /** Repository-relative source file (`shared/…`) or a bare package specifier. */
  target: string;
  /** Replace the module with this file. */
  use?: string;
  /** Or rewrite its source; undefined when the source no longer has what the rewrite expects. */
  rewrite?: (source: string) => string | undefined;
  /** Or (bare specifiers) replace the package with generated JavaScript. */
  generate?: () => Promise<string>;
}

export interface Proof {
  id: string;
  function: string;
  lever: string;
  /** What to change in the source, for the closing note. */
  fix: string;
  patches: Patch[];
}

export const FIXES = {
  archive:
    'shared/aws/s3-archive.ts: send the one PutObject as a SigV4-signed HTTPS PUT (bench/proofs/s3-archive.ts + sigv4.ts, checked against @smithy/signature-v4) instead of bundling and constructing an S3Client',
  secret:
    "shared/terra/credentials.ts: read the secret with one signed GetSecretValue behind the same max-age cache (bench/proofs/get-secret.ts) instead of Powertools Parameters' SecretsProvider, which bundles @aws-sdk/client-secrets-manager (or use the Parameters and Secrets Lambda extension over localhost)",
  logger:
    'shared/log.ts: a plain JSON-lines logger (bench/proofs/log.ts) instead of Powertools Logger, if its extras (sampling, Lambda context, child loggers) are not needed',
  zodEverywhere:
    "zod/mini (`import * as z from 'zod/mini'`) in every module these functions load — shared/config.ts (each section built on first read), http/route.ts, http/bodies.ts, connections/queries.ts, terra/client.ts, terra/credentials.ts",
  zod: "shared/config.ts, shared/terra/events.ts, shared/terra/credentials.ts: `import * as z from 'zod/mini'` (tree-shakable, cheap to construct) and build each config section's schema on first read; shared/runtime/store.ts: move connectDeps/reconcileDeps to their own module so the webhook stops importing runtime/terra.ts and the Terra client's schemas",
} as const;

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** Replaces the text between two anchors (the first anchor included, the second kept). */
function between(source: string, from: string, to: string, replacement: string): string | undefined {
  const start = source.indexOf(from);
  const end = source.indexOf(to, start);
  if (start < 0 || end < 0) return undefined;
  return source.slice(0, start) + replacement + source.slice(end);
}

function toZodMini(source: string, from: string, to: string, block: string): string | undefined {
  if (!source.includes("import * as z from 'zod';")) return undefined;
  return between(source, from, to, block)?.replace(
    "import * as z from 'zod';",
    "import * as z from 'zod/mini';",
  );
}

/**
 * Not a fix, a bound: zod replaced by a chainable stub exporting every name zod exports, so schemas cost
 * nothing to build. What is left is what no zod change (zod/mini or otherwise) can remove.
 */
const zodStub: Patch = {
  target: 'zod',
  generate: async () => {
    const names = Object.keys(await import('zod')).filter(
      (name) => name !== 'default' && /^[A-Za-z_$][\w$]*$/.test(name),
    );
    return `const handler = { get: (_t, key) => (key === 'then' ? undefined : key === Symbol.toPrimitive ? () => '' : s), apply: () => s, construct: () => s };
const s = new Proxy(function () {}, handler);
export { ${names.map((name) => `s as ${name}`).join(', ')} };
export default s;
`;
  },
};
const lightLogger: Patch = { target: 'shared/log.ts', use: here('./log.ts') };
const lightArchive: Patch = { target: 'shared/aws/s3-archive.ts', use: here('./s3-archive.ts') };
const lightSecret: Patch = {
  target: '@aws-lambda-powertools/parameters/secrets',
  use: here('./get-secret.ts'),
};
const zodMini: Patch[] = [
  { target: 'shared/config.ts', use: here('./config-mini.ts') },
  {
    target: 'shared/terra/events.ts',
    rewrite: (source) =>
      toZodMini(
        source,
        'const id = z.',
        '// Every user-scoped data event',
        `const id = z.string().check(z.trim(), z.minLength(1), z.maxLength(256));
const optionalText = z.nullish(z.string().check(z.maxLength(4096)));
const terraUser = z.looseObject({
  user_id: id,
  provider: z.optional(z.string().check(z.trim(), z.minLength(1), z.maxLength(64))),
  scopes: optionalText,
  reference_id: z.nullish(z.string().check(z.maxLength(256))),
});
type TerraUser = z.infer<typeof terraUser>;
const base = z.looseObject({
  type: z.string().check(z.minLength(1), z.maxLength(64)),
  status: z.nullish(z.string()),
  message: optionalText,
  reason: optionalText,
  reference_id: z.nullish(z.string().check(z.maxLength(256))),
});
const withUser = z.extend(base, { user: terraUser });
const reauth = z.extend(base, { new_user: terraUser, old_user: z.nullish(terraUser) });
const permissionChange = z.extend(withUser, { scopes_added: optionalText, scopes_removed: optionalText });
`,
      ),
  },
  {
    target: 'shared/terra/credentials.ts',
    rewrite: (source) =>
      toZodMini(
        source,
        'const secretValue = z.object({',
        'export class SecretError',
        `const text = () => z.string().check(z.trim(), z.minLength(1));
const secretValue = z.object({
  dev_id: text(),
  api_key: text(),
  signing_secret: text(),
  signing_secret_previous: z.optional(z.string().check(z.trim())),
});

`,
      ),
  },
  {
    // The webhook's wiring imports the Terra client (and its classic-zod schemas) only for connectDeps.
    target: 'shared/runtime/store.ts',
    rewrite: (source) => {
      const line = "import { terraDeps } from './terra.ts';";
      if (!source.includes(line)) return undefined;
      return source.replace(
        line,
        "const terraDeps = (): never => { throw new Error('split out of the webhook in this proof'); };",
      );
    },
  },
];

export const PROOFS: Proof[] = [
  {
    id: 'terra-webhook · S3 PUT signed by hand',
    function: 'terra-webhook',
    lever: 'archive with one SigV4-signed PUT instead of @aws-sdk/client-s3',
    fix: FIXES.archive,
    patches: [lightArchive],
  },
  {
    id: 'terra-webhook · secret read signed by hand',
    function: 'terra-webhook',
    lever: 'one SigV4-signed GetSecretValue instead of Powertools Parameters + client-secrets-manager',
    fix: FIXES.secret,
    patches: [lightSecret],
  },
  {
    id: 'terra-webhook · zod/mini',
    function: 'terra-webhook',
    lever: 'zod/mini for config, events and the secret shape; Terra client out of the webhook wiring',
    fix: FIXES.zod,
    patches: zodMini,
  },
  {
    id: 'terra-webhook · all three',
    function: 'terra-webhook',
    lever: 'the three levers above together',
    fix: 'all three',
    patches: [lightArchive, lightSecret, ...zodMini],
  },
  {
    id: 'terra-webhook · all three + plain logger',
    function: 'terra-webhook',
    lever: 'the three levers and a JSON-lines logger instead of Powertools Logger',
    fix: FIXES.logger,
    patches: [lightArchive, lightSecret, ...zodMini, lightLogger],
  },
  {
    id: 'list-connections · secret read signed by hand',
    function: 'list-connections',
    lever: 'one SigV4-signed GetSecretValue instead of Powertools Parameters + client-secrets-manager',
    fix: FIXES.secret,
    patches: [lightSecret],
  },
  {
    id: 'list-connections · secret signed by hand, zod stubbed (bound)',
    function: 'list-connections',
    lever: 'the secret lever plus zod costing nothing: the most any zod change can give',
    fix: FIXES.zodEverywhere,
    patches: [lightSecret, zodStub],
  },
  {
    id: 'list-providers · secret read signed by hand',
    function: 'list-providers',
    lever: 'no AWS SDK at all: one SigV4-signed GetSecretValue',
    fix: FIXES.secret,
    patches: [lightSecret],
  },
];
