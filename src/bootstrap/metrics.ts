import { performance } from 'node:perf_hooks';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Bus, Fanout } from '../bus/types.js';
import type { Store } from '../store/types.js';
import type { Metrics, StreamCut } from '../util/metrics.js';

/** Seconds: from a fast request or query (5 ms) to a slow one (10 s). */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Store queries and bus publications are quicker: from a quarter of a millisecond. */
const FAST_BUCKETS = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** What the scrape reads from the running app (gauges are read then, never kept up to date). */
export interface GaugeSources {
  streams: () => number;
  loginQueue: () => number;
  pendingEpochs: () => Promise<number>;
}

/**
 * The Prometheus side of the metrics (prom-client, one registry per app): the domain's counts (the
 * {@link Metrics} port), the HTTP histogram, the store's and the bus's timings (wrappers, so that
 * neither knows of metrics), the gauges read at scrape, and the default process and Node.js metrics
 * (event-loop lag, heap, GC). Label values come from fixed sets only: operation ids, route
 * templates, problem codes, reasons; never a username, chat id, token or address.
 */
export function createInstruments() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const http = new Histogram({
    name: 'securechat_http_request_duration_seconds',
    help: 'HTTP requests by method, route template and status class, until answered (streams: until they end)',
    labelNames: ['method', 'route', 'status_class'],
    buckets: BUCKETS,
    registers,
  });
  const rateLimited = new Counter({
    name: 'securechat_rate_limited_total',
    help: 'Requests answered 429 (a rate limit or cap), by operation',
    labelNames: ['operation'],
    registers,
  });
  const messages = new Counter({
    name: 'securechat_messages_total',
    help: 'Message posts that reached the checks: accepted, or the problem code of the refusal',
    labelNames: ['result'],
    registers,
  });
  const deliveries = new Counter({
    name: 'securechat_deliveries_total',
    help: 'Events written to streams (one per stream reached)',
    registers,
  });
  const cuts = new Counter({
    name: 'securechat_sse_cut_total',
    help: 'Event streams the server ended, by reason (the client resumes with Last-Event-ID)',
    labelNames: ['reason'],
    registers,
  });
  const logins = new Counter({
    name: 'securechat_logins_total',
    help: 'Logins that reached the password check: success, or the problem code of the refusal',
    labelNames: ['result'],
    registers,
  });
  const rotations = new Counter({
    name: 'securechat_key_rotations_total',
    help: "Chat key rotations, by key mode and reason (members mode: at the member's commit)",
    labelNames: ['mode', 'reason'],
    registers,
  });
  const storeSeconds = new Histogram({
    name: 'securechat_store_seconds',
    help: 'Store operations (SQLite or PostgreSQL), by operation, until they answer',
    labelNames: ['operation'],
    buckets: FAST_BUCKETS,
    registers,
  });
  const publishSeconds = new Histogram({
    name: 'securechat_bus_publish_seconds',
    help: 'Publications to the bus (in process, or Redis), until they answer',
    buckets: FAST_BUCKETS,
    registers,
  });
  const gapFills = new Counter({
    name: 'securechat_relay_gap_fills_total',
    help: 'Events the relay read from the store because the bus had not brought them in time',
    registers,
  });
  for (const reason of ['slow_reader', 'buffer', 'drain_deadline', 'session_end', 'shutdown'] as const)
    cuts.labels(reason);
  messages.labels('accepted');
  logins.labels('success');

  const metrics: Metrics = {
    message: (result) => messages.labels(result).inc(),
    delivered: (streams) => deliveries.inc(streams),
    streamCut: (reason: StreamCut) => cuts.labels(reason).inc(),
    login: (result) => logins.labels(result).inc(),
    keyRotation: (mode, reason) => rotations.labels(mode, reason).inc(),
    relayGapFills: (events) => gapFills.inc(events),
  };

  /** Each store method's calls timed under its name (the store's methods are its own properties). */
  function timeStore(store: Store): Store {
    const timed = new Map<unknown, unknown>();
    return new Proxy(store, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (typeof value !== 'function' || typeof key !== 'string' || key === 'close') return value;
        let wrapper = timed.get(value);
        if (!wrapper) {
          const observe = storeSeconds.labels(key);
          wrapper = (...args: unknown[]) => {
            const started = performance.now();
            const result = value.apply(target, args);
            const done = () => observe.observe((performance.now() - started) / 1000);
            if (result instanceof Promise) result.then(done, done);
            else done();
            return result;
          };
          timed.set(value, wrapper);
        }
        return wrapper;
      },
    });
  }

  /** The bus with its publications timed. */
  function timeBus(bus: Bus): Bus {
    const fanout: Fanout = bus.fanout;
    const publish = async (message: Parameters<Fanout['publish']>[0]) => {
      const stop = publishSeconds.startTimer();
      try {
        await fanout.publish(message);
      } finally {
        stop();
      }
    };
    return {
      fanout: {
        publish,
        subscribe: (listener) => fanout.subscribe(listener),
        onResume: (listener) => fanout.onResume(listener),
        close: () => fanout.close(),
      },
      registry: bus.registry,
      counters: bus.counters,
      ping: () => bus.ping(),
      close: () => bus.close(),
    };
  }

  /** A request answered: its time, and a 429 counted under its operation. */
  function observeRequest(method: string, route: string, operation: string, status: number, ms: number) {
    http.labels(method, route, `${Math.floor(status / 100)}xx`).observe(ms / 1000);
    if (status === 429) rateLimited.labels(operation).inc();
  }

  /** The gauges, read from the app at each scrape. */
  function gauges(sources: GaugeSources): void {
    new Gauge({
      name: 'securechat_sse_streams',
      help: 'Event streams open on this instance',
      registers,
      collect() {
        this.set(sources.streams());
      },
    });
    new Gauge({
      name: 'securechat_login_queue_depth',
      help: 'Password checks waiting for a slot on this instance (SECURECHAT_LOGIN_QUEUE at most)',
      registers,
      collect() {
        this.set(sources.loginQueue());
      },
    });
    new Gauge({
      name: 'securechat_pending_epochs',
      help: "Members-mode chats whose next epoch waits for a member's commit (all instances: read from the store)",
      registers,
      async collect() {
        // the store away: NaN (not known), and the scrape still answers
        this.set(await sources.pendingEpochs().catch(() => Number.NaN));
      },
    });
  }

  return { registry, metrics, timeStore, timeBus, observeRequest, gauges };
}

export type Instruments = ReturnType<typeof createInstruments>;
