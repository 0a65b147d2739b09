import { Api, type Fetch } from '../src/client/index.js';

/**
 * The client library's caller as any user (the bench holds many tokens): `as(url, token)` is an
 * {@link Api} with one method per operation; a problem+json answer throws its ApiError.
 */
export function caller(fetch?: Fetch) {
  return (url: string, token?: string): Api => {
    const api = new Api({ server: url, fetch });
    api.token = token;
    return api;
  };
}
