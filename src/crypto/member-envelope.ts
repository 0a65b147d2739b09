import type { MemberKeyEnvelope } from '../client/members.js';
import type { KeyEnvelope } from './envelope.js';

/**
 * A key envelope of a members-mode chat is wrapped and signed by the member who committed the
 * epoch (protocol.md, "Chats the server cannot read"), never by the server; its shape is defined
 * once, in the client library.
 */
export type { MemberKeyEnvelope };

/** Either shape: signed by the server (`keyMode: "server"`) or by a member (`"members"`). */
export type AnyEnvelope = KeyEnvelope | MemberKeyEnvelope;

export const isMemberEnvelope = (e: AnyEnvelope): e is MemberKeyEnvelope => 'committer' in e;
