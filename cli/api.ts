import { Agent, request } from 'undici';
import { ApiError, CliError } from './errors.js';

export interface ApiOptions {
  server: string;
  signal?: AbortSignal;
  /** PEM of the CA (or the self-signed certificate) that an https server must chain to. */
  ca?: string;
}

/** The REST side of the protocol over undici; every response body is read or discarded. */
export class Api {
  token?: string;
  readonly server: string;
  readonly dispatcher: Agent;

  constructor(private readonly options: ApiOptions) {
    this.dispatcher = new Agent({
      connect: { timeout: 10_000, ...(options.ca && { ca: options.ca }) },
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    let url: URL;
    try {
      url = new URL(options.server);
    } catch {
      throw new CliError(`--server ${options.server} is not a URL (e.g. http://127.0.0.1:8080)`);
    }
    this.server = url.origin;
  }

  /** `signal: null` for a call that must go out even after the session's signal fired (logout). */
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of the documented shapes
  async call<T = any>(method: string, path: string, body?: unknown, signal?: AbortSignal | null): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await request(this.server + path, {
      method: method as 'GET',
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher: this.dispatcher,
      signal: signal === null ? AbortSignal.timeout(10_000) : (signal ?? this.options.signal),
    });
    const text = await res.body.text();
    if (res.statusCode === 204) return undefined as T;
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      throw new CliError(`the server answered ${res.statusCode} with something that is not JSON`);
    }
    if (res.statusCode >= 400) {
      const p = (parsed ?? {}) as { code?: unknown; detail?: unknown; title?: unknown };
      const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
      const retryAfter = Number(res.headers['retry-after']);
      throw new ApiError(
        res.statusCode,
        text(p.code) ?? 'UNKNOWN',
        text(p.detail) ?? text(p.title) ?? 'request failed',
        Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined,
      );
    }
    return parsed as T;
  }

  async login(username: string, password: string): Promise<void> {
    try {
      // Not under the session's signal either: a stop during login lets the token arrive, so that
      // the close() that follows can log it out (an aborted login would leave a live token behind).
      const res = await this.call<{ token: string }>('POST', '/auth/login', { username, password }, null);
      this.token = res.token;
    } catch (error) {
      if (error instanceof ApiError && error.code === 'INVALID_CREDENTIALS') {
        throw new CliError('login failed: unknown user or wrong password');
      }
      if (error instanceof ApiError && error.status === 429) {
        const wait = error.retryAfter === undefined ? 'later' : `in ${error.retryAfter} s`;
        throw new CliError(`login refused: too many attempts; try again ${wait}`);
      }
      throw error;
    }
  }

  async logout(): Promise<void> {
    if (!this.token) return;
    try {
      // Not under the session's signal: Ctrl-C aborts the work, never the logout that follows it.
      await this.call('POST', '/auth/logout', undefined, null);
    } finally {
      this.token = undefined;
    }
  }

  async close(): Promise<void> {
    if (!this.dispatcher.closed) await this.dispatcher.close();
  }
}
