import { Errors } from '../errors.js';
import type { Services } from '../plugins/services.js';
import type { HandlersOf } from './types.js';

export const userRoutes = ({
  store,
  presence,
  accounts,
}: Services): HandlersOf<'listUsers' | 'listOnlineUsers' | 'getUserStatus' | 'getUserKeys'> => ({
  async listUsers() {
    const online = new Set(await presence.onlineUsers());
    return (await store.listUsers()).map((u) => ({
      username: u.username,
      online: online.has(u.username),
      lastSeen: u.lastSeen,
    }));
  },

  async listOnlineUsers() {
    return { users: await presence.onlineUsers() };
  },

  async getUserStatus(request) {
    const user = await store.getUser(request.params.username);
    if (!user) throw new Errors.USER_NOT_FOUND(request.params.username);
    return {
      username: user.username,
      online: await presence.isOnline(user.username),
      lastSeen: user.lastSeen,
    };
  },

  async getUserKeys(request) {
    return accounts.publicKeys(request.params.username);
  },
});
