import { Errors } from '../errors.js';
import type { Services } from '../plugins/services.js';
import type { HandlersOf } from './types.js';

export const serverRoutes = ({ store, serverKey }: Services): HandlersOf<'getServerKey' | 'getHealth'> => ({
  getServerKey: () => serverKey,

  async getHealth() {
    try {
      await store.ping();
    } catch {
      throw new Errors.UNAVAILABLE('The database does not answer.');
    }
    return { status: 'ok' };
  },
});
