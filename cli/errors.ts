import { ClientError } from '../src/client/index.js';

/** An error the user can act on: printed as one line, never with a stack trace. */
export class CliError extends ClientError {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
const CERTIFICATE_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
]);

export function describe(error: unknown): string {
  if (error instanceof ClientError) return error.message;
  const e = error as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e?.cause?.code ?? e?.code;
  if (code === 'ECONNREFUSED') return 'cannot reach the server (connection refused): is it running?';
  if (code === 'ENOTFOUND') return 'cannot resolve the server host name';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'the connection to the server was lost';
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT')
    return 'the server did not answer in time';
  if (code && CERTIFICATE_ERRORS.has(code))
    return `the server's certificate is not trusted (${e?.cause?.message ?? e?.message ?? code}): if the server uses its own CA or a self-signed certificate, pass it with --ca FILE (or SECURECHAT_CA)`;
  return e?.message ?? String(error);
}
