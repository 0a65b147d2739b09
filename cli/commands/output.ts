import path from 'node:path';
import type { Options } from '../args.js';
import { jsonLine, printable } from '../format.js';

export const keysDir = (options: Options) => path.resolve(options.keys);

/** The result as one JSON line with --json, else the lines for people. */
export function print(options: Options, out: { result: unknown; lines: string[] }): void {
  if (options.json) console.log(jsonLine(out.result));
  else for (const line of out.lines) console.log(printable(line));
}

/** A count from the command line (`--limit`, or `history n` in the menu): 20 unless given. */
export const count = (given: string | undefined) => (given ? Number.parseInt(given, 10) || 20 : 20);
