import type { Fanout } from '../bus/types.js';
import { sortedNames } from '../client/canonical.js';
import type { CommitBody, MemberKeyEnvelope } from '../client/members.js';
import { fromBase64 } from '../crypto/base64.js';
import { memberEnvelopeSigningInput } from '../crypto/canonical.js';
import { WRAP_ALGORITHM } from '../crypto/envelope.js';
import { verifyAsync } from '../crypto/signatures.js';
import { parseTimestamp } from '../crypto/time.js';
import { Errors, unavailable } from '../errors.js';
import { type ChatRecord, EpochConflictError, type MemberRecord } from '../store/chat-types.js';
import type { Store } from '../store/types.js';
import type { Accounts } from './accounts.js';
import { changeOf, chatCommitter } from './chat-change.js';
import { chatQueue } from './chat-queue.js';
import type { Chats } from './chats.js';
import { signingSlots } from './envelopes.js';
import { chatEvent } from './events.js';
import { WorkQueue } from './limiter.js';
import { rekeyEvents, withoutAdditions } from './pending.js';

/** The body of POST /chats/{chatId}/epochs, as the client library builds it. */
export type CommitRequest = CommitBody;

export interface EpochsDeps {
  store: Store;
  bus: Fanout;
  accounts: Pick<Accounts, 'signingKey' | 'publicKeys'>;
  view: Chats['view'];
  /** Uncommitted additions of a pending epoch are dropped after this long. */
  pendingMs?: number;
  /** The thread-pool share envelope signatures run in (the envelope issuer's): commits verify there. */
  signing?: WorkQueue;
  /** Signature verification, replaceable so tests can count it. */
  verify?: typeof verifyAsync;
  now?: () => number;
  audit?: (event: string, fields: Record<string, unknown>) => void;
}

/** Attempts when another change of the chat lands between reading it and committing. */
const MAX_ATTEMPTS = 5;
const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((u, i) => u === b[i]);

/**
 * Members-mode epochs (protocol.md, "Chats the server cannot read"): a member's commit of the
 * pending epoch, checked in full, the first valid one winning; and the drop of additions nobody
 * committed in time.
 */
