/**
 * A POSIX ustar archive of a few small text files and their folders, made in the page: the key
 * store download. `tar -xf` unpacks it everywhere (Linux, macOS, Windows 10 and later) with each
 * entry's mode, so private keys arrive as 0600 in a 0700 folder without a second step.
 */
export interface TarEntry {
  /** A relative path of at most 100 bytes; a folder's ends in `/`. */
  path: string;
  mode: number;
  /** Absent for a folder. */
  content?: string;
}

import { type Bytes, concat, utf8 } from '../../src/client/index.js';

const BLOCK = 512;

/** `value` in octal, zero-padded to `width - 1` digits and ended by a NUL. */
function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function header(entry: TarEntry, size: number, mtime: number): Bytes {
  const block = new Uint8Array(BLOCK);
  const put = (offset: number, text: string) => block.set(utf8(text), offset);
  const name = utf8(entry.path);
  if (name.length > 100 || entry.path.startsWith('/') || entry.path.split('/').includes('..'))
    throw new Error(`no tar entry for ${entry.path}`);
  block.set(name, 0);
  put(100, octal(entry.mode, 8));
  put(108, octal(0, 8)); // uid: the user who unpacks it owns the files
  put(116, octal(0, 8)); // gid
  put(124, octal(size, 12));
  put(136, octal(mtime, 12));
  put(156, entry.content === undefined ? '5' : '0');
  put(257, 'ustar\u000000');
  // the checksum is the sum of the header's bytes with its own field taken as eight spaces
  put(148, ' '.repeat(8));
  const sum = block.reduce((a, b) => a + b, 0);
  put(148, `${sum.toString(8).padStart(6, '0')}\0 `);
  return block;
}

/** The archive's bytes: each entry's header and content (padded to 512 bytes), then two empty blocks. */
export function tar(entries: TarEntry[], mtime = Math.floor(Date.now() / 1000)): Bytes {
  const parts: Bytes[] = [];
  for (const entry of entries) {
    const body = utf8(entry.content ?? '');
    parts.push(
      header(entry, body.length, mtime),
      body,
      new Uint8Array((BLOCK - (body.length % BLOCK)) % BLOCK),
    );
  }
  return concat(...parts, new Uint8Array(2 * BLOCK));
}
