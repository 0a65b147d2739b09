import type { Fanout } from '../bus/types.js';
import type { Hub } from './hub.js';

/**
 * The one arrow from the bus to the streams: every message fanned out goes to this instance's hub,
 * and after a bus outage the hub checks its sessions again (an end of session may have been lost).
 */
export function subscribeHub(
  fanout: Fanout,
  hub: Hub,
  log: { error: (obj: object, msg: string) => void },
): () => void {
  const unsubscribe = fanout.subscribe(hub.deliver);
  fanout.onResume(() =>
    hub.recheckSessions().catch((err) => log.error({ err }, 'checking sessions after an outage failed')),
  );
  return unsubscribe;
}
