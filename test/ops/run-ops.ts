import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { expect } from 'vitest';

/**
 * The operations CLI run for real, as an operator runs it (`tsx ops/main.ts …`), in a child
 * process whose environment names only the stack it should find: nothing of this shell leaks in.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const TSX = resolve(ROOT, 'node_modules/.bin/tsx');

export interface OpsRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed (only with --json). */
  json: Record<string, unknown>;
}

/** The environment of a shell that never ran a stack, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const ours =
    /^(TERRA_|CONNECTIONS_TABLE|INBOX_TABLE|DYNAMODB_ENDPOINT|ARCHIVE_|PUBLIC_API_URL|REDIRECT_TARGETS|EVENT_TARGET_URL|PORT$|DELETION_|AWS_)/;
  for (const [name, value] of Object.entries(process.env)) if (!ours.test(name)) env[name] = value;
  return { ...env, ...extra };
}

export function runOps(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<OpsRun> {
  return new Promise((done) => {
    execFile(
      TSX,
      ['ops/main.ts', ...args],
      { cwd: ROOT, env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        let json: Record<string, unknown> = {};
        if (args.includes('--json')) {
          try {
            json = JSON.parse(stdout) as Record<string, unknown>;
          } catch {
            expect.fail(
              `--json output is not one JSON document (exit ${code}):\n${stdout}\n--- stderr\n${stderr}`,
            );
          }
        }
        done({ code, stdout, stderr, json });
      },
    );
  });
}

/** Runs the CLI against the local stack whose data directory this is. */
export function opsAgainst(dataDir: string, extra: Record<string, string> = {}) {
  return (...args: string[]) => runOps(args, cleanEnv({ TERRA_CONNECT_DATA_DIR: dataDir, ...extra }));
}
