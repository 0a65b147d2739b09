/** An error the user can act on: printed as one line, never with a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A problem+json answer from the server. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(`${detail} (${status} ${code})`);
    this.name = 'ApiError';
  }
}

export function describe(error: unknown): string {
  if (error instanceof CliError) return error.message;
  const e = error as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e?.cause?.code ?? e?.code;
  if (code === 'ECONNREFUSED') return 'cannot reach the server (connection refused): is it running?';
  if (code === 'ENOTFOUND') return 'cannot resolve the server host name';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'the connection to the server was lost';
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT')
    return 'the server did not answer in time';
  return e?.message ?? String(error);
}
