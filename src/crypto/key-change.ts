/** The continuity string of a key change, defined once in the client library (protocol.md, "Accounts over time"). */
export { type KeyFingerprints, keyChangeSigningText } from '../client/key-change.js';
