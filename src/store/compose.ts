import type { AccountStore } from './account-types.js';
import type { ChatStore } from './chat-types.js';
import type { MessageStore } from './message-types.js';
import type { Store } from './types.js';
import type { UserStore } from './user-types.js';

/** An engine's parts, one per aggregate of the port. */
export interface StoreParts {
  users: UserStore;
  chats: ChatStore;
  messages: MessageStore;
  accounts: AccountStore;
}

/**
 * A {@link Store} made of an engine's parts: each method is handed, by name and checked by
 * TypeScript, to the part that holds it. An engine adds what is its own (`ping`, `close`, `claim`).
 */
export abstract class ComposedStore implements Store {
  private readonly users: UserStore;
  private readonly chats: ChatStore;
  private readonly messages: MessageStore;
  private readonly accounts: AccountStore;

  constructor({ users, chats, messages, accounts }: StoreParts) {
    this.users = users;
    this.chats = chats;
    this.messages = messages;
    this.accounts = accounts;
  }

  abstract ping(): Promise<void>;
  abstract close(): Promise<void>;
  abstract claim(key: string, value: string): Promise<string>;

  readonly createUser: UserStore['createUser'] = (...a) => this.users.createUser(...a);
  readonly getUser: UserStore['getUser'] = (...a) => this.users.getUser(...a);
  readonly listUsers: UserStore['listUsers'] = (...a) => this.users.listUsers(...a);
  readonly setLastSeen: UserStore['setLastSeen'] = (...a) => this.users.setLastSeen(...a);
  readonly replacePasswordHash: UserStore['replacePasswordHash'] = (...a) =>
    this.users.replacePasswordHash(...a);
  readonly revokeToken: UserStore['revokeToken'] = (...a) => this.users.revokeToken(...a);
  readonly isTokenRevoked: UserStore['isTokenRevoked'] = (...a) => this.users.isTokenRevoked(...a);
  readonly putRegistrationCode: UserStore['putRegistrationCode'] = (...a) =>
    this.users.putRegistrationCode(...a);
  readonly getRegistrationCode: UserStore['getRegistrationCode'] = (...a) =>
    this.users.getRegistrationCode(...a);
  readonly listRegistrationCodes: UserStore['listRegistrationCodes'] = (...a) =>
    this.users.listRegistrationCodes(...a);
  readonly deleteRegistrationCode: UserStore['deleteRegistrationCode'] = (...a) =>
    this.users.deleteRegistrationCode(...a);
  readonly reserveRegistrationCode: UserStore['reserveRegistrationCode'] = (...a) =>
    this.users.reserveRegistrationCode(...a);
  readonly releaseRegistrationCode: UserStore['releaseRegistrationCode'] = (...a) =>
    this.users.releaseRegistrationCode(...a);
  readonly createUserWithCode: UserStore['createUserWithCode'] = (...a) =>
    this.users.createUserWithCode(...a);

  readonly createChat: ChatStore['createChat'] = (...a) => this.chats.createChat(...a);
  readonly getChat: ChatStore['getChat'] = (...a) => this.chats.getChat(...a);
  readonly membership: ChatStore['membership'] = (...a) => this.chats.membership(...a);
  readonly listChats: ChatStore['listChats'] = (...a) => this.chats.listChats(...a);
  readonly countJoinedChats: ChatStore['countJoinedChats'] = (...a) => this.chats.countJoinedChats(...a);
  readonly chatIdsOf: ChatStore['chatIdsOf'] = (...a) => this.chats.chatIdsOf(...a);
  readonly changeMembership: ChatStore['changeMembership'] = (...a) => this.chats.changeMembership(...a);
  readonly getEnvelope: ChatStore['getEnvelope'] = (...a) => this.chats.getEnvelope(...a);
  readonly countPendingEpochs: ChatStore['countPendingEpochs'] = () => this.chats.countPendingEpochs();
  readonly chatsWithStaleAdditions: ChatStore['chatsWithStaleAdditions'] = (...a) =>
    this.chats.chatsWithStaleAdditions(...a);
  readonly chatsDueForRotation: ChatStore['chatsDueForRotation'] = (...a) =>
    this.chats.chatsDueForRotation(...a);

  readonly appendMessage: MessageStore['appendMessage'] = (...a) => this.messages.appendMessage(...a);
  readonly listMessages: MessageStore['listMessages'] = (...a) => this.messages.listMessages(...a);
  readonly eventsAfter: MessageStore['eventsAfter'] = (...a) => this.messages.eventsAfter(...a);
  readonly eventsBetween: MessageStore['eventsBetween'] = (...a) => this.messages.eventsBetween(...a);
  readonly eventBounds: MessageStore['eventBounds'] = (...a) => this.messages.eventBounds(...a);
  readonly prune: MessageStore['prune'] = (...a) => this.messages.prune(...a);

  readonly recordSession: AccountStore['recordSession'] = (...a) => this.accounts.recordSession(...a);
  readonly revokeSessions: AccountStore['revokeSessions'] = (...a) => this.accounts.revokeSessions(...a);
  readonly setPasswordHash: AccountStore['setPasswordHash'] = (...a) => this.accounts.setPasswordHash(...a);
  readonly replaceKeys: AccountStore['replaceKeys'] = (...a) => this.accounts.replaceKeys(...a);
  readonly markRemoved: AccountStore['markRemoved'] = (...a) => this.accounts.markRemoved(...a);
  readonly pendingRemovals: AccountStore['pendingRemovals'] = (...a) => this.accounts.pendingRemovals(...a);
  readonly removalDone: AccountStore['removalDone'] = (...a) => this.accounts.removalDone(...a);
  readonly pendingRekeys: AccountStore['pendingRekeys'] = (...a) => this.accounts.pendingRekeys(...a);
  readonly rekeyDone: AccountStore['rekeyDone'] = (...a) => this.accounts.rekeyDone(...a);
  readonly putResetCode: AccountStore['putResetCode'] = (...a) => this.accounts.putResetCode(...a);
  readonly getResetCode: AccountStore['getResetCode'] = (...a) => this.accounts.getResetCode(...a);
  readonly useResetCode: AccountStore['useResetCode'] = (...a) => this.accounts.useResetCode(...a);
  readonly putEnvelopes: AccountStore['putEnvelopes'] = (...a) => this.accounts.putEnvelopes(...a);
}
