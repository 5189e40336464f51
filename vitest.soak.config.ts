import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

/** `npm run test:soak`: the long load test, run by CI after `npm test`. */
export default defineConfig({
  ...base,
  test: { ...base.test, include: ['test/soak/**/*.test.ts'], exclude: ['**/node_modules/**'] },
});
