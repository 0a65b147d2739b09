import { Api, type Fetch } from '../src/client/index.js';

/**
 * One JSON call as any user (the bench holds many tokens), on the client library's caller:
 * a problem+json answer throws its ApiError.
 */
export function caller(fetch?: Fetch) {
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of the documented shapes
  return (url: string, method: string, path: string, token?: string, body?: unknown): Promise<any> => {
    const api = new Api({ server: url, fetch });
    api.token = token;
    return api.call(method, path, body);
  };
}
