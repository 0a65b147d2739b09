import { int, text } from './parse.js';
import { setting } from './read.js';

/**
 * The Prometheus metrics' own listener, apart from the API: off unless a port is given, and on
 * the loopback unless a host is (the metrics are for the operator's scraper, not the world).
 */
export const metricsSettings = {
  metricsPort: setting<number | undefined>(
    'SECURECHAT_METRICS_PORT',
    undefined,
    int(0, 65535),
    'a port number 0-65535 (0 picks a free one)',
  ),
  metricsHost: setting('SECURECHAT_METRICS_HOST', '127.0.0.1', text, 'a host name or address'),
};
