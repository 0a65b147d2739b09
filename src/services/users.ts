import { Errors } from '../errors.js';
import type { Store } from '../store/types.js';
import type { Presence } from './presence.js';

/** The user directory: who exists, with presence as the protocol defines it. */
export function createUsers({ store, presence }: { store: Store; presence: Presence }) {
  return {
    /** Every user, with whether they are online now and when they were last seen. */
    async list() {
      const online = new Set(await presence.onlineUsers());
      return (await store.listUsers()).map((u) => ({
        username: u.username,
        online: online.has(u.username),
        lastSeen: u.lastSeen,
      }));
    },

    async online() {
      return { users: await presence.onlineUsers() };
    },

    async status(username: string) {
      const user = await store.getUser(username);
      if (!user) throw new Errors.USER_NOT_FOUND(username);
      return {
        username: user.username,
        online: await presence.isOnline(user.username),
        lastSeen: user.lastSeen,
      };
    },
  };
}

export type Users = ReturnType<typeof createUsers>;
