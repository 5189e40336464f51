import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * Serves the demo page from the local API: `/` (the page), `/demo/app.js` (app.ts and api.ts, compiled
 * here in memory so no build output is committed), `/demo/style.css` and `/demo/config` (where the
 * sandbox is, which only local mode knows).
 */
export interface DemoConfig {
  sandbox_url: string | null;
  terra_api_url: string;
}

export interface Demo {
  /** Answers the demo's own paths; false for anything else. */
  handle(request: IncomingMessage, response: ServerResponse, url: URL): boolean;
  configure(config: DemoConfig): void;
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

export async function createDemo(): Promise<Demo> {
  const compiled = await build({
    entryPoints: [here('./app.ts')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    // Inline source maps: the browser's dev tools show the TypeScript a reader would copy.
    sourcemap: 'inline',
    write: false,
    logLevel: 'silent',
  });
  const files = new Map<string, { type: string; body: string | Uint8Array }>([
    ['/', { type: 'text/html; charset=utf-8', body: readFileSync(here('./index.html'), 'utf8') }],
    [
      '/demo/app.js',
      { type: 'text/javascript; charset=utf-8', body: compiled.outputFiles[0]?.contents ?? '' },
    ],
    ['/demo/style.css', { type: 'text/css; charset=utf-8', body: readFileSync(here('./style.css'), 'utf8') }],
  ]);
  let config: DemoConfig = { sandbox_url: null, terra_api_url: '' };

  return {
    configure(next) {
      config = next;
    },
    handle(request, response, url) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return false;
      const file =
        url.pathname === '/demo/config'
          ? { type: 'application/json', body: JSON.stringify(config) }
          : files.get(url.pathname);
      if (!file) return false;
      response.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(file.body);
      return true;
    },
  };
}
