import { utf8 } from './bytes.js';
import { type Fingerprints, keySetFingerprint } from './keys.js';

/** A user as a safety number takes them: their name and their four keys' fingerprints. */
export interface SafetyParty {
  username: string;
  fingerprints: Fingerprints;
}

/** The first line of what is hashed: the version of the derivation. */
export const SAFETY_NUMBER_CONTEXT = 'securechat-safety-number-v1';

/**
 * The safety number of two users, the same on both sides, to compare in person or by phone (as
 * Signal's): 60 digits in 12 groups of 5. Derived (docs/how-it-works.md, "Safety numbers"):
 *
 * 1. each user's line: `<username>:<all-keys fingerprint>` (the lowercase hex of
 *    {@link keySetFingerprint}: SHA-256 of `encryption=<fp>\nrsa-pss-sha256=<fp>\ndsa-sha256=<fp>\ned25519=<fp>`);
 * 2. the two lines sorted (by code unit; usernames are ASCII), so that both sides hash the same;
 * 3. SHA-512 of the UTF-8 of `securechat-safety-number-v1\n<first line>\n<second line>`;
 * 4. bytes 0-59 of the digest in 12 chunks of 5, each read as an unsigned big-endian integer,
 *    taken mod 100000 and written as 5 digits (leading zeros kept), the groups joined by spaces.
 *
 * Any change of either user's name or of any of their eight keys changes it.
 */
export async function safetyNumber(a: SafetyParty, b: SafetyParty): Promise<string> {
  const lines = await Promise.all(
    [a, b].map(async (p) => `${p.username}:${await keySetFingerprint(p.fingerprints)}`),
  );
  lines.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  const digest = new Uint8Array(
    await crypto.subtle.digest('SHA-512', utf8([SAFETY_NUMBER_CONTEXT, ...lines].join('\n'))),
  );
  const groups: string[] = [];
  for (let i = 0; i < 12; i++) {
    let n = 0;
    // 40 bits: exact in a double (below 2^53)
    for (const byte of digest.subarray(i * 5, i * 5 + 5)) n = n * 256 + byte;
    groups.push(String(n % 100000).padStart(5, '0'));
  }
  return groups.join(' ');
}
