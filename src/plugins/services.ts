import { createPublicKey, type KeyObject } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Bus } from '../bus/types.js';
import type { Config } from '../config.js';
import { fingerprint } from '../crypto/keys.js';
import { type Accounts, createAccounts } from '../services/accounts.js';
import { type Chats, createChats } from '../services/chats.js';
import { createEnvelopeIssuer } from '../services/envelopes.js';
import { createMessages, type Messages } from '../services/messages.js';
import { createPresence, type Presence } from '../services/presence.js';
import { createRegistration, type Registration } from '../services/registration.js';
import { createRotationSweep } from '../services/rotation-sweep.js';
import { createHub, type Hub } from '../sse/hub.js';
import { pruneEvents } from '../store/prune.js';
import type { Store } from '../store/types.js';

export interface Services {
  config: Config;
  store: Store;
  bus: Bus;
  accounts: Accounts;
  presence: Presence;
  chats: Chats;
  messages: Messages;
  hub: Hub;
  registration: Registration;
  serverKey: { algorithm: 'rsa-pss-sha256'; publicKey: string; fingerprint: string };
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

export interface ServicesOptions {
  config: Config;
  store: Store;
  bus: Bus;
  serverKey: KeyObject;
}

/** Wires the domain together and closes it with the app: streams first, then the store. */
export default fp(
  async function services(app: FastifyInstance, { config, store, bus, serverKey }: ServicesOptions) {
    const onError = (error: unknown) => app.log.error({ err: error }, 'presence update failed');
    const presence = createPresence({ bus, store, graceMs: config.presenceGraceMs, onError });
    const accounts = createAccounts({
      store,
      bcryptCost: config.bcryptCost,
      tokenTtlSeconds: config.tokenTtl,
      signToken: app.signToken,
      failuresPerUser: config.loginFailuresPerUser,
      failuresPerUserAndAddress: config.loginFailuresPerUserIp,
      hashQueue: config.loginQueue,
      hashesPerAddress: config.loginHashesPerIp,
      counter: bus.counter,
    });
    const audit = (event: string, fields: Record<string, unknown>) =>
      app.log.info({ event, ...fields }, 'security event');
    const chats = createChats({
      store,
      bus,
      presence,
      accounts,
      issueEnvelopes: createEnvelopeIssuer(serverKey, accounts.encryptionKey),
      maxMembers: config.maxMembersPerChat,
      limits: {
        createPerMinute: config.chatCreateLimit,
        membershipPerMinute: config.membershipLimit,
        maxChatsPerUser: config.maxChatsPerUser,
      },
      audit,
    });
    const messages = createMessages({
      store,
      bus,
      accounts,
      chats,
      rotateMessages: config.rotateMessages,
      historyLimit: config.historyLimit,
      historyPageBytes: config.historyPageBytes,
      onError: (err) => app.log.error({ err }, 'key rotation failed'),
    });
    const hub = createHub({
      replay: {
        bounds: () => store.eventBounds(),
        after: (u, id, limit, maxBytes) => store.eventsAfter(u, id, limit, maxBytes),
        chatsOf: async (u) => new Set(await store.chatIdsOf(u)),
      },
      heartbeatMs: config.heartbeatMs,
      limits: { bufferBytes: config.streamBufferBytes, drainMs: config.streamDrainMs },
      maxStreamsPerUser: config.maxStreamsPerUser,
      opensPerMinute: config.streamOpensPerMinute,
      isRevoked: (sessionId) => store.isTokenRevoked(sessionId),
      log: app.log,
    });
    bus.subscribe(hub.deliver);
    bus.onResume(() =>
      hub
        .recheckSessions()
        .catch((err) => app.log.error({ err }, 'checking sessions after an outage failed')),
    );

    const publicKey = createPublicKey(serverKey);
    app.decorate('services', {
      config,
      store,
      bus,
      accounts,
      presence,
      chats,
      messages,
      hub,
      registration: createRegistration({
        store,
        accounts,
        failuresPerAddress: config.registerFailuresPerIp,
        counter: bus.counter,
      }),
      serverKey: {
        algorithm: 'rsa-pss-sha256',
        publicKey: publicKey.export({ type: 'spki', format: 'pem' }) as string,
        fingerprint: fingerprint(publicKey),
      },
    } satisfies Services);

    const prune = setInterval(
      () => {
        const before = new Date(Date.now() - config.eventRetentionSeconds * 1000).toISOString();
        pruneEvents(store, before, Date.now()).catch((err) => app.log.error({ err }, 'pruning failed'));
      },
      Math.min(3_600_000, config.eventRetentionSeconds * 1000),
    );
    prune.unref();

    // Keys also rotate with age: a chat whose epoch is older than rotateSeconds gets a new one.
    const sweepDue = createRotationSweep({
      store,
      rotate: (chatId, reason, epoch) => chats.rotate(chatId, reason, epoch),
      rotateSeconds: config.rotateSeconds,
      onError: (err, chatId) => app.log.error({ err, chatId }, 'key rotation sweep failed'),
    });
    const sweep = setInterval(sweepDue, Math.max(1000, Math.min(60_000, (config.rotateSeconds * 1000) / 2)));
    sweep.unref();

    // Streams end before the server waits for open connections, so close() never hangs.
    app.addHook('preClose', async () => {
      hub.closeAll();
    });
    app.addHook('onClose', async () => {
      clearInterval(prune);
      clearInterval(sweep);
      presence.close();
      await bus.close();
      await store.close();
    });
  },
  { name: 'services', dependencies: ['auth'] },
);
