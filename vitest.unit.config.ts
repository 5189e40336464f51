import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

/**
 * `npm run test:unit`: the inner loop. Pure code and in-process servers only: no DynamoDB Local (no
 * Java), no browser, so no global setup. `npm test` runs these and everything else.
 */
export const UNIT_TESTS = [
  'test/unit/**/*.test.ts',
  'test/property/**/*.test.ts',
  'test/sandbox/**/*.test.ts',
];

export default defineConfig({
  ...base,
  test: { ...base.test, include: UNIT_TESTS, globalSetup: [] },
});
