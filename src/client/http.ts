import type { OperationId, PathParams, QueryParams } from '../contract/index.js';
import { ApiError } from './errors.js';

// The parts of the API caller that are not its operations: where each operation is served, how a
// path is made, when a 503 is sent again, and how a problem+json answer is read.

/** Where each operation of openapi.yaml is served: its method and path, as the spec has them. */
export const ROUTES: { readonly [Op in OperationId]: readonly ['GET' | 'POST' | 'PUT', string] } = {
  login: ['POST', '/auth/login'],
  logout: ['POST', '/auth/logout'],
  listUsers: ['GET', '/users'],
  registerUser: ['POST', '/users'],
  listOnlineUsers: ['GET', '/users/online'],
  getUserStatus: ['GET', '/users/{username}/status'],
  getUserKeys: ['GET', '/users/{username}/keys'],
  changePassword: ['PUT', '/users/me/password'],
  replaceKeys: ['PUT', '/users/me/keys'],
  resetKeys: ['PUT', '/users/{username}/keys'],
  getServerKey: ['GET', '/server/key'],
  createChat: ['POST', '/chats'],
  listChats: ['GET', '/chats'],
  getChat: ['GET', '/chats/{chatId}'],
  inviteToChat: ['POST', '/chats/{chatId}/invite'],
  joinChat: ['POST', '/chats/{chatId}/join'],
  leaveChat: ['POST', '/chats/{chatId}/leave'],
  getChatKey: ['GET', '/chats/{chatId}/key'],
  commitEpoch: ['POST', '/chats/{chatId}/epochs'],
  postMessage: ['POST', '/chats/{chatId}/messages'],
  listMessages: ['GET', '/chats/{chatId}/messages'],
  streamEvents: ['GET', '/events'],
  getHealth: ['GET', '/health'],
  getLiveness: ['GET', '/health/live'],
  getReadiness: ['GET', '/health/ready'],
};

/**
 * An operation's path with its parameters filled in (each one encoded), and its query in the order
 * given (a value left undefined is left out).
 */
export function pathOf<Op extends OperationId>(
  op: Op,
  params: PathParams<Op>,
  query: Partial<QueryParams<Op>> = {},
): string {
  const values = params as Record<string, string>;
  const path = ROUTES[op][1].replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(values[name]));
  const pairs = Object.entries(query as Record<string, unknown>)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}=${encodeURIComponent(String(value))}`);
  return pairs.length === 0 ? path : `${path}?${pairs.join('&')}`;
}

/** 503s waited out and sent again, and the longest `Retry-After` waited for (seconds). */
export const RETRIES_503 = 3;
const MAX_RETRY_AFTER_S = 5;

/**
 * How long to wait before sending a request again, or undefined to answer now: a 503 with
 * `Retry-After` (an instance shutting down, a backend away for a moment) changed nothing, so it is
 * sent again, a few times, after the wait asked for (with a little jitter: a restart's clients do
 * not come back all at once).
 */
export function retryWait(res: Response, retries: number): number | undefined {
  if (res.status !== 503 || retries >= RETRIES_503) return undefined;
  const header = res.headers.get('retry-after');
  const seconds = header === null || !/^\d+$/.test(header) ? Number.NaN : Number(header);
  if (!(seconds <= MAX_RETRY_AFTER_S)) return undefined;
  return seconds * 1000 + Math.random() * 250;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** A problem+json body, read defensively: every field may be missing or of another type. */
export function problemOf(status: number, parsed: unknown, retryAfterHeader: string | null): ApiError {
  const p = (parsed ?? {}) as { code?: unknown; detail?: unknown; title?: unknown };
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const retryAfter =
    retryAfterHeader === null || retryAfterHeader === '' ? Number.NaN : Number(retryAfterHeader);
  return new ApiError(
    status,
    text(p.code) ?? 'UNKNOWN',
    text(p.detail) ?? text(p.title) ?? 'request failed',
    Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined,
  );
}
