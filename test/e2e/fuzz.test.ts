import fc from 'fast-check';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, Participant, spec } from '../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../support/helper.js';

let server: TestServer;
let alice: Participant;
let fuzzer: Participant;
let chatId: string;

beforeAll(async () => {
  server = await startServer({
    SECURECHAT_LOGIN_LIMIT: '1000000',
    SECURECHAT_POST_LIMIT: '1000000',
    SECURECHAT_HISTORY_LIMIT: '1000000',
  });
  alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
  const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
  const created = await alice.api.call('createChat', { body: { invitees: ['bob'] } });
  chatId = created.body.chat.id;
  await alice.acceptEnvelope(created.body.keyEnvelope);
  await bob.api.call('joinChat', { params: { chatId } });
  await alice.send(chatId, 1, 'hello', 'ed25519');
  // the fuzzer is carol: logged in, but in no chat
  fuzzer = await Participant.login(server.url, server.keysDir, 'carol', PASSWORD);
});
afterAll(() => server?.close());

/** What rejected requests must leave alone. */
async function snapshot() {
  const chats = (await alice.api.call('listChats')).body.chats.map(
    (c: { id: string; epoch: number; members: { username: string; state: string }[] }) => ({
      id: c.id,
      epoch: c.epoch,
      members: c.members.map((m) => `${m.username}:${m.state}`),
    }),
  );
  const messages = (await alice.api.call('listMessages', { params: { chatId } })).body.messages.length;
  const users = (await alice.api.call('listUsers')).body.map((u: { username: string }) => u.username);
  const carolChats = (await fuzzer.api.call('listChats')).body.chats.length;
  return { chats, messages, users, carolChats };
}

const junk = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.constantFrom(
    '',
    '..',
    '%00',
    '%2e%2e',
    ' ',
    'NaN',
    '-1',
    '1e309',
    '0x10',
    'null',
    '{}',
    '[]',
    chatIdPlaceholder(),
  ),
);
function chatIdPlaceholder() {
  return '$chat';
}

const bodies = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string(),
  fc.constantFrom(
    '{',
    '{"a":',
    '[1,',
    '{"__proto__":{"x":1}}',
    '{"constructor":{"prototype":{"x":1}}}',
    'null',
    '""',
  ),
  // a valid message with one field replaced by anything
  fc
    .tuple(
      fc.constantFrom(
        'id',
        'epoch',
        'sentAt',
        'iv',
        'ciphertext',
        'tag',
        'signatureAlgorithm',
        'signature',
        'extra',
      ),
      fc.jsonValue(),
    )
    .map(([field, value]) => ({ mutate: field, value })),
  fc
    .record({ invitees: fc.array(fc.oneof(fc.string(), fc.jsonValue()), { maxLength: 60 }) })
    .map((v) => JSON.stringify(v)),
  fc
    .record({ username: junk, password: fc.oneof(fc.string(), fc.jsonValue()) })
    .map((v) => JSON.stringify(v)),
);

const tokens = fc.oneof(
  fc.constant('valid'),
  fc.constant('member'),
  fc.constant(undefined),
  fc.string(),
  fc.constantFrom('Bearer', 'Bearer ', 'Basic abc', 'Bearer a.b.c', 'Bearer eyJhbGciOiJub25lIn0.e30.'),
);

