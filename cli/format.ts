import { escapeControls, type SignatureAlgorithm } from '../src/client/index.js';

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
