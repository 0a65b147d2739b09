import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.js';

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('the metrics settings', () => {
  it('leave the metrics off, and on the loopback once a port is given', () => {
    expect(loadConfig({})).toMatchObject({ metricsPort: undefined, metricsHost: '127.0.0.1' });
    expect(loadConfig({ SECURECHAT_METRICS_PORT: '9464' })).toMatchObject({
      metricsPort: 9464,
      metricsHost: '127.0.0.1',
    });
    expect(loadConfig({ SECURECHAT_METRICS_PORT: '0', SECURECHAT_METRICS_HOST: '10.0.0.5' })).toMatchObject({
      metricsPort: 0,
      metricsHost: '10.0.0.5',
    });
  });

  it('name a port that is no port, one line', () => {
    for (const bad of ['abc', '-1', '65536', '9464.0', ' 9464']) {
      expect(problemsOf({ SECURECHAT_METRICS_PORT: bad }), bad).toEqual([
        `SECURECHAT_METRICS_PORT=${JSON.stringify(bad)} is invalid: expected a port number 0-65535 (0 picks a free one)`,
      ]);
    }
  });

  it("refuse the API's own port for the metrics", () => {
    expect(problemsOf({ PORT: '8080', SECURECHAT_METRICS_PORT: '8080' })).toEqual([
      'SECURECHAT_METRICS_PORT is invalid: expected a port other than PORT (8080); the metrics have a listener of their own',
    ]);
    // 0 for both: each gets a free port of its own
    expect(problemsOf({ PORT: '0', SECURECHAT_METRICS_PORT: '0' })).toEqual([]);
  });
});
