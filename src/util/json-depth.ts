/**
 * Whether JSON text opens more than `max` arrays or objects inside each other, found by one pass
 * over its characters (brackets inside strings do not count) before anything is parsed: JSON.parse
 * of a megabyte of `[[[…]]]` holds the event loop for hundreds of milliseconds, the scan a
 * millisecond or two. Text that is not JSON at all is left for the parser to refuse.
 */
export function nestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash: the next character is escaped, whatever it is
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
