import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EVENT_TYPES, eventJsonSchema } from '#shared/events/schemas';

/**
 * `npm run schemas`: writes the JSON Schema of each event on the bus to `schemas/events/<detail-type>.json`,
 * generated from the zod schemas in shared/events/schemas.ts, for consumers outside TypeScript (and
 * exported as `terra-connect/schemas/events/*`). test/unit/event-contracts.test.ts fails when the files
 * and the schemas differ.
 */
export const SCHEMA_DIR = resolve(import.meta.dirname, '../schemas/events');

/** File name → the JSON Schema it should hold, for every detail-type. */
export function schemaFiles(): Map<string, Record<string, unknown>> {
  return new Map(EVENT_TYPES.map((type) => [`${type}.json`, eventJsonSchema(type)]));
}

export function writeSchemaFiles(dir = SCHEMA_DIR): string[] {
  mkdirSync(dir, { recursive: true });
  const files = schemaFiles();
  // A detail-type no longer published must not linger as a contract.
  for (const name of readdirSync(dir)) if (!files.has(name)) rmSync(join(dir, name));
  const written = [...files].map(([name, schema]) => {
    const path = join(dir, name);
    writeFileSync(path, `${JSON.stringify(schema, null, 2)}\n`);
    return path;
  });
  // In the layout `npm run lint` expects, so regenerating never leaves a formatting diff behind.
  const biome = spawnSync('npx', ['biome', 'format', '--write', ...written], { stdio: 'inherit' });
  if (biome.status !== 0) throw new Error('biome could not format the schema files');
  return written;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const path of writeSchemaFiles()) console.log(`wrote ${path}`);
}
