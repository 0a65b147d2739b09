import type { Parse } from './parse.js';

/** The process's environment, or a test's. */
export type Env = Record<string, string | undefined>;

/** One variable of the table: its name, its default, how its text is read, and what it expects. */
export interface Setting<T> {
  env: string;
  fallback: T;
  parse: Parse<T>;
  /** Said after "is invalid: expected" when the value is wrong. */
  expected: string;
}

export const setting = <T>(env: string, fallback: T, parse: Parse<T>, expected: string): Setting<T> => ({
  env,
  fallback,
  parse,
  expected,
});

/** The values a table of settings reads to, field by field. */
export type Values<S> = { [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

/** Variables whose values are secrets (URLs are never repeated either: they may hold a password). */
const SECRETS = ['SECURECHAT_JWT_SECRET'];

/**
 * How a wrong value is named in a problem: with its value, unless the variable is a secret or the
 * value looks like a URL or credentials (`://`, `@`) — a Redis URL pasted into the wrong variable.
 */
export function shown(name: string, raw: string): string {
  return SECRETS.includes(name) || /:\/\/|@/.test(raw) ? name : `${name}=${JSON.stringify(raw)}`;
}

/** A setting's value: its default when unset or empty, and when wrong (with one problem said). */
export function readSetting<T>(
  env: Env,
  { env: name, fallback, parse, expected }: Setting<T>,
  problems: string[],
): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = parse(raw);
  if (value === undefined) {
    // a secret's value is never repeated, not even a wrong one: it may be the right one mistyped
    problems.push(`${shown(name, raw)} is invalid: expected ${expected}`);
    return fallback;
  }
  return value;
}

/** Every setting of a table, read in the table's order. */
export function readSettings<S extends Record<string, Setting<unknown>>>(
  env: Env,
  table: S,
  problems: string[],
): Values<S> {
  const values: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(table)) values[key] = readSetting(env, entry, problems);
  return values as Values<S>;
}

/**
 * A connection URL with the expected schemes. Problems never repeat the value: it may hold a password.
 */
export function readUrl(env: Env, name: string, schemes: string[], needed: string, problems: string[]) {
  const raw = env[name];
  if (!raw) {
    problems.push(`${name} is required ${needed}`);
    return '';
  }
  try {
    if (schemes.includes(new URL(raw).protocol)) return raw;
  } catch {
    // reported below
  }
  problems.push(`${name} is invalid: expected a URL starting ${schemes.map((s) => `${s}//`).join(' or ')}`);
  return '';
}
