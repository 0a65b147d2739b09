import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Api, ROUTES } from '../../../src/client/index.js';
import type { OperationId } from '../../../src/contract/index.js';

/** `operationId` → `METHOD /path/{param}`, read from openapi.yaml itself. */
async function documented(): Promise<Map<string, string>> {
  const document = parse(await readFile(new URL('../../../openapi.yaml', import.meta.url), 'utf8'));
  const operations = new Map<string, string>();
  for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, unknown>>))
    for (const [method, op] of Object.entries(item)) {
      const id = (op as { operationId?: string }).operationId;
      if (id) operations.set(id, `${method.toUpperCase()} ${path}`);
    }
  return operations;
}

/** An Api whose requests are recorded, each answered 200 with `{}`. */
function recording() {
  const sent: string[] = [];
  const fetch = async (url: string, init: RequestInit) => {
    sent.push(`${init.method ?? 'GET'} ${url.replace('http://chat.test', '')}`);
    return new Response('{"token":"t"}', { status: 200, headers: { 'content-type': 'application/json' } });
  };
  const api = new Api({ server: 'http://chat.test', fetch });
  api.token = 'token';
  return { api, sent };
}

const CHAT = '0b6f8a47-6c3f-4f34-9a43-0d0c1c2a5f10';

/** One call of each operation, by its method: a missing or an extra one does not compile. */
const CALLS: { [Op in OperationId]: (api: Api) => Promise<unknown> } = {
  login: (api) => api.login('alice', 'secret'),
  logout: (api) => api.logout(),
  listUsers: (api) => api.listUsers(),
  registerUser: (api) => api.registerUser({} as never),
  listOnlineUsers: (api) => api.listOnlineUsers(),
  getUserStatus: (api) => api.getUserStatus('alice'),
  getUserKeys: (api) => api.getUserKeys('alice'),
  changePassword: (api) => api.changePassword({} as never),
  replaceKeys: (api) => api.replaceKeys({} as never),
  resetKeys: (api) => api.resetKeys('alice', {} as never),
  getServerKey: (api) => api.getServerKey(),
  createChat: (api) => api.createChat({ invitees: ['bob'] }),
  listChats: (api) => api.listChats(),
  getChat: (api) => api.getChat(CHAT),
  inviteToChat: (api) => api.inviteToChat(CHAT, { invitees: ['bob'] }),
  joinChat: (api) => api.joinChat(CHAT),
  leaveChat: (api) => api.leaveChat(CHAT),
  getChatKey: (api) => api.getChatKey(CHAT),
  commitEpoch: (api) => api.commitEpoch(CHAT, {} as never),
  postMessage: (api) => api.postMessage(CHAT, {} as never),
  listMessages: (api) => api.listMessages(CHAT),
  streamEvents: (api) => api.streamEvents(new AbortController().signal),
  getHealth: (api) => api.getHealth(),
  getLiveness: (api) => api.getLiveness(),
  getReadiness: (api) => api.getReadiness(),
};

describe('the typed API of src/client/api.ts', () => {
  it('has one method per operationId of openapi.yaml, and no other but the generic caller', async () => {
    const spec = await documented();
    const methods = Object.getOwnPropertyNames(Api.prototype).filter(
      (name) => !['constructor', 'call', 'operation'].includes(name),
    );
    expect(methods.sort()).toEqual([...spec.keys()].sort());
  });

  it('routes each operation to the method and path openapi.yaml gives it', async () => {
    const spec = await documented();
    expect(Object.fromEntries(Object.entries(ROUTES).map(([op, [m, p]]) => [op, `${m} ${p}`]))).toEqual(
      Object.fromEntries(spec),
    );
  });

  it("sends each operation's request to its method and path, its parameters filled in", async () => {
    const spec = await documented();
    for (const [op, call] of Object.entries(CALLS)) {
      const { api, sent } = recording();
      await call(api);
      const expected = (spec.get(op) as string).replace('{chatId}', CHAT).replace('{username}', 'alice');
      expect(sent, op).toEqual([expected]);
    }
  });

  it('encodes path parameters and keeps the query in the order given, leaving out what is undefined', async () => {
    const { api, sent } = recording();
    await api.getUserStatus('a b/c?');
    await api.listChats({ limit: 500 });
    await api.listChats({ limit: 500, cursor: 'c1=' });
    await api.getChatKey(CHAT, { epoch: 2 });
    await api.listMessages(CHAT, { after: 3, limit: 1000 });
    expect(sent).toEqual([
      'GET /users/a%20b%2Fc%3F/status',
      'GET /chats?limit=500',
      'GET /chats?limit=500&cursor=c1%3D',
      `GET /chats/${CHAT}/key?epoch=2`,
      `GET /chats/${CHAT}/messages?after=3&limit=1000`,
    ]);
  });
});
