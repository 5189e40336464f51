import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type NodeBinary, node22, nodeVersion } from '#local/node22';
import { BUILD_DIR } from './paths.ts';

export type { NodeBinary } from '#local/node22';

/**
 * Lambda runs Node 22; the host may not. `BENCH_NODE22` names a binary (`off` uses the host's Node);
 * otherwise the official build from the npm registry, installed once into `bench/.build/node22`
 * (`local/node22.ts`, shared with the mutation run).
 */
export function lambdaNode(log: (line: string) => void): NodeBinary {
  const configured = process.env.BENCH_NODE22;
  const host = (note: string): NodeBinary => ({ path: process.execPath, version: process.version, note });
  if (configured === 'off' || configured === '0') return host('BENCH_NODE22=off');
  if (configured) {
    if (existsSync(configured)) return { path: configured, version: nodeVersion(configured) };
    return host(`BENCH_NODE22=${configured} does not exist`);
  }
  return node22(join(BUILD_DIR, 'node22'), log);
}
