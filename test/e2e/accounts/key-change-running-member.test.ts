import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Context } from '../../../cli/context.js';
import { commitWaiting, showEvent } from '../../../cli/events.js';
import { Session } from '../../../cli/session.js';
import {
  Api,
  type Chat,
  Client,
  type FeedEvent,
  importUserKeys,
  MemoryStores,
  type PemKeyPairSet,
  replaceKeys,
  SeenMessages,
} from '../../../src/client/index.js';
import { nodeSignatures } from '../../../src/client/node/index.js';
import { generateKeyPairSet } from '../../../src/crypto/keys.js';
import { Feed } from '../../../web/src/feed.js';
import { MemberNotices } from '../../../web/src/member-notices.js';
import type { SessionEvent } from '../../../web/src/session-event.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';
import { followed, keyStore } from '../../support/library.js';

// A member whose client runs across a peer's key change, with the stream's events routed as the
// CLI and the page route them: the library forgets the peer's old keys itself, so the new epoch
// of a members-mode chat is never made for the old (maybe leaked) encryption key, and the user is
// told of the change.
let server: TestServer;
let fresh: PemKeyPairSet[];
const closers: (() => Promise<unknown>)[] = [];
beforeAll(async () => {
  server = await startServer({ TOKEN_TTL: '1h' });
  fresh = await Promise.all([1, 2].map(() => generateKeyPairSet({ rsaBits: 2048 })));
});
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  await server?.close();
});

async function library(username: string, pems?: PemKeyPairSet): Promise<Client> {
  const provider = nodeSignatures();
  const stores = new MemoryStores();
  const client = await Client.login({
    api: new Api({ server: server.url }),
    username,
    password: PASSWORD,
    keys: await importUserKeys(pems ?? (await keyStore(username)), provider),
    provider,
    pins: stores,
    epochs: stores,
  });
  closers.push(() => client.close());
  return client;
}

/**
 * `changer` makes a members-mode chat with `member`, whose running client (following its stream
 * through `take`) holds the changer's keys; the changer replaces them. Returns the chat and what
 * the member's client did with the pending epoch, and checks the epoch is made for the new key.
 */
async function across(
  changer: string,
  member: Client,
  take: (event: FeedEvent) => Promise<unknown>,
  next: PemKeyPairSet,
): Promise<Chat> {
  const feed = followed(member.api, async (event) => {
    await take(event);
  });
  feed.done.catch(() => {});
  closers.push(() => feed.close());
  await feed.open;
  const owner = await library(changer);
  const { chat } = await owner.createChat([member.username], { keyMode: 'members' });
  await feed.next((e) => e.type === 'chat.invited' && e.data.chat.id === chat.id);
  await member.join(chat.id);
  // the member's client holds the changer's keys now (pinned from the roster it took)
  await member.trust.peerEncryptionKey(changer);
  const epoch = (await member.api.getChat(chat.id)).epoch;

  await replaceKeys(owner.api, {
    username: changer,
    password: PASSWORD,
    current: owner.keys,
    provider: owner.provider,
    next,
  });
  await feed.next((e) => e.type === 'account.keys' && e.data.username === changer);
  await feed.next((e) => e.type === 'chat.rekey' && e.data.chatId === chat.id);
  // once the member accepts the new keys, the epoch is made for them
  await member.trust.fingerprints(changer);
  await member.trust.trustUser(changer);
  await member.commits.commitPending(chat.id);
  const renewed = await library(changer, next);
  expect(await renewed.chatKeys.chatKey(chat.id, epoch + 1)).toBeDefined();
  return chat;
}

describe('a running member across a peer’s key change', () => {
  it('CLI: makes the new epoch for the new key, and says the keys changed (accounts review, #3)', {
    timeout: 120_000,
  }, async () => {
    const bob = await Session.open({
      server: server.url,
      username: 'bob',
      password: PASSWORD,
      keysDir: server.keysDir,
    });
    closers.push(() => bob.close());
    const lines: string[] = [];
    const ctx: Context = {
      session: bob,
      json: false,
      say: (line) => lines.push(line),
      warn: (line) => lines.push(line),
      result: () => {},
      pending: [],
      seen: new SeenMessages(),
    };
    bob.notice = (line) => lines.push(line);
    await across('erin', bob, (event) => showEvent(ctx, event), fresh[0]);
    await commitWaiting(ctx);
    expect(lines.join('\n')).toMatch(/erin's keys changed/);
  });

  it('page: makes the new epoch for the new key, and says the keys changed (accounts review, #3)', {
    timeout: 120_000,
  }, async () => {
    const dave = await library('dave');
    const said: SessionEvent[] = [];
    const target = {
      username: 'dave',
      client: dave,
      online: new Set<string>(),
      chats: new Map<string, Chat>(),
      emit: (event: SessionEvent) => said.push(event),
      setChat: (chat: Chat) => target.chats.set(chat.id, chat),
      refreshChat: async (chatId: string) => {
        target.chats.set(chatId, await dave.api.getChat(chatId));
      },
      reload: async () => {},
    };
    const page = new Feed(target, new MemberNotices(target));
    await across('carol', dave, (event) => page.take(event), fresh[1]);
    const notices = said.flatMap((e) => (e.type === 'notice' ? [e.text] : []));
    expect(notices.join('\n')).toMatch(/carol's keys changed/);
  });
});
