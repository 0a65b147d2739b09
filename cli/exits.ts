/** The signals that stop a run, with the exit code a shell expects for each (128 + its number). */
const SIGNALS = [
  ['SIGINT', 130],
  ['SIGTERM', 143],
  ['SIGHUP', 129],
] as const;

/**
 * Every way a run can be stopped — Ctrl-C, SIGTERM, the terminal closing (SIGHUP), a reader that
 * went away (EPIPE on stdout or stderr, `listen --json | head -1`) — aborts `controller`: the work
 * in flight stops and the one close() of the session (its `finally`) logs out. Installed before
 * login, so that a stop between login and the first command logs out too. Before `arm()` (nothing
 * to undo yet) and on a second signal, the process exits at once.
 */
export function installStops(controller: AbortController): { arm(): void } {
  let armed = false;
  for (const [signal, code] of SIGNALS) {
    process.on(signal, () => {
      if (!armed || controller.signal.aborted) process.exit(code);
      controller.abort();
    });
  }
  // An 'error' on a closed pipe is otherwise an uncaught exception with a stack trace.
  const broken = () => {
    if (!controller.signal.aborted) controller.abort();
  };
  process.stdout.on('error', broken);
  process.stderr.on('error', broken);
  return {
    arm: () => {
      armed = true;
    },
  };
}
