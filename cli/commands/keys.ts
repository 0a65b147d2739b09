import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  ClientError,
  escapeControls,
  type Fingerprints,
  importEncryptionKey,
  importServerKey,
  type KeyEnvelope,
  keySetFingerprint,
  safetyNumber,
  toHex,
  unwrapChatKeyBytes,
  verifyEnvelopeSignature,
} from '../../src/client/index.js';
import { readKeyStore } from '../../src/crypto/keystore.js';
import { readStdin } from '../../src/util/prompt.js';
import type { Context } from '../context.js';
import { CliError } from '../errors.js';
import { shortScheme } from '../format.js';

const HEX64 = /^[0-9a-f]{64}$/i;

async function showFingerprints(ctx: Context, fps: Fingerprints, pinned?: Fingerprints): Promise<void> {
  for (const [k, v] of Object.entries(fps)) {
    const mark = !pinned
      ? ''
      : pinned[k as keyof Fingerprints] === v
        ? '  (pinned)'
        : '  CHANGED since pinned!';
    ctx.say(`  ${shortScheme(k).padEnd(10)} ${v}${mark}`);
  }
  ctx.say(`  ${'all keys'.padEnd(10)} ${await keySetFingerprint(fps)}  (what \`trust\` takes)`);
}

export async function fingerprints(ctx: Context, user?: string): Promise<void> {
  const s = ctx.session;
  if (!user || user === s.username) {
    const own = await s.ownFingerprints();
    ctx.say(`your keys (${s.username}):`);
    await showFingerprints(ctx, own);
    const server = s.trust.showServer();
    ctx.say(`server ${s.api.server}:`);
    if (s.trust.serverChange) {
      ctx.say(`  ${'signing'.padEnd(10)} ${server.current}  CHANGED since pinned!`);
      ctx.say(`  ${'pinned'.padEnd(10)} ${server.pinned}`);
      ctx.say('  only if the operator confirms the new one: securechat trust --server FINGERPRINT');
    } else ctx.say(`  ${'signing'.padEnd(10)} ${server.current}`);
    ctx.result({
      username: s.username,
      fingerprints: own,
      all: await keySetFingerprint(own),
      server: server.current,
      serverPinned: server.pinned ?? null,
    });
    return;
  }
  const { pinned, current } = await s.trust.fingerprints(user);
  const name = escapeControls(user);
  ctx.say(`${name}'s keys, as the server has them${pinned ? '' : ' (not pinned yet)'}:`);
  await showFingerprints(ctx, current, pinned);
  // the same digits the other side's page or CLI shows (src/client/safety-number.ts)
  const number = await safetyNumber(
    { username: s.username, fingerprints: await s.ownFingerprints() },
    { username: user, fingerprints: current },
  );
  ctx.say(`safety number with ${name} (the same on both sides; compare it in person or by phone):`);
  ctx.say(`  ${number}`);
  ctx.result({
    username: user,
    fingerprints: current,
    all: await keySetFingerprint(current),
    pinned: pinned ?? null,
    safetyNumber: number,
  });
}

/**
 * `trust <user> [FINGERPRINT]`, `trust --server [FINGERPRINT]`: pins exactly the keys compared —
 * the fingerprint given (a user's "all keys" one, or the server's), or what `fingerprint` showed.
 */
export async function trust(ctx: Context, who: string | undefined, given?: string): Promise<void> {
  if (!who) throw new CliError('usage: trust <user> [FINGERPRINT] | trust --server [FINGERPRINT]');
  if (given !== undefined && !HEX64.test(given))
    throw new CliError(`${escapeControls(given)} is not a fingerprint (64 hex digits, from \`fingerprint\`)`);
  if (who === SERVER) {
    const fp = await ctx.session.trust.trustServer(given);
    ctx.say(`now trusting the server key ${fp}`);
    ctx.result({ server: fp });
    return;
  }
  const fps = await ctx.session.trust.trustUser(who, given);
  ctx.say(`now trusting ${escapeControls(who)}'s keys ${await keySetFingerprint(fps)}`);
  ctx.result({ trusted: who, all: await keySetFingerprint(fps) });
}

/** `trust`'s name for the server, which no username can be (usernames start with a letter or digit). */
export const SERVER = '--server';

/**
 * For teaching: what the client does with every envelope, step by step, printed. Needs only the
 * key store (and, to check the server's signature, its public key).
 */
export async function decrypt(options: {
  keysDir: string;
  user?: string;
  envelope?: string;
  wrapped?: string;
  serverKey?: string;
}) {
  if (!options.user) throw new CliError('decrypt needs --user (whose key store unwraps)');
  const dir = path.join(options.keysDir, 'users', options.user);
  const store = await readKeyStore(dir).catch(() => {
    throw new CliError(`no readable key store for ${options.user} in ${dir}; pass --keys DIR`);
  });
  let wrapped = options.wrapped;
  const lines: string[] = [];
  if (!wrapped) {
    const source = !options.envelope || options.envelope === '-' ? undefined : options.envelope;
    const text = source === undefined ? await readStdin() : await readText(source, '--envelope');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new CliError('the input is not JSON (give a key envelope, or an answer that holds keyEnvelope)');
    }
    const envelope = findEnvelope(parsed);
    if (!envelope)
      throw new CliError(
        'this JSON holds no key envelope (one comes in the answer of POST /chats, of join, or of GET /chats/{id}/key)',
      );
    wrapped = envelope.wrappedKey;
    if (options.serverKey) {
      let serverKey: CryptoKey;
      const pem = await readText(options.serverKey, '--server-key');
      try {
        serverKey = (await importServerKey(pem)).key;
      } catch (error) {
        if (!(error instanceof ClientError)) throw error;
        throw new CliError(`--server-key ${options.serverKey} is not a PEM public key`);
      }
      const ok = await verifyEnvelopeSignature(serverKey, envelope);
      if (!ok)
        throw new CliError(
          'the server signature on this envelope does not verify under that key: not unwrapping it',
        );
      lines.push('server signature: valid');
    } else
      lines.push(
        'server signature: not checked (pass --server-key FILE to check it first, as the client does)',
      );
  }
  let key: string;
  try {
    key = toHex(
      await unwrapChatKeyBytes(await importEncryptionKey(store.encryption.privateKey), wrapped ?? ''),
    );
  } catch {
    throw new CliError(
      `cannot unwrap: this key was not wrapped for ${options.user}'s encryption key (or it was altered)`,
    );
  }
  lines.push(`chat key (AES-256, hex): ${key}`);
  return { lines, key };
}

async function readText(file: string, option: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new CliError(`${option} ${file}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
}

/** A key envelope itself, or the one an answer or event carries (`keyEnvelope`). */
function findEnvelope(value: unknown): KeyEnvelope | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as { keyEnvelope?: unknown; wrappedKey?: unknown };
  if (typeof v.wrappedKey === 'string') return v as KeyEnvelope;
  return v.keyEnvelope ? findEnvelope(v.keyEnvelope) : undefined;
}
