import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // package.json exports name each entry's TypeScript source under this condition: tests import
  // `terra-connect/consumer` as an app does and get this repository's code, not a build. The rest are
  // Vitest's own defaults.
  ssr: {
    resolve: {
      conditions: ['terra-connect-source', ...defaultServerConditions.filter((c) => c !== 'module')],
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    // The soak runs on its own (`npm run test:soak`), after `npm test` in CI.
    exclude: ['test/soak/**', '**/node_modules/**'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    env: { POWERTOOLS_LOG_LEVEL: 'SILENT', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
