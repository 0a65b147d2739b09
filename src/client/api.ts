import type { Answer, OperationId, PathParams, QueryParams, RequestBody } from '../contract/index.js';
import { ApiError, ClientError } from './errors.js';
import { pathOf, pause, problemOf, ROUTES, retryWait } from './http.js';

/** `fetch` as the platform has it (a browser's, or undici's with a dispatcher for a CA). */
export type Fetch = (url: string, init: RequestInit) => Promise<Response>;

export interface ApiOptions {
  /** The server's URL; only its origin is kept. */
  server: string;
  fetch?: Fetch;
  /** For the long-lived event stream (e.g. without a body timeout); defaults to `fetch`. */
  streamFetch?: Fetch;
  /** Aborts every call (Ctrl-C, closing the page). */
  signal?: AbortSignal;
}

const LOGOUT_TIMEOUT_MS = 10_000;

/**
 * The REST side of the protocol: one method per operation of openapi.yaml, named by its
 * `operationId` and typed from src/contract/; JSON in and out, problem+json as {@link ApiError}.
 * Each answer is the server's word, typed, not checked: callers check what they use.
 */
export class Api {
  token?: string;
  readonly server: string;
  private readonly fetch: Fetch;
  private readonly streamFetch: Fetch;

  constructor(private readonly options: ApiOptions) {
    this.server = new URL(options.server).origin;
    this.fetch = options.fetch ?? ((url, init) => globalThis.fetch(url, init));
    this.streamFetch = options.streamFetch ?? this.fetch;
  }

