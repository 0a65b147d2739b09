import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Errors } from '../errors.js';
import { USERNAME } from '../services/accounts.js';

export const TOKEN_ISSUER = 'securechat';
export const TOKEN_AUDIENCE = 'securechat-api';

export interface Session {
  username: string;
  sessionId: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    authenticate: (request: FastifyRequest) => Promise<void>;
    signToken: (claims: { sub: string; jti: string; exp: number }) => string;
  }
  interface FastifyRequest {
    session: Session;
  }
}

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

/** How long a checked token is taken as checked (at most until it expires), and how many are kept. */
const CHECKED_MS = 60_000;
const CHECKED_MAX = 10_000;

/**
 * Tokens whose signature and claims were checked, by the very token (its whole text is the key: no
 * other token can hit the entry), until it expires or CHECKED_MS pass, whichever is first: a
 * client that sends the same token with every request costs one HMAC and one decode a minute, not
 * one per request. A failed check is never kept; revocation is checked on every request as before.
 */
export function checkedTokens(now: () => number = Date.now) {
  const checked = new Map<string, { session: Session; until: number }>();
  return {
    get(token: string): Session | undefined {
      const hit = checked.get(token);
      if (hit === undefined) return undefined;
      if (now() < hit.until) return { ...hit.session };
      checked.delete(token);
      return undefined;
    },
    set(token: string, session: Session): void {
      // the oldest goes first (a Map keeps insertion order)
      if (checked.size >= CHECKED_MAX) checked.delete(checked.keys().next().value as string);
      checked.set(token, { session: { ...session }, until: Math.min(session.expiresAt, now() + CHECKED_MS) });
    },
  };
}

/**
 * JWTs pinned to HS256 with a 256-bit secret; iss, aud, exp, sub and jti are all required.
 * A revoked jti (logout) is refused even before it expires.
 */
export default fp(
  async function auth(
    app: FastifyInstance,
    opts: { secret: string; isRevoked: (jti: string) => Promise<boolean> },
  ) {
    await app.register(fastifyJwt, {
      secret: opts.secret,
      sign: { algorithm: 'HS256', iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE },
      verify: {
        algorithms: ['HS256'],
        allowedIss: TOKEN_ISSUER,
        allowedAud: TOKEN_AUDIENCE,
        requiredClaims: ['iss', 'aud', 'exp', 'sub', 'jti'],
      },
    });
    app.decorate('signToken', (claims: { sub: string; jti: string; exp: number }) => app.jwt.sign(claims));
    app.decorateRequest('session', null as unknown as Session);
    const checked = checkedTokens();

    app.decorate('authenticate', async (request: FastifyRequest) => {
      const header = request.headers.authorization;
      if (!header)
        throw new Errors.UNAUTHENTICATED('Send Authorization: Bearer <token>; POST /auth/login gives one.');
      const token = BEARER.exec(header)?.[1];
      if (!token) throw new Errors.INVALID_TOKEN('Authorization must be "Bearer <JWT>".');
      const known = checked.get(token);
      if (known) {
        if (await opts.isRevoked(known.sessionId)) throw new Errors.TOKEN_REVOKED();
        request.session = known;
        return;
      }
      let claims: Record<string, unknown>;
      try {
        claims = app.jwt.verify(token);
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === 'FAST_JWT_EXPIRED' || code === 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED')
          throw new Errors.TOKEN_EXPIRED();
        throw new Errors.INVALID_TOKEN('The token is not valid.');
      }
      const { sub, jti, exp } = claims;
      if (
        typeof sub !== 'string' ||
        !USERNAME.test(sub) ||
        typeof jti !== 'string' ||
        typeof exp !== 'number'
      ) {
        throw new Errors.INVALID_TOKEN('The token is not valid.');
      }
      if (await opts.isRevoked(jti)) throw new Errors.TOKEN_REVOKED();
      request.session = { username: sub, sessionId: jti, expiresAt: exp * 1000 };
      checked.set(token, request.session);
    });
  },
  { name: 'auth' },
);
