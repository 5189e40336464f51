import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FUNCTION_ENTRIES, FUNCTIONS, type FunctionEntry } from '#shared/handlers/manifest';
import { ROUTES } from '#shared/http/routes';

/**
 * The docs a newcomer follows, held to the code: the how-to pages name every file a new route or a new
 * Terra event type touches (judged by the files that name an existing one), and architecture.md's
 * per-function table is the manifest's.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** Where code that a new route or event type could touch lives; tests and generated output aside. */
const SOURCE_DIRS = ['shared', 'functions', 'infra', 'local', 'bench', 'client', 'demo', 'ops', 'sandbox'];

function sourceFiles(): string[] {
  return SOURCE_DIRS.filter((dir) => existsSync(join(ROOT, dir))).flatMap((dir) =>
    readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
      .filter((file) => /\.(ts|html)$/.test(file) && !file.split('/').includes('node_modules'))
      .map((file) => `${dir}/${file}`),
  );
}

/** The repository paths a page names in code spans, `<entry>` standing for `example`. */
function namedPaths(page: string, example: string): string[] {
  return [...read(page).matchAll(/`([^`\s]+)`/g)]
    .map((match) => (match[1] ?? '').replace('<entry>', example))
    .filter((path) => /^[a-z][\w.-]*\/[\w./-]*\.(ts|md|json)$|^openapi\.json$/.test(path));
}

/** The source files that name any of `names` as a string literal. */
function filesNaming(names: readonly string[]): string[] {
  const quoted = names.flatMap((name) => [`'${name}'`, `"${name}"`]);
  return sourceFiles().filter((file) => quoted.some((literal) => read(file).includes(literal)));
}

describe('docs/how-to/add-an-app-route.md', () => {
  const page = 'docs/how-to/add-an-app-route.md';
  const appEntries = ROUTES.filter((route) => route.auth === 'jwt').map((route) => route.entry);

  it('names files that exist', () => {
    const named = namedPaths(page, 'get-deletion');
    expect(named.length).toBeGreaterThan(8);
    for (const path of named) expect(existsSync(join(ROOT, path)), path).toBe(true);
  });

  it('names every file that names an app route’s entry, so a new route misses none', () => {
    for (const entry of appEntries) {
      const named = new Set([
        ...namedPaths(page, entry),
        `functions/${entry}.ts`,
        `shared/handlers/${entry}.ts`,
      ]);
      const touching = filesNaming([entry]);
      expect(touching.length, entry).toBeGreaterThan(1);
      expect(
        touching.filter((file) => !named.has(file)),
        `${entry} is named in files the how-to does not list`,
      ).toEqual([]);
    }
  });
});

describe('docs/how-to/add-a-terra-event-type.md', () => {
  const page = 'docs/how-to/add-a-terra-event-type.md';

  it('names files that exist', () => {
    for (const path of namedPaths(page, '')) expect(existsSync(join(ROOT, path)), path).toBe(true);
  });

  it('names every file that names its example types, so a new type misses none', () => {
    const named = new Set(namedPaths(page, ''));
    const touching = filesNaming(['connection_error', 'permission_change']);
    expect(touching).toContain('shared/terra/events.ts');
    expect(touching.filter((file) => !named.has(file))).toEqual([]);
  });
});

describe('docs/architecture.md, "Configuration per function"', () => {
  const text = read('docs/architecture.md');
  const section = text.slice(text.indexOf('\n## Configuration per function\n'));
  const rows = new Map(
    [...section.matchAll(/^\| `([\w-]+)` \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$/gm)].map((row) => [
      row[1] ?? '',
      { sections: row[2]?.trim() ?? '', size: row[3]?.trim() ?? '', trigger: row[4]?.trim() ?? '' },
    ]),
  );
  const duration = (seconds: number) => (seconds >= 60 ? `${seconds / 60} min` : `${seconds} s`);

  it('has one row per function of the manifest', () => {
    expect([...rows.keys()].sort()).toEqual([...FUNCTION_ENTRIES].sort());
  });

  it.each(FUNCTION_ENTRIES)(
    'tells %s’s sections, size and route as the manifest does',
    (entry: FunctionEntry) => {
      const spec = FUNCTIONS[entry];
      const row = rows.get(entry);
      expect(row?.sections).toBe(spec.sections.join(', '));
      expect(row?.size.startsWith(`${duration(spec.timeoutSeconds)} / ${spec.memoryMb} MB`)).toBe(true);
      if ('route' in spec) expect(row?.trigger).toBe(`\`${spec.route.method} ${spec.route.path}\``);
    },
  );

  it('keeps its claim about defaults: the cdk.json mapping sets none of its own', () => {
    expect(section).toMatch(/Defaults live in `DEFAULTS`/);
    expect(read('infra/context.ts')).not.toMatch(/\.default\(|\?\?\s*\d/);
  });
});
