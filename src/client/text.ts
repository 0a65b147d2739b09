/**
 * C0, DEL, C1, the bidi embeddings, overrides and isolates, every other invisible format character
 * (Unicode Cf: zero-width spaces and joiners, U+061C, U+FEFF…), the line and paragraph separators
 * (Zl, Zp) and lone surrogates: never shown raw (protocol.md, "Display").
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
 * The library's own error messages quote server strings through it.
 */
export function escapeControls(text: string, keepNewlines = false): string {
  return String(text).replace(CONTROLS, (c) => (keepNewlines && c === '\n' ? c : escapeControl(c)));
}

export function shortId(id: string): string {
  return escapeControls(String(id).slice(0, 8));
}
