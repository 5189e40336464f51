import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

/**
 * `npm run test:mutation` (Stryker, `stryker.config.json`): the tests that pin down the files deciding
 * trust, identity and order. Pure code and in-memory ports only, so no global setup (no DynamoDB Local);
 * the real stores stay covered by the integration tests in `npm test`.
 */
export const MUTATION_TESTS = [
  'test/unit/signature.test.ts',
  'test/unit/events.test.ts',
  'test/unit/redirects.test.ts',
  'test/unit/receive.test.ts',
  'test/unit/ordering-timestamp.test.ts',
  'test/unit/callbacks.test.ts',
  'test/unit/terra-truth.test.ts',
  'test/unit/transitions.test.ts',
  'test/property/state-machine.test.ts',
];

export default defineConfig({
  ...base,
  test: { ...base.test, include: MUTATION_TESTS, globalSetup: [], reporters: ['default'] },
});
