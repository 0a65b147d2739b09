import { describe, expect, it } from 'vitest';
import { NO_METRICS } from '../../../src/util/metrics.js';
import { chatOf } from '../../support/chats.js';
import { Api, Participant } from '../../support/client.js';
import { PASSWORD, withServer } from '../../support/helper.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus' text format, sample by sample (`name{a="x",b="y"} 1`). */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value;
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return parse(await res.text());
}

const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);

/** Each metric's label names (a histogram's `le` set aside). */
function labelSets(samples: Sample[]): Map<string, string> {
  const sets = new Map<string, string>();
  for (const s of samples) {
    const base = s.name.replace(/_(bucket|sum|count)$/, '');
    const names = Object.keys(s.labels)
      .filter((k) => k !== 'le')
      .sort()
      .join(',');
    sets.set(s.name.startsWith('securechat_') ? base : s.name, names);
  }
  return sets;
}

describe('the metrics', () => {
  it('are off unless SECURECHAT_METRICS_PORT is set: nothing listens, nothing is counted', async () => {
    await withServer({}, async (server) => {
      expect(server.app.metricsUrl).toBeUndefined();
      expect(server.app.metrics).toBe(NO_METRICS);
      // nor does the API answer for them
      expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
    });
  });

  it('answer on a listener of their own, on 127.0.0.1, apart from the API', async () => {
    await withServer({ SECURECHAT_METRICS_PORT: '0' }, async (server) => {
      const url = server.app.metricsUrl as string;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      expect(new URL(url).port).not.toBe(new URL(server.url).port);
      expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
      expect((await fetch(new URL('/health', url))).status).toBe(404);
    });
  });

  it('count the traffic under Prometheus names, with labels that never name a user, chat, token or address', async () => {
    await withServer({ SECURECHAT_METRICS_PORT: '0', SECURECHAT_NOT_FOUND_LIMIT: '1' }, async (server) => {
      const url = server.app.metricsUrl as string;
      const wrong = await new Api(server.url).call('login', {
        body: { username: 'alice', password: 'wrong password' },
      });
      expect(wrong.status).toBe(401);
      const alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
      const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
      const chatId = await chatOf(alice, bob);
      const stream = await bob.events();
      const body = alice.compose(chatId, 1, 'hello', 'ed25519');
      expect((await alice.api.call('postMessage', { params: { chatId }, body })).status).toBe(201);
      await stream.nextOf('message');
      // the same message again: refused
      expect((await alice.api.call('postMessage', { params: { chatId }, body })).status).toBe(409);
      await alice.api.call('listMessages', { params: { chatId }, query: { limit: 10 } });
      // two unknown paths, the second past its limit of one a minute
      for (const status of [404, 429]) {
        const res = await fetch(`${server.url}/no/such/${chatId}`);
        expect(res.status).toBe(status);
        await res.arrayBuffer();
      }
      // bob leaves: the key rotates; then his session ends: his stream is cut
      await bob.api.call('leaveChat', { params: { chatId } });
      await bob.api.call('logout');
      await stream.done;

      const samples = await scrape(url);
      const names = new Set(samples.map((s) => s.name.replace(/_(bucket|sum|count)$/, '')));
      for (const name of [
        'securechat_http_request_duration_seconds',
        'securechat_sse_streams',
        'securechat_sse_cut_total',
        'securechat_messages_total',
        'securechat_deliveries_total',
        'securechat_logins_total',
        'securechat_rate_limited_total',
        'securechat_login_queue_depth',
        'securechat_key_rotations_total',
        'securechat_pending_epochs',
        'securechat_store_seconds',
        'securechat_bus_publish_seconds',
        'securechat_relay_gap_fills_total',
        // the default process and Node.js metrics
        'process_cpu_user_seconds_total',
        'process_resident_memory_bytes',
        'nodejs_eventloop_lag_seconds',
        'nodejs_heap_size_used_bytes',
        'nodejs_gc_duration_seconds',
      ]) {
        expect(names, name).toContain(name);
      }
      const sets = labelSets(samples);
      expect(Object.fromEntries([...sets].filter(([n]) => n.startsWith('securechat_')))).toEqual({
        securechat_http_request_duration_seconds: 'method,route,status_class',
        securechat_sse_streams: '',
        securechat_sse_cut_total: 'reason',
        securechat_messages_total: 'result',
        securechat_deliveries_total: '',
        securechat_logins_total: 'result',
        securechat_rate_limited_total: 'operation',
        securechat_login_queue_depth: '',
        securechat_key_rotations_total: 'mode,reason',
        securechat_pending_epochs: '',
        securechat_store_seconds: 'operation',
        securechat_bus_publish_seconds: '',
        securechat_relay_gap_fills_total: '',
      });

      // no label value carries a username, a chat id, a token, a session or an address
      const secrets = [
        'alice',
        'bob',
        chatId,
        alice.api.token as string,
        bob.api.token as string,
        '127.0.0.1',
      ];
      for (const s of samples) {
        for (const [label, labelValue] of Object.entries(s.labels)) {
          if (label === 'le') continue; // a bucket's bound
          for (const secret of secrets) expect(labelValue, `${s.name} ${labelValue}`).not.toContain(secret);
          // no id of any kind: a UUID, or a long run of digits or hex
          expect(labelValue).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}|\d{5,}|[0-9a-f]{16,}/i);
        }
      }

      const http = 'securechat_http_request_duration_seconds_count';
      expect(value(samples, http, { method: 'POST', route: '/auth/login', status_class: '4xx' })).toBe(1);
      expect(value(samples, http, { method: 'POST', route: '/auth/login', status_class: '2xx' })).toBe(2);
      expect(
        value(samples, http, { method: 'POST', route: '/chats/:chatId/messages', status_class: '2xx' }),
      ).toBe(1);
      expect(value(samples, http, { method: 'GET', route: '(unknown)' })).toBe(2);
      expect(value(samples, 'securechat_messages_total', { result: 'accepted' })).toBe(1);
      expect(value(samples, 'securechat_messages_total', { result: 'DUPLICATE_MESSAGE' })).toBe(1);
      expect(value(samples, 'securechat_logins_total', { result: 'success' })).toBe(2);
      expect(value(samples, 'securechat_logins_total', { result: 'INVALID_CREDENTIALS' })).toBe(1);
      expect(value(samples, 'securechat_rate_limited_total', { operation: '(unknown)' })).toBe(1);
      expect(value(samples, 'securechat_deliveries_total')).toBeGreaterThanOrEqual(1);
      expect(value(samples, 'securechat_key_rotations_total', { mode: 'server', reason: 'leave' })).toBe(1);
      expect(value(samples, 'securechat_sse_cut_total', { reason: 'session_end' })).toBe(1);
      expect(value(samples, 'securechat_sse_streams')).toBe(0);
      expect(value(samples, 'securechat_pending_epochs')).toBe(0);
      expect(value(samples, 'securechat_store_seconds_count', { operation: 'appendMessage' })).toBe(2);
      expect(value(samples, 'securechat_bus_publish_seconds_count')).toBeGreaterThanOrEqual(1);
    });
  });
});
