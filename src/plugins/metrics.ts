import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Instruments } from '../bootstrap/metrics.js';
import { type Metrics, NO_METRICS } from '../util/metrics.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** What the services and the hub count (nothing at all when metrics are off). */
    metrics: Metrics;
    /** Where the metrics listener answers (`http://127.0.0.1:9464/metrics`); undefined when off. */
    metricsUrl: string | undefined;
  }
}

const host = (address: AddressInfo) => (address.family === 'IPv6' ? `[${address.address}]` : address.address);

/**
 * The metrics, with `SECURECHAT_METRICS_PORT`: `GET /metrics` in Prometheus' text format on a
 * listener of their own (127.0.0.1 unless `SECURECHAT_METRICS_HOST`), apart from the API: its
 * port, its address, and no route of the API (nor the API's limits and logs) on it. Off, the
 * services count into {@link NO_METRICS} and no port is opened.
 */
export default fp(
  async function metrics(app: FastifyInstance, { instruments }: { instruments?: Instruments }) {
    app.decorate('metrics', instruments?.metrics ?? NO_METRICS);
    app.decorate('metricsUrl', undefined);
    if (!instruments) return;
    const { config } = app;
    // read at each scrape, from the parts registered after this plugin
    instruments.gauges({
      streams: () => app.hub.size,
      loginQueue: () => app.accounts.hashing().waiting,
      pendingEpochs: () => app.store.countPendingEpochs(),
    });
    const server: Server = createServer((req, res) => {
      if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics are at /metrics\n');
        return;
      }
      instruments.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': instruments.registry.contentType }).end(text),
        (err) => {
          app.log.error({ err }, 'metrics could not be read');
          res.writeHead(500).end();
        },
      );
    });
    server.on('error', (err) => app.log.error({ err }, 'metrics listener error'));
    app.addHook('onReady', async () => {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.metricsPort, config.metricsHost, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const address = server.address() as AddressInfo;
      app.metricsUrl = `http://${host(address)}:${address.port}/metrics`;
      app.log.info({ url: app.metricsUrl }, 'metrics listening');
    });
    app.addHook('onClose', async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
  },
  { name: 'metrics', dependencies: ['config'] },
);