export function createEpochs({
  store,
  bus,
  accounts,
  view,
  pendingMs = 60_000,
  signing = new WorkQueue(signingSlots()),
  verify = verifyAsync,
  now = Date.now,
  audit = () => {},
}: EpochsDeps) {
  const serialized = chatQueue();
  const commit = chatCommitter(store, bus, audit);

  /** What JSON Schema cannot say: one envelope per member, a real time, canonical base64. */
  function checkShape(body: CommitRequest) {
    if (parseTimestamp(body.issuedAt) === undefined)
      throw new Errors.INVALID_BODY('issuedAt is not a real RFC 3339 UTC time');
    const recipients = sortedNames(body.envelopes.map((e) => e.recipient));
    if (
      !sameList(recipients, sortedNames(new Set(body.members))) ||
      recipients.length !== body.members.length
    )
      throw new Errors.INVALID_BODY('envelopes must name every member of `members` exactly once');
    for (const e of body.envelopes) {
      if (!fromBase64(e.wrappedKey))
        throw new Errors.INVALID_BODY(`${e.recipient}'s wrappedKey is not canonical base64`);
      if (!fromBase64(e.signature))
        throw new Errors.INVALID_BODY(`${e.recipient}'s signature is not canonical base64`);
    }
  }

  /** The chat, if the committer may commit its pending epoch `epoch` with `members`; else the first failure. */
  async function committable(chatId: string, committer: string, body: CommitRequest) {
    const chat = await store.getChat(chatId);
    const member = chat?.members.find((m) => m.username === committer);
    if (!chat || !member) throw new Errors.CHAT_NOT_FOUND(chatId);
    if (member.state !== 'joined') throw new Errors.NOT_JOINED('Join the chat before committing its key.');
    if (chat.keyMode === 'members' && body.epoch <= chat.epoch)
      throw new Errors.EPOCH_COMMITTED(`Epoch ${body.epoch} of this chat has its key already.`);
    const pending = chat.pending;
    if (chat.keyMode !== 'members' || !pending || pending.epoch !== body.epoch)
      throw new Errors.NO_PENDING_EPOCH(`No epoch ${body.epoch} of this chat waits for a member's key.`);
    if (!sameList(sortedNames(body.members), pending.members))
      throw new Errors.PENDING_MISMATCH(
        `Epoch ${pending.epoch} is pending for ${pending.members.join(', ')}; read the chat again.`,
      );
    // a commit made before a member's keys last changed wraps the key for their old keys, which
    // whoever leaked them opens: it is made again (a client that meets this reads the keys anew)
    const issued = parseTimestamp(body.issuedAt) ?? 0;
    for (const name of pending.members) {
      const changed = (await accounts.publicKeys(name).catch(() => undefined))?.changes.at(-1)?.at;
      if (changed !== undefined && (parseTimestamp(changed) ?? 0) > issued)
        throw new Errors.PENDING_MISMATCH(
          `${name}'s keys changed after this commit was made; make it again with their new keys.`,
        );
    }
    // a joined member of the previous epoch (every member of the table is); for epoch 1, the creator
    // every joined member now was one of the previous epoch (additions join at commit)
    if (pending.epoch === 1 && committer !== chat.createdBy)
      throw new Errors.NOT_COMMITTER(
        'Only a joined member of the previous epoch (for epoch 1, the creator) commits it.',
      );
    return { chat, pending };
  }

  async function verified(chat: ChatRecord, committer: string, members: string[], body: CommitRequest) {
    const envelopes: MemberKeyEnvelope[] = body.envelopes.map((e) => ({
      chatId: chat.id,
      epoch: body.epoch,
      recipient: e.recipient,
      algorithm: WRAP_ALGORITHM,
      wrappedKey: e.wrappedKey,
      issuedAt: body.issuedAt,
      committer,
      members,
      signatureAlgorithm: e.signatureAlgorithm,
      signature: e.signature,
    }));
    // one at a time, in the signing share of the thread pool (a 100-member commit must not queue
    // 100 verifications ahead of every message's), stopping at the first that fails
    for (const e of envelopes) {
      const key = await accounts.signingKey(committer, e.signatureAlgorithm);
      const signature = fromBase64(e.signature);
      const valid =
        key !== undefined &&
        signature !== undefined &&
        (await signing.run(
          () => verify(e.signatureAlgorithm, key, memberEnvelopeSigningInput(e), signature),
          { key: committer },
        ));
      if (!valid)
        throw new Errors.BAD_SIGNATURE(
          `The signature for ${e.recipient} does not verify under ${committer}'s registered key.`,
        );
    }
    return envelopes;
  }

  async function commitOnce(chatId: string, committer: string, body: CommitRequest) {
    const { chat, pending } = await committable(chatId, committer, body);
    const envelopes = await verified(chat, committer, pending.members, body);
    const byRecipient = new Map(envelopes.map((e) => [e.recipient, e]));
    const added = pending.added.map(
      (username): MemberRecord => ({ username, state: 'invited', sinceEpoch: pending.epoch }),
    );
    const next: ChatRecord = {
      ...chat,
      epoch: pending.epoch,
      members: [...chat.members, ...added],
      pending: null,
    };
    const chatView = await view(next);
    const invitedBy = pending.requestedBy ?? committer;
    const events = pending.members.map((u) =>
      pending.added.includes(u)
        ? chatEvent('chat.invited', { chat: chatView, keyEnvelope: byRecipient.get(u), invitedBy }, [u])
        : chatEvent('chat.key', { chatId: chat.id, keyEnvelope: byRecipient.get(u) }, [u]),
    );
    await commit(
      changeOf(chat, {
        epoch: pending.epoch,
        upsert: added,
        envelopes,
        events,
        pending: { expected: pending, next: null },
      }),
      [
        [
          'key.committed',
          {
            chatId: chat.id,
            epoch: pending.epoch,
            by: committer,
            reason: pending.reason,
            added: pending.added,
            removed: pending.removed,
          },
        ],
      ],
    );
    return { chat: chatView, keyEnvelope: byRecipient.get(committer) as MemberKeyEnvelope };
  }

  return {
    /**
     * Commits the pending epoch if every check passes. When another change lands first (a
     * commit here or on another instance, a leave), the checks run again on what is stored now:
     * so the loser of two commits gets EPOCH_COMMITTED.
     */
    async commit(chatId: string, committer: string, body: CommitRequest) {
      checkShape(body);
      const id = chatId.toLowerCase();
      return serialized(id, async () => {
        for (let i = 1; ; i++) {
          try {
            return await commitOnce(id, committer, body);
          } catch (error) {
            if (!(error instanceof EpochConflictError)) throw error;
            if (i >= MAX_ATTEMPTS)
              throw unavailable('The chat kept changing while this commit was made; try again.', 1);
          }
        }
      });
    },

    /** Drops the additions that waited longer than allowed; returns the chats changed. */
    async dropStale(limit = 100): Promise<string[]> {
      const before = new Date(now() - pendingMs).toISOString();
      const dropped: string[] = [];
      for (const chatId of await store.chatsWithStaleAdditions(before, limit)) {
        const changed = await serialized(chatId, async () => {
          const chat = await store.getChat(chatId);
          const pending = chat?.pending;
          if (!chat || !pending?.additionsSince || pending.additionsSince >= before) return false;
          const next = withoutAdditions(chat, pending);
          const events = rekeyEvents(
            chat,
            next,
            chat.members.map((m) => m.username),
          );
          return commit(changeOf(chat, { events, pending: { expected: pending, next } }), [
            ['key.pending.dropped', { chatId, epoch: pending.epoch, dropped: pending.added }],
          ]).then(
            () => true,
            (error) => {
              if (error instanceof EpochConflictError) return false; // committed or changed meanwhile
              throw error;
            },
          );
        });
        if (changed) dropped.push(chatId);
      }
      return dropped;
    },
  };
}

export type Epochs = ReturnType<typeof createEpochs>;
