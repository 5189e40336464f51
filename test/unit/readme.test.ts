import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { LOCAL_SETTINGS } from '#local/stack';
import { SECTIONS } from '#shared/config';
import { ROUTES } from '#shared/http/routes';

/**
 * The README is the newcomer's manual: what it says about settings and routes is held to the code, so a
 * setting added to the schema or a route added to the table cannot be left out of it.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const README = readFileSync(resolve(ROOT, 'README.md'), 'utf8');

/** The lines of the README section under `## <title>`, up to the next `## `. */
function section(title: string): string {
  const start = README.indexOf(`\n## ${title}`);
  expect(start, `README has a "## ${title}" section`).toBeGreaterThan(-1);
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end === -1 ? undefined : end);
}

/** Backticked names in the first column of a section's table rows. */
function firstColumnNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const cell = /^\|([^|]*)\|/.exec(line)?.[1];
    if (!cell) continue;
    for (const match of cell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)) names.add(match[1] ?? '');
  }
  return names;
}

describe('the README', () => {
  it('starts with the two commands a newcomer needs: npm start and npm test', () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(README)?.[1] ?? '';
    expect(README.indexOf('```sh')).toBeLessThan(README.indexOf('\n## '));
    expect(firstBlock).toMatch(/^npm start\b/m);
    expect(firstBlock).toMatch(/^npm test\b/m);
  });

  it('documents exactly the variables the configuration schema reads, no more, no fewer', () => {
    const schema = new Set(Object.values(SECTIONS).flatMap((definition) => [...definition.variables]));
    const documented = firstColumnNames(section('Configuration'));
    expect(
      [...schema].filter((name) => !documented.has(name)).sort(),
      'in the schema, not in the README',
    ).toEqual([]);
    expect(
      [...documented].filter((name) => !schema.has(name)).sort(),
      'in the README, not in the schema',
    ).toEqual([]);
  });

  it('names every setting npm start passes through in the local contract', () => {
    const contract = section('Try it locally');
    const missing = LOCAL_SETTINGS.filter((name) => !contract.includes(`\`${name}\``));
    expect(missing).toEqual([]);
    for (const variable of [
      'PORT',
      'SANDBOX_PORT',
      'TERRA_CONNECT_DATA_DIR',
      'TERRA_WEBHOOK_URL',
      'EVENT_TARGET_URL',
    ]) {
      expect(contract).toContain(`\`${variable}\``);
    }
  });

  it('lists every route of the HTTP API', () => {
    const api = section('HTTP API');
    for (const route of ROUTES) {
      const path = route.path.replace('{outcome}', '{success,failure}');
      expect(api, `${route.method} ${route.path}`).toContain(`\`${route.method} ${path}`);
    }
  });

  it('links only to files inside the repository', () => {
    const links = [...README.matchAll(/\]\(([^)#]+)(#[^)]*)?\)/g)].map((match) => match[1] ?? '');
    const local = links.filter((link) => !/^https?:/.test(link));
    expect(local.filter((link) => link.startsWith('..'))).toEqual([]);
    for (const link of local) {
      expect(() => readFileSync(resolve(import.meta.dirname, '../..', link)), link).not.toThrow();
    }
  });

  it('has TypeScript snippets that compile as written, against the package they import', async () => {
    const snippets = [...README.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
    expect(snippets.length, 'the consumer example at least').toBeGreaterThan(0);
    // Inside the repository, so that `terra-connect/consumer` resolves through package.json's exports
    // as it does for an app that installs the package; `.cache/` is ignored by git and biome.
    mkdirSync(join(ROOT, '.cache'), { recursive: true });
    const dir = mkdtempSync(join(ROOT, '.cache', 'readme-snippets-'));
    try {
      snippets.forEach((code, index) => {
        writeFileSync(join(dir, `snippet-${index + 1}.ts`), code);
      });
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({ extends: '../../tsconfig.json', include: ['*.ts'], exclude: [] }),
      );
      const tsc = resolve(ROOT, 'node_modules/typescript/bin/tsc');
      const result = await promisify(execFile)(process.execPath, [tsc, '--noEmit', '-p', dir], {
        cwd: ROOT,
      }).then(
        () => '',
        (error: { stdout?: string }) => error.stdout ?? String(error),
      );
      expect(result, 'tsc on the README snippets').toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('names a Node that every locked package supports, in the README and in package.json engines', () => {
    // semver comes with npm's own tree (a dependency of several dev tools); no types of its own here.
    const semver = createRequire(import.meta.url)('semver') as {
      satisfies(version: string, range: string): boolean;
      minVersion(range: string): { version: string } | null;
    };
    const manifest = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as {
      engines: { node: string };
    };
    const lock = JSON.parse(readFileSync(resolve(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { engines?: { node?: string } | string[] }>;
    };
    const named = /Needs Node\.js (\d+\.\d+)\+/.exec(README)?.[1];
    expect(named, 'the README says "Needs Node.js X.Y+"').toBeDefined();
    // The oldest Node of each alternative the engines field allows, and the README's.
    const oldest = [
      ...manifest.engines.node.split('||').map((range) => semver.minVersion(range)?.version ?? range),
      `${named}.0`,
    ];
    expect(semver.satisfies(`${named}.0`, manifest.engines.node), 'README within engines').toBe(true);
    const unsupported = oldest.flatMap((version) =>
      Object.entries(lock.packages).flatMap(([path, entry]) => {
        const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
        return path && range && !semver.satisfies(version, range)
          ? [`${version}: ${path} wants ${range}`]
          : [];
      }),
    );
    expect(unsupported, 'npm ci would warn EBADENGINE').toEqual([]);
  });
});
