import { defineConfig } from 'vitest/config';

// Tests with no server in them run once; every server test runs against both backends; the tests
// in test/postgres/ (several instances, outages, the store under concurrency) need PostgreSQL and Redis.
const SERVERLESS = [
  'test/crypto/crypto.test.ts',
  'test/crypto/encodings.test.ts',
  'test/config.test.ts',
  'test/bus/relay.test.ts',
  'test/services/chat-change.test.ts',
  'test/services/chat-queue.test.ts',
  'test/services/envelopes.test.ts',
  'test/services/registration.test.ts',
  'test/services/epochs.test.ts',
  'test/services/limiter.test.ts',
  'test/util/json-depth.test.ts',
  'test/services/rotation-sweep.test.ts',
  'test/store/sqlite.test.ts',
  'test/architecture.test.ts',
  'test/store/refusals.test.ts',
  'test/bus/memory.test.ts',
  'test/store/migration-6.test.ts',
  'test/store/group-commit.test.ts',
  'test/store/spans.test.ts',
  'test/store/code-holds.test.ts',
  'test/store/duplicates.test.ts',
  'test/sse/connection.test.ts',
  'test/client/browser.test.ts',
  'test/client/checks.test.ts',
  'test/client/epoch-order.test.ts',
  'test/client/text.test.ts',
  'test/client/crypto.test.ts',
  'test/client/dsa.test.ts',
  'test/client/keygen.test.ts',
  'test/client/members.test.ts',
  'test/client/sse.test.ts',
  'test/web/tar.test.ts',
  'test/bench/workers.test.ts',
  // the new layout: everything under test/unit/ runs without a server
  'test/unit/**',
];
const backends = process.env.DATABASE_URL && process.env.REDIS_URL ? ['sqlite', 'postgres'] : ['sqlite'];

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // CI asks for a JSON report too, to print its closing count line (.ci/run).
    reporters: process.env.VITEST_JSON_REPORT
      ? ['default', ['json', { outputFile: process.env.VITEST_JSON_REPORT }]]
      : ['default'],
    // `npm test` starts PostgreSQL and Redis (scripts/with-backends.sh), so both run there; plain
    // `npx vitest` without DATABASE_URL and REDIS_URL runs SQLite only, and says so in the names.
    projects: backends.map((backend) => ({
      extends: true,
      test: {
        name: backend,
        env: { SECURECHAT_TEST_BACKEND: backend },
        include: ['test/**/*.test.ts'],
        exclude: backend === 'sqlite' ? ['test/postgres/**'] : SERVERLESS,
      },
    })),
  },
});
