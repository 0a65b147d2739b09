import { defineConfig } from 'vitest/config';

// Projects choose their tests by folder. test/unit/ builds no server and runs once; test/e2e/ runs
// a real server and runs on each backend; test/postgres/ (several instances, outages, the store
// under concurrency) needs PostgreSQL and Redis.
const backends = process.env.DATABASE_URL && process.env.REDIS_URL ? ['sqlite', 'postgres'] : ['sqlite'];

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // vitest's default (one file at a time on a 2-core machine); VITEST_MAX_WORKERS=2 runs two at
    // once, about 25 minutes here against 36 on CI, but under that load a stream test met a reset
    // connection once, so CI keeps the default until that is understood.
    ...(process.env.VITEST_MAX_WORKERS ? { maxWorkers: Number(process.env.VITEST_MAX_WORKERS) } : {}),
    // CI asks for a JSON report too, to print its closing count line (.ci/run).
    reporters: process.env.VITEST_JSON_REPORT
      ? ['default', ['json', { outputFile: process.env.VITEST_JSON_REPORT }]]
      : ['default'],
    // `npm test` starts PostgreSQL and Redis (scripts/with-backends.sh), so both run there; plain
    // `npx vitest` without DATABASE_URL and REDIS_URL runs SQLite only, and says so in the names.
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          env: { SECURECHAT_TEST_BACKEND: 'sqlite' },
          include: ['test/unit/**/*.test.ts'],
        },
      },
      ...backends.map((backend) => ({
        extends: true as const,
        test: {
          name: backend,
          env: { SECURECHAT_TEST_BACKEND: backend },
          include: [
            'test/e2e/**/*.test.ts',
            ...(backend === 'postgres' ? ['test/postgres/**/*.test.ts'] : []),
          ],
          // The page in Chromium runs on SQLite only: what it asks of the server, the API tests
          // check on both backends, and a browser per file on each backend doubled the suite's time.
          exclude: backend === 'postgres' ? ['test/e2e/web/**'] : [],
        },
      })),
    ],
  },
});
