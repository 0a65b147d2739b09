import type { SignatureAlgorithm } from '../src/crypto/keys.js';

export const SCHEME_NAMES = new Map<string, SignatureAlgorithm>([
  ['rsa', 'rsa-pss-sha256'],
  ['dsa', 'dsa-sha256'],
  ['ed25519', 'ed25519'],
  ['rsa-pss-sha256', 'rsa-pss-sha256'],
  ['dsa-sha256', 'dsa-sha256'],
]);

const SHORT_NAMES = new Map([
  ['rsa-pss-sha256', 'rsa'],
  ['dsa-sha256', 'dsa'],
  ['ed25519', 'ed25519'],
]);

export function shortScheme(alg: string): string {
  return SHORT_NAMES.get(alg) ?? escapeControls(alg);
}

export function clock(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? escapeControls(iso) : d.toTimeString().slice(0, 8);
}

export function shortId(id: string): string {
  return escapeControls(String(id).slice(0, 8));
}

/**
 * C0, DEL, C1, the bidi embeddings, overrides and isolates, every other invisible format character
 * (Unicode Cf: zero-width spaces and joiners, U+061C, U+FEFF…), the line and paragraph separators
 * (Zl, Zp) and lone surrogates: never printed raw.
 */
const CONTROLS = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeControl(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  if (Object.hasOwn(NAMED, c)) return NAMED[c];
  if (code < 0x100) return `\\x${code.toString(16).padStart(2, '0')}`;
  return code < 0x10000 ? `\\u${code.toString(16).padStart(4, '0')}` : `\\u{${code.toString(16)}}`;
}

/**
 * Text from a peer or the server, made safe for a terminal: every control character is shown as
 * an escape (`\x1b`, `\u202e`, `\n`), so it can neither move the cursor, recolour nor reorder a line,
 * nor start a line of its own. With `keepNewlines`, line feeds stay (for callers that mark them).
 */
export function escapeControls(text: string, keepNewlines = false): string {
  return String(text).replace(CONTROLS, (c) => (keepNewlines && c === '\n' ? c : escapeControl(c)));
}

/** What starts every continuation line of a multi-line message: no line of the client's own starts so. */
export const CONTINUATION = '    | ';

/** A message's text for the terminal: escaped, and each line after the first marked as a continuation. */
export function messageText(text: string): string {
  return escapeControls(text, true).split('\n').join(`\n${CONTINUATION}`);
}

/**
 * A line the client prints (say, warn): escaped, newline included, except the line feeds that
 * `messageText` put before a continuation mark — only a message's text spans several lines.
 */
export function printable(text: string): string {
  return String(text)
    .split(`\n${CONTINUATION}`)
    .map((part) => escapeControls(part))
    .join(`\n${CONTINUATION}`);
}

/** One JSON line; DEL, C1, bidi and other format characters (which JSON allows raw) are \u escapes too. */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}]/gu, (c) =>
    c
      .split('')
      .map((u) => `\\u${u.charCodeAt(0).toString(16).padStart(4, '0')}`)
      .join(''),
  );
}
