import { Writable } from 'node:stream';

/** Log bytes that may wait for a reader of standard output; lines past them are dropped. */
export const LOG_QUEUE_BYTES = 4 * 1024 * 1024;

/**
 * Where the log goes: standard output, made so that it can never hold up the server nor its exit.
 * A line is handed to `out` at once (a pipe or socket takes it without blocking; what its reader
 * has not taken yet waits in memory, at most `maxQueued` bytes; lines past that are dropped and
 * counted). Once `out` fails (EPIPE: the reader is gone) nothing more is written to it. Nothing is
 * flushed at exit: an exit never waits for a reader.
 */
export function logOutput(
  out: NodeJS.WritableStream & Writable = process.stdout,
  maxQueued = LOG_QUEUE_BYTES,
) {
  let broken = false;
  let dropped = 0;
  out.on('error', () => {
    broken = true;
  });
  return new Writable({
    decodeStrings: false,
    write(chunk: Buffer | string, _encoding, done) {
      if (broken || out.destroyed) {
        done();
        return;
      }
      if (out.writableLength > maxQueued) {
        dropped += 1;
        done();
        return;
      }
      if (dropped > 0) {
        const msg = `${dropped} log lines were dropped: standard output was not being read`;
        out.write(`${JSON.stringify({ level: 40, time: Date.now(), msg })}\n`);
        dropped = 0;
      }
      out.write(chunk);
      done();
    },
  });
}
