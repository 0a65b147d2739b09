import { WindowCounter } from '../util/window-counter.js';

/** A stream slot held from the cap's check on, so that concurrent opens cannot pass the cap. */
export interface StreamClaim {
  /** Gives the slot back; only the first call counts. */
  release(): void;
}

export type ClaimResult =
  | { ok: true; claim: StreamClaim }
  | { ok: false; reason: 'too-many-streams' }
  | { ok: false; reason: 'rate-limited'; retryAfterSeconds: number };

export interface ClaimLimits {
  /** Streams one user may hold on this instance, and open per minute. */
  maxStreamsPerUser: number;
  opensPerMinute: number;
}

/** The stream slots each user holds or is opening on this instance, and their rate of opens. */
export function createClaims({ maxStreamsPerUser, opensPerMinute }: ClaimLimits) {
  /** Streams each user holds or is opening: the cap counts both. */
  const claimed = new Map<string, number>();
  const opens = new WindowCounter(opensPerMinute, 60_000);

  function release(username: string): void {
    const n = (claimed.get(username) ?? 1) - 1;
    if (n > 0) claimed.set(username, n);
    else claimed.delete(username);
  }

  return {
    /**
     * Checks the user's rate of opens and their cap, and takes a slot at once (before any await)
     * when both allow: the stream takes the claim over, or the caller releases it.
     */
    claim(username: string): ClaimResult {
      const wait = opens.blockedFor(username);
      if (wait > 0) return { ok: false, reason: 'rate-limited', retryAfterSeconds: wait };
      const held = claimed.get(username) ?? 0;
      if (held >= maxStreamsPerUser) return { ok: false, reason: 'too-many-streams' };
      opens.hit(username);
      claimed.set(username, held + 1);
      let released = false;
      return {
        ok: true,
        claim: {
          release() {
            if (released) return;
            released = true;
            release(username);
          },
        },
      };
    },

    /** Streams this user holds (or is opening) on this instance. */
    count(username: string): number {
      return claimed.get(username) ?? 0;
    },
  };
}
