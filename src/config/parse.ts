import { isIP } from 'node:net';
import proxyaddr from '@fastify/proxy-addr';

/** A parser of one kind of value: the value the text names, or undefined when it names none. */
export type Parse<T> = (raw: string) => T | undefined;

/** Any text, as it is (a host name, a folder). */
export const text: Parse<string> = (raw) => raw;

/** A whole number from `min` to `max`, in digits only (no sign, no exponent, no spaces). */
export const int =
  (min: number, max: number): Parse<number> =>
  (raw) => {
    const n = Number(raw);
    return /^\d+$/.test(raw) && n >= min && n <= max ? n : undefined;
  };

/** `true`, `1`, `false` or `0`, in any case. */
export const bool: Parse<boolean> = (raw) =>
  ({ true: true, '1': true, false: false, '0': false })[raw.toLowerCase()];

/** One of a fixed set of words, spelt exactly. */
export const oneOf =
  <T extends string>(values: readonly T[]): Parse<T> =>
  (raw) =>
    values.includes(raw as T) ? (raw as T) : undefined;

/** Text of at least `bytes` bytes in UTF-8 (a secret). */
export const minBytes =
  (bytes: number): Parse<string> =>
  (raw) =>
    Buffer.byteLength(raw) >= bytes ? raw : undefined;

/** Parses `3600`, `3600s`, `60m`, `1h`, `7d` into seconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)(s|m|h|d)?$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[match[2] ?? 's'] ?? 1;
  const seconds = Number(match[1]) * unit;
  return seconds > 0 && Number.isSafeInteger(seconds) ? seconds : undefined;
}

/** A comma-separated list, each item checked: undefined when one fails or the list is empty. */
function parseList(raw: string, valid: (item: string) => boolean): string[] | undefined {
  const items = raw
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  return items.length > 0 && items.every(valid) ? items : undefined;
}

/** `https://a.example, http://b.example:8080`: each an http(s) origin, spelt as its origin. */
export function parseOrigins(raw: string): string[] | undefined {
  return parseList(raw, (o) => {
    try {
      const url = new URL(o);
      return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === o;
    } catch {
      return false;
    }
  });
}

const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * `10.0.0.1, 10.1.0.0/16, loopback`: each an address, a CIDR range or a proxy-addr name, and the
 * whole list one that the proxy library itself compiles (it refuses a `/0` range, for one), so a
 * wrong value is named here rather than failing the start with the library's own message.
 */
export function parseProxies(raw: string): string[] | undefined {
  const list = parseList(raw, (hop) => {
    if (PROXY_NAMES.includes(hop)) return true;
    const [address = '', bits, extra] = hop.split('/');
    const family = isIP(address);
    if (family === 0 || extra !== undefined) return false;
    return bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
  });
  if (!list) return undefined;
  try {
    proxyaddr.compile(list);
  } catch {
    return undefined;
  }
  return list;
}