  /**
   * One request by method and path, for what no operation names (a test's malformed request).
   * `signal: null` for a call that must go out even after the session's signal fired (logout).
   */
  async call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal | null,
  ): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const stop = signal === null ? AbortSignal.timeout(LOGOUT_TIMEOUT_MS) : (signal ?? this.options.signal);
    let res: Response;
    let text: string;
    for (let retries = 0; ; retries++) {
      res = await this.fetch(this.server + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: stop,
      });
      text = await res.text();
      const wait = retryWait(res, retries);
      if (wait === undefined || stop?.aborted) break;
      await pause(wait, stop);
    }
    if (res.status === 204) return undefined as T;
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      throw new ClientError(`the server answered ${res.status} with something that is not JSON`);
    }
    if (res.status >= 400) throw problemOf(res.status, parsed, res.headers.get('retry-after'));
    return parsed as T;
  }

  /** One operation of openapi.yaml, its answer typed as the spec has it. */
  private operation<Op extends OperationId, T = Answer<Op>>(
    op: Op,
    params: PathParams<Op>,
    options: { query?: Partial<QueryParams<Op>>; body?: RequestBody<Op>; signal?: AbortSignal | null } = {},
  ): Promise<T> {
    return this.call<T>(ROUTES[op][0], pathOf(op, params, options.query), options.body, options.signal);
  }

  /** POST /auth/login; keeps the token for every later call. */
  async login(username: string, password: string): Promise<Answer<'login'>> {
    try {
      // Not under the session's signal either: a stop during login lets the token arrive, so that
      // the close() that follows can log it out (an aborted login would leave a live token behind).
      const res = await this.operation('login', {}, { body: { username, password }, signal: null });
      this.token = res.token;
      return res;
    } catch (error) {
      if (error instanceof ApiError && error.code === 'INVALID_CREDENTIALS')
        throw new ClientError('login failed: unknown user or wrong password');
      if (error instanceof ApiError && error.status === 429) {
        const wait = error.retryAfter === undefined ? 'later' : `in ${error.retryAfter} s`;
        throw new ClientError(`login refused: too many attempts; try again ${wait}`);
      }
      throw error;
    }
  }

  /**
   * POST /auth/logout, not under the session's signal: Ctrl-C aborts the work, never the logout.
   * `everywhere`: every session of the user ends, on every device.
   */
  async logout(options: { everywhere?: boolean } = {}): Promise<void> {
    if (!this.token) return;
    try {
      const query = options.everywhere ? { everywhere: true } : {};
      await this.operation<'logout', void>('logout', {}, { query, signal: null });
    } finally {
      this.token = undefined;
    }
  }

  /** GET /users: every user with their presence. */
  listUsers() {
    return this.operation('listUsers', {});
  }

  /** POST /users: self-registration with a one-time code (see register.ts for the checked way). */
  registerUser(body: RequestBody<'registerUser'>) {
    return this.operation('registerUser', {}, { body });
  }

  /** GET /users/online */
  listOnlineUsers() {
    return this.operation('listOnlineUsers', {});
  }

  /** GET /users/{username}/status */
  getUserStatus(username: string) {
    return this.operation('getUserStatus', { username });
  }

  /** GET /users/{username}/keys: the keys as the server has them (trust.ts checks and pins them). */
  getUserKeys(username: string) {
    return this.operation('getUserKeys', { username });
  }

  /** PUT /users/me/password: every other session of the user ends; this one stays. */
  changePassword(body: RequestBody<'changePassword'>): Promise<void> {
    return this.operation<'changePassword', void>('changePassword', {}, { body });
  }

  /** PUT /users/me/keys: new keys, with a continuity signature by a current key (key-change.ts). */
  replaceKeys(body: RequestBody<'replaceKeys'>) {
    return this.operation('replaceKeys', {}, { body });
  }

  /** PUT /users/{username}/keys: new keys with the administrator's one-time reset code; no token. */
  resetKeys(username: string, body: RequestBody<'resetKeys'>) {
    return this.operation('resetKeys', { username }, { body });
  }

  /** GET /server/key */
  getServerKey() {
    return this.operation('getServerKey', {});
  }

  /** POST /chats; a `keyMode` left out is the spec's default ("server"), filled in by the server. */
  createChat(body: Omit<RequestBody<'createChat'>, 'keyMode'> & Partial<RequestBody<'createChat'>>) {
    return this.operation('createChat', {}, { body: body as RequestBody<'createChat'> });
  }

  /** GET /chats: one page (chats.ts's `listAllChats` follows every page). */
  listChats(query: Partial<QueryParams<'listChats'>> = {}) {
    return this.operation('listChats', {}, { query });
  }

  /** GET /chats/{chatId} */
  getChat(chatId: string) {
    return this.operation('getChat', { chatId });
  }

  /** POST /chats/{chatId}/invite */
  inviteToChat(chatId: string, body: RequestBody<'inviteToChat'>) {
    return this.operation('inviteToChat', { chatId }, { body });
  }

  /** POST /chats/{chatId}/join */
  joinChat(chatId: string) {
    return this.operation('joinChat', { chatId });
  }

  /** POST /chats/{chatId}/leave */
  leaveChat(chatId: string): Promise<void> {
    return this.operation<'leaveChat', void>('leaveChat', { chatId });
  }

  /** GET /chats/{chatId}/key: the current epoch's envelope, or `epoch`'s. */
  getChatKey(chatId: string, query: Partial<QueryParams<'getChatKey'>> = {}) {
    return this.operation('getChatKey', { chatId }, { query });
  }

  /** POST /chats/{chatId}/epochs: a members-mode commit. */
  commitEpoch(chatId: string, body: RequestBody<'commitEpoch'>) {
    return this.operation('commitEpoch', { chatId }, { body });
  }

  /** POST /chats/{chatId}/messages */
  postMessage(chatId: string, body: RequestBody<'postMessage'>) {
    return this.operation('postMessage', { chatId }, { body });
  }

  /** GET /chats/{chatId}/messages: one page of history. */
  listMessages(chatId: string, query: Partial<QueryParams<'listMessages'>> = {}) {
    return this.operation('listMessages', { chatId }, { query });
  }

  /** GET /events, answered with its open response (a non-200 as an ApiError, its body read). */
  async streamEvents(signal: AbortSignal, lastEventId?: string): Promise<Response> {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    const res = await this.streamFetch(this.server + pathOf('streamEvents', {}), { headers, signal });
    if (res.status !== 200) {
      const parsed = await res.json().catch(() => ({}));
      throw problemOf(res.status, parsed, res.headers.get('retry-after'));
    }
    return res;
  }

  /** GET /health */
  getHealth() {
    return this.operation('getHealth', {});
  }

  /** GET /health/live */
  getLiveness() {
    return this.operation('getLiveness', {});
  }

  /** GET /health/ready */
  getReadiness() {
    return this.operation('getReadiness', {});
  }
}
