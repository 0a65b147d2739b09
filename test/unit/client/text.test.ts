/**
 * The one rule for showing text from a peer or the server (protocol.md, "Display"), in its two
 * notations: a terminal's escapes (`\u202e`, the CLI's) and a page's code points (`⟨U+202E⟩`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError, escapeControls, shortId, showControlsAs } from '../../../src/client/index.js';

afterEach(() => showControlsAs('escape'));

/** U+202E, the isolates, the marks, zero-width space and joiner, the BOM. */
const INVISIBLE = 'a\u202eb\u2066c\u2067d\u2068e\u2069f\u200eg\u200fh\u200bi\u200dj\ufeffk';

describe('showing control characters (security round 2, #5)', () => {
  it('a page shows bidi controls and invisible format characters as their code points', () => {
    expect(escapeControls(INVISIBLE, false, 'code point')).toBe(
      'a⟨U+202E⟩b⟨U+2066⟩c⟨U+2067⟩d⟨U+2068⟩e⟨U+2069⟩f⟨U+200E⟩g⟨U+200F⟩h⟨U+200B⟩i⟨U+200D⟩j⟨U+FEFF⟩k',
    );
    // C0, DEL, C1, separators, a lone surrogate, a tag character; a pair that is an emoji stays
    expect(escapeControls('\x1b[2J\x7f\x85\u2028\ud800\u{e0001}😀', false, 'code point')).toBe(
      '⟨U+001B⟩[2J⟨U+007F⟩⟨U+0085⟩⟨U+2028⟩⟨U+D800⟩⟨U+E0001⟩😀',
    );
  });

  it("letters that show as nothing (Hangul fillers, the grapheme joiner, the braille blank) are shown, an emoji's variation selector is not", () => {
    expect(escapeControls('a\u3164b\u115fc\u1160d\uffa0e\u034ff\u2800g', false, 'code point')).toBe(
      'a⟨U+3164⟩b⟨U+115F⟩c⟨U+1160⟩d⟨U+FFA0⟩e⟨U+034F⟩f⟨U+2800⟩g',
    );
    expect(escapeControls('\u3164', false)).toBe('\\u3164');
    expect(escapeControls('\u2764\ufe0f', false, 'code point')).toBe('\u2764\ufe0f');
  });

  it('newlines stay only where asked (message text), as in the terminal', () => {
    expect(escapeControls('one\ntwo\r\tthree', false, 'code point')).toBe(
      'one⟨U+000A⟩two⟨U+000D⟩⟨U+0009⟩three',
    );
    expect(escapeControls('one\ntwo\r', true, 'code point')).toBe('one\ntwo⟨U+000D⟩');
    expect(escapeControls('one\ntwo\r', true)).toBe('one\ntwo\\r');
  });

  it('the terminal keeps its escapes, and both notations escape exactly the same characters', () => {
    expect(escapeControls(INVISIBLE)).toBe(
      'a\\u202eb\\u2066c\\u2067d\\u2068e\\u2069f\\u200eg\\u200fh\\u200bi\\u200dj\\ufeffk',
    );
    const differ: string[] = [];
    for (let c = 0; c < 0x110000; c++) {
      const ch = String.fromCodePoint(c);
      if ((escapeControls(ch) === ch) !== (escapeControls(ch, false, 'code point') === ch))
        differ.push(c.toString(16));
    }
    expect(differ).toEqual([]);
  });

  it("a program that shows code points has the library's own messages quote server strings so", () => {
    const problem = () => new ApiError(400, 'BAD\u2066', 'no\u202eone\nhere');
    expect(problem().message).toBe('no\\u202eone\\nhere (400 BAD\\u2066)');
    showControlsAs('code point');
    expect(problem().message).toBe('no⟨U+202E⟩one⟨U+000A⟩here (400 BAD⟨U+2066⟩)');
    expect(shortId('\u202eabcdefgh')).toBe('⟨U+202E⟩abcdefg');
    // asked for by name, either notation whatever the program's
    expect(escapeControls('\u202e', false, 'escape')).toBe('\\u202e');
  });
});
