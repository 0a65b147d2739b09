/**
 * Accounts over time (protocol.md): the continuity string a user signs with a current signing
 * key when replacing their keys, over the new keys' fingerprints. The server builds the same
 * string from here.
 */

export interface KeyFingerprints {
  encryption: string;
  'rsa-pss-sha256': string;
  'dsa-sha256': string;
  ed25519: string;
}

/** `securechat/v1/key-change\n{username}\n{encryption}\n{rsa-pss-sha256}\n{dsa-sha256}\n{ed25519}\n{issuedAt}`. */
export function keyChangeSigningText(
  username: string,
  fingerprints: KeyFingerprints,
  issuedAt: string,
): string {
  return [
    'securechat/v1/key-change',
    username,
    fingerprints.encryption,
    fingerprints['rsa-pss-sha256'],
    fingerprints['dsa-sha256'],
    fingerprints.ed25519,
    issuedAt,
  ].join('\n');
}
