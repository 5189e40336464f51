import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { node22 } from './node22.ts';

/**
 * `npm run test:mutation`: StrykerJS over the files that decide trust, identity and order
 * (stryker.config.json). Stryker 10 needs Node 22, which this project's machines may not run, so the
 * run uses Node 22 from the npm registry, fetched once into `.cache/node22`.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const node = node22(`${root}.cache/node22`, (line) => process.stderr.write(`${line}\n`));
if (node.note) process.stderr.write(`Running Stryker on ${node.version}: ${node.note}\n`);
const stryker = fileURLToPath(
  new URL('../node_modules/@stryker-mutator/core/bin/stryker.js', import.meta.url),
);
const run = spawnSync(node.path, [stryker, 'run', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
process.exit(run.status ?? 1);
