/**
 * p, q, g and y of a DSA key for node:crypto callers: node parses DSA keys but exposes only the
 * sizes of p and q, and the domain parameters must be checked. The DER is read by the client
 * library's strict reader (src/client/der.ts), the one DER reader of client and server.
 * @see RFC 3279 section 2.3.2 (DSA public keys), ITU-T X.690 (DER)
 */
import { DerError, dsaValues, parseSpki } from '../client/der.js';

export { DerError };

/** p, q, g and y of a DSA key's SPKI DER (the algorithm OID is checked by node:crypto first). */
export function dsaPublicKeyValues(spki: Uint8Array): { p: bigint; q: bigint; g: bigint; y: bigint } {
  return dsaValues(parseSpki(new Uint8Array(spki)));
}
