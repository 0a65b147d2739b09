import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { KeyEnvelope } from '../../src/crypto/envelope.js';
import { unwrapKey, verifyEnvelope } from '../../src/crypto/envelope.js';
import { fingerprint, SIGNATURE_ALGORITHMS } from '../../src/crypto/keys.js';
import { readKeyStore } from '../../src/crypto/keystore.js';
import { readStdin } from '../../src/util/prompt.js';
import type { Context } from '../context.js';
import { CliError } from '../errors.js';
import { shortScheme } from '../format.js';

export async function fingerprints(ctx: Context, user?: string): Promise<void> {
  const s = ctx.session;
  if (!user || user === s.username) {
    const own = {
      encryption: fingerprint(s.keys.encryption.publicKey),
      ...Object.fromEntries(SIGNATURE_ALGORITHMS.map((a) => [a, fingerprint(s.keys.signing[a].publicKey)])),
    };
    ctx.say(`your keys (${s.username}):`);
    for (const [k, v] of Object.entries(own)) ctx.say(`  ${shortScheme(k).padEnd(10)} ${v}`);
    ctx.say(`server ${s.api.server}:\n  ${'signing'.padEnd(10)} ${fingerprint(s.serverKey)}`);
    ctx.result({ username: s.username, fingerprints: own, server: fingerprint(s.serverKey) });
    return;
  }
  const { pinned, current } = await s.fingerprints(user);
  ctx.say(`${user}'s keys, as the server has them${pinned ? '' : ' (not pinned yet)'}:`);
  for (const [k, v] of Object.entries(current)) {
    const mark = !pinned
      ? ''
      : pinned[k as keyof typeof pinned] === v
        ? '  (pinned)'
        : '  CHANGED since pinned!';
    ctx.say(`  ${shortScheme(k).padEnd(10)} ${v}${mark}`);
  }
  ctx.result({ username: user, fingerprints: current, pinned: pinned ?? null });
}

export async function trust(ctx: Context, who?: string): Promise<void> {
  if (!who) throw new CliError('usage: trust <user> | trust server');
  if (who === 'server') {
    const fp = await ctx.session.trustServer();
    ctx.say(`now trusting the server key ${fp}`);
    ctx.result({ server: fp });
    return;
  }
  await ctx.session.trustUser(who);
  ctx.say(`now trusting ${who}'s current keys`);
  ctx.result({ trusted: who });
}

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
  const store = await readKeyStore(path.join(options.keysDir, 'users', options.user)).catch(() => {
    throw new CliError(`no readable key store for ${options.user} in ${options.keysDir}/users/`);
  });
  let wrapped = options.wrapped;
  const lines: string[] = [];
  if (!wrapped) {
    const text =
      !options.envelope || options.envelope === '-'
        ? await readStdin()
        : await readFile(options.envelope, 'utf8');
    let envelope: KeyEnvelope;
    try {
      const parsed = JSON.parse(text);
      envelope = parsed.keyEnvelope ?? parsed;
    } catch {
      throw new CliError('the envelope is not JSON (give a KeyEnvelope, or a response that has keyEnvelope)');
    }
    wrapped = envelope.wrappedKey;
    if (options.serverKey) {
      const ok = await verifyEnvelope(await readFile(options.serverKey, 'utf8'), envelope);
      if (!ok) throw new CliError('the server signature on this envelope is INVALID: not unwrapping it');
      lines.push('server signature: valid');
    } else
      lines.push(
        'server signature: not checked (pass --server-key FILE to check it first, as the client does)',
      );
  }
  let key: Buffer;
  try {
    key = unwrapKey(store.encryption.privateKey, wrapped ?? '');
  } catch (error) {
    throw new CliError(`cannot unwrap with ${options.user}'s key: ${(error as Error).message}`);
  }
  lines.push(`chat key (AES-256, hex): ${key.toString('hex')}`);
  return { lines, key: key.toString('hex') };
}
