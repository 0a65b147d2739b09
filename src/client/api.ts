import type { Answer } from '../contract/index.js';
import { ApiError, ClientError } from './errors.js';

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

/** A problem+json body, read defensively: every field may be missing or of another type. */
function problemOf(status: number, parsed: unknown, retryAfterHeader: string | null): ApiError {
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

/** The REST side of the protocol: JSON in and out, problem+json as {@link ApiError}. */
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

  /** `signal: null` for a call that must go out even after the session's signal fired (logout). */
  // The answer is the server's word, typed (`Answer<'listChats'>`), not checked: callers check what they use.
  async call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal | null,
  ): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await this.fetch(this.server + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: signal === null ? AbortSignal.timeout(LOGOUT_TIMEOUT_MS) : (signal ?? this.options.signal),
    });
    const text = await res.text();
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

  /** POST /auth/login; keeps the token for every later call. */
  async login(username: string, password: string): Promise<Answer<'login'>> {
    try {
      // Not under the session's signal either: a stop during login lets the token arrive, so that
      // the close() that follows can log it out (an aborted login would leave a live token behind).
      const res = await this.call<Answer<'login'>>('POST', '/auth/login', { username, password }, null);
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

  /** POST /auth/logout, not under the session's signal: Ctrl-C aborts the work, never the logout. */
  async logout(): Promise<void> {
    if (!this.token) return;
    try {
      await this.call('POST', '/auth/logout', undefined, null);
    } finally {
      this.token = undefined;
    }
  }

  /** GET /events, answered with its open response (a non-200 as an ApiError, its body read). */
  async events(signal: AbortSignal, lastEventId?: string): Promise<Response> {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    const res = await this.streamFetch(`${this.server}/events`, { headers, signal });
    if (res.status !== 200) {
      const parsed = await res.json().catch(() => ({}));
      throw problemOf(res.status, parsed, res.headers.get('retry-after'));
    }
    return res;
  }
}