describe('random input at every operation', () => {
  it('never gets a 5xx, never changes state, and leaves the server healthy', async () => {
    const before = await snapshot();
    let accepted = 0;
    const operations = spec.operations.filter((op) => op.operationId !== 'streamEvents');
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...operations),
        junk,
        bodies,
        tokens,
        fc.constantFrom(
          'application/json',
          'application/json; charset=utf-8',
          'text/plain',
          'application/x-www-form-urlencoded',
          undefined,
        ),
        fc.dictionary(fc.string({ maxLength: 8 }), junk, { maxKeys: 3 }),
        async (op, param, body, token, contentType, query) => {
          const value = param === '$chat' ? chatId : param;
          const url = op.path.replace(/\{\w+\}/g, encodeURIComponent(value));
          const qs = new URLSearchParams(query).toString();
          const headers: Record<string, string> = {};
          if (token === 'valid') headers.authorization = `Bearer ${fuzzer.api.token}`;
          else if (token === 'member') {
            // alice, a member, reaches the deeper checks; only message-shaped input is tried as her
            if (op.operationId !== 'postMessage' && op.operationId !== 'listMessages') return;
            headers.authorization = `Bearer ${alice.api.token}`;
          } else if (token !== undefined) headers.authorization = token;
          if (contentType) headers['content-type'] = contentType;
          let payload: string | undefined;
          if (typeof body === 'object' && body !== null && 'mutate' in body) {
            const valid = alice.compose(chatId, 1, 'x', 'ed25519') as Record<string, unknown>;
            valid[body.mutate] = body.value;
            payload = JSON.stringify(valid);
          } else payload = body as string | undefined;
          // logging out the fuzzer's own session would only end the run early
          if (op.operationId === 'logout' && token === 'valid') return;
          const method = op.method;
          const res = await request(`${server.url}${url}${qs ? `?${qs}` : ''}`, {
            method,
            headers,
            body: method === 'GET' ? undefined : payload,
          });
          const text = await res.body.text();
          // a mutation that happens to keep the message valid (the same epoch, say) is accepted
          if (op.operationId === 'postMessage' && res.statusCode === 201) accepted += 1;
          expect(res.statusCode, `${method} ${url} -> ${text.slice(0, 200)}`).toBeLessThan(500);
          if (res.statusCode >= 400) {
            expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/);
            expect(JSON.parse(text).code).toMatch(/^[A-Z_]+$/);
          }
        },
      ),
      { numRuns: 600 },
    );
    expect((await alice.api.call('getHealth')).body).toEqual({ status: 'ok' });
    expect(await snapshot()).toEqual({ ...before, messages: before.messages + accepted });
  });

  it('every integer parameter takes numbers of any size: in range answers, out of range is 400', async () => {
    // each operation's integer query parameters, from the spec
    const numeric = spec.operations.flatMap((op) =>
      Object.entries(
        (op.schema.querystring?.properties ?? {}) as Record<string, { type?: string; maximum?: number }>,
      )
        .filter(([, schema]) => schema.type === 'integer')
        .map(([name, schema]) => ({ op, name, maximum: schema.maximum ?? Number.MAX_SAFE_INTEGER })),
    );
    expect(numeric.map((p) => `${p.op.operationId}.${p.name}`)).toEqual(
      expect.arrayContaining(['listMessages.after', 'listMessages.limit', 'listChats.limit']),
    );
    const big = fc.oneof(
      fc.constantFrom(2 ** 31 - 1, 2 ** 31, 3_000_000_000, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 63),
      fc.integer({ min: 2 ** 31, max: Number.MAX_SAFE_INTEGER }),
      fc.bigInt({ min: 2n ** 31n, max: 2n ** 70n }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...numeric), big, async ({ op, name, maximum }, value) => {
        const url = `${server.url}${op.path.replace('{chatId}', chatId)}?${name}=${value}`;
        // alice is a member: her requests reach the database
        const res = await request(url, { headers: { authorization: `Bearer ${alice.api.token}` } });
        const text = await res.body.text();
        const inRange = BigInt(value) <= BigInt(maximum);
        // an epoch that large was never made: a 404 that says so is the answer
        const answer =
          op.operationId === 'getChatKey' ? { status: 404, code: 'KEY_NOT_FOUND' } : { status: 200 };
        const why = `${op.operationId} ${name}=${value} -> ${text.slice(0, 200)}`;
        expect(res.statusCode, why).toBe(inRange ? answer.status : 400);
        if (inRange && answer.code) expect(JSON.parse(text).code, why).toBe(answer.code);
      }),
      { numRuns: 150 },
    );
  });

  it('random paths and methods get a problem, not a crash', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
        fc.webPath(),
        async (method, path) => {
          const res = await request(`${server.url}${path.startsWith('/') ? path : `/${path}`}`, {
            method: method as 'GET',
          });
          await res.body.dump();
          expect(res.statusCode).toBeLessThan(500);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('random Last-Event-ID values give a stream or a resync, never an error', async () => {
    // dave's login and logout are live events for carol: one arriving shows the stream is live,
    // and that a replay (resync or not) is over, since replay comes before live events.
    const dave = new Api(server.url);
    const { prunedThrough, latest } = await server.app.store.eventBounds();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 40 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
          fc.nat().map(String),
          fc.integer({ min: 0, max: latest + 3 }).map(String),
        ),
        async (id) => {
          const known = /^\d{1,15}$/.test(id) && Number(id) <= latest;
          expect(prunedThrough).toBe(0); // nothing pruned: no id is older than the server keeps
          const stream = await fuzzer.events(id); // throws unless 200
          try {
            expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
            const login = await dave.call('login', { body: { username: 'dave', password: PASSWORD } });
            expect(login.status).toBe(200);
            await stream.nextOf('presence', (d) => d.username === 'dave' && d.online);
            dave.token = login.body.token;
            expect((await dave.call('logout')).status).toBe(204);
            await stream.nextOf('presence', (d) => d.username === 'dave' && !d.online);
            const resyncs = stream.events.filter((e) => e.event === 'resync').map((e) => e.json);
            expect(resyncs, `Last-Event-ID ${JSON.stringify(id)}`).toEqual(
              known ? [] : [{ reason: 'unknown-event-id' }],
            );
            expect(stream.ended).toBe(false);
            expect((await fuzzer.api.call('getHealth')).status).toBe(200);
          } finally {
            stream.close();
            await stream.done;
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
