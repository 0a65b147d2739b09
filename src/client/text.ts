/**
 * C0, DEL, C1, the bidi embeddings, overrides and isolates, every other invisible format character
 * (Unicode Cf: zero-width spaces and joiners, U+061C, U+FEFF…), the line and paragraph separators
 * (Zl, Zp), lone surrogates, and the letters that show as nothing (the Hangul fillers U+115F,
 * U+1160, U+3164 and U+FFA0, the combining grapheme joiner U+034F, the braille blank U+2800), which
 * would make a name or a message look empty or like another: never shown raw (protocol.md,
 * "Display"). Variation selectors are left alone: every emoji with U+FE0F carries one.
 */
const CONTROLS = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u115F\u1160\u2800\u3164\uFFA0]|\u034F/gu;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * How a control character is shown: as a terminal escape (`\x1b`, `\u202e`, `\n`), or as its code
 * point (`⟨U+202E⟩`, `⟨U+000A⟩`), which a page shows and a screen reader reads as "U+202E".
 */
export type ControlNotation = 'escape' | 'code point';

let programNotation: ControlNotation = 'escape';

/**
 * How this program shows control characters from now on, the library's own messages included
 * (they quote server strings through {@link escapeControls}): a terminal keeps the default,
 * `escape`; the web client sets `code point` once, before anything is shown.
 */
export function showControlsAs(notation: ControlNotation): void {
  programNotation = notation;
}

function escapeControl(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  if (Object.hasOwn(NAMED, c)) return NAMED[c];
  if (code < 0x100) return `\\x${code.toString(16).padStart(2, '0')}`;
  return code < 0x10000 ? `\\u${code.toString(16).padStart(4, '0')}` : `\\u{${code.toString(16)}}`;
}

const codePoint = (c: string) => `⟨U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}⟩`;

/**
 * Text from a peer or the server, made safe to show: every control character is shown escaped
 * (`\x1b`, `\u202e`, `\n` in a terminal; `⟨U+001B⟩`, `⟨U+202E⟩`, `⟨U+000A⟩` in a page), so it can
 * neither move the cursor, recolour nor reorder a line, nor start a line of its own, nor hide.
 * With `keepNewlines`, line feeds stay (for message text). The library's own error messages quote
 * server strings through it, in the program's notation ({@link showControlsAs}).
 */
export function escapeControls(
  text: string,
  keepNewlines = false,
  notation: ControlNotation = programNotation,
): string {
  const show = notation === 'code point' ? codePoint : escapeControl;
  return String(text).replace(CONTROLS, (c) => (keepNewlines && c === '\n' ? c : show(c)));
}

export function shortId(id: string): string {
  return escapeControls(String(id).slice(0, 8));
}
