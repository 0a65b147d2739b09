import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { sealEnvelope } from '../crypto/envelope.js';
import { type Chats, createChats } from '../services/chats.js';
import { createEnvelopeIssuer, signingSlots } from '../services/envelopes.js';
import { createEpochs, type Epochs } from '../services/epochs.js';
import { keyEscrow } from '../services/key-escrow.js';
import { WorkQueue } from '../services/limiter.js';
import { createMessages, type Messages } from '../services/messages.js';

declare module 'fastify' {
  interface FastifyInstance {
    chats: Chats;
    messages: Messages;
    /** Members-mode chats: commits of pending epochs, and the drop of stale additions. */
    epochs: Epochs;
  }
}

/** Chats (membership, epochs, envelopes, members-mode commits) and the messages posted to them. */
export default fp(
  async function chats(app: FastifyInstance) {
    const { config, store, fanout, accounts, metrics } = app;
    // security events said in the log; the key rotations among them counted for the metrics too
    const audit = (event: string, fields: Record<string, unknown>) => {
      if (event === 'key.rotated') metrics.keyRotation('server', String(fields.reason));
      // a members-mode chat's key rotates when a member commits its pending epoch (not its first)
      if (event === 'key.committed' && fields.reason !== 'create')
        metrics.keyRotation('members', String(fields.reason));
      app.log.info({ event, ...fields }, 'security event');
    };
    // the thread-pool share of envelope signatures, and of members' envelope verifications
    const signing = new WorkQueue(signingSlots());
    const chats = createChats({
      store,
      bus: fanout,
      presence: app.presence,
      accounts,
      // server mode: each epoch's key kept sealed for the server, so a member's new keys can read it
      issueEnvelopes: createEnvelopeIssuer(
        app.serverKey,
        accounts.encryptionKey,
        signing,
        sealEnvelope,
        keyEscrow(app.serverKey),
      ),
      maxMembers: config.maxMembersPerChat,
      limits: {
        createPerMinute: config.chatCreateLimit,
        membershipPerMinute: config.membershipLimit,
        maxChatsPerUser: config.maxChatsPerUser,
      },
      audit,
    });
    app.decorate('chats', chats);
    app.decorate(
      'epochs',
      createEpochs({
        store,
        bus: fanout,
        accounts,
        view: chats.view,
        pendingMs: config.pendingSeconds * 1000,
        signing,
        audit,
      }),
    );
    app.decorate(
      'messages',
      createMessages({
        store,
        bus: fanout,
        accounts,
        chats,
        rotateMessages: config.rotateMessages,
        historyLimit: config.historyLimit,
        historyPageBytes: config.historyPageBytes,
        onError: (err) => app.log.error({ err }, 'key rotation failed'),
        metrics,
      }),
    );
  },
  {
    name: 'chats',
    dependencies: ['config', 'metrics', 'store', 'bus', 'accounts', 'presence', 'server-key'],
  },
);
