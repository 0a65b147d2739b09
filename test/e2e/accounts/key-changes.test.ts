import { constants, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyChangeSigningText } from '../../../src/client/key-change.js';
import { fromBase64, toBase64 } from '../../../src/crypto/base64.js';
import {
  generateKeyPairSet,
  type KeyPairSet,
  publicKeysOf,
  type SignatureAlgorithm,
} from '../../../src/crypto/keys.js';
import { readKeyStore, writeKeyStore } from '../../../src/crypto/keystore.js';
import { signSync } from '../../../src/crypto/signatures.js';
import { makeResetCode } from '../../../src/services/account-changes.js';
import { fingerprintsOf } from '../../../src/services/new-keys.js';
import { Api, EventStream, Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer, tempDir } from '../../support/helper.js';

// Accounts over time, the keys: replacing them with a continuity signature, resetting them with
// the administrator's code, and what both do to chats (a new epoch; server mode re-wraps history).
let server: TestServer;
let fresh: KeyPairSet[];
beforeAll(async () => {
  server = await startServer({ TOKEN_TTL: '1h' });
  // new key sets, made once (DSA parameters take a while)
  fresh = await Promise.all([1, 2].map(() => generateKeyPairSet({ rsaBits: 2048 })));
});
afterAll(() => server?.close());

const bodyOf = (keys: KeyPairSet) => {
  const pub = publicKeysOf(keys);
  return { encryptionKey: pub.encryption, signingKeys: pub.signing };
};

/** A continuity signature by `signer`'s `alg` key over the fingerprints of `keys`. */
function continuity(
  username: string,
  keys: KeyPairSet,
  signer: KeyPairSet,
  alg: SignatureAlgorithm = 'ed25519',
) {
  const issuedAt = new Date().toISOString();
  const text = keyChangeSigningText(username, fingerprintsOf(publicKeysOf(keys)), issuedAt);
  const signature = toBase64(signSync(alg, signer.signing[alg].privateKey, Buffer.from(text, 'utf8')));
  return { signatureAlgorithm: alg, signature, issuedAt };
}

async function login(username: string, password = PASSWORD): Promise<Api> {
  const api = new Api(server.url);
  const res = await api.call('login', { body: { username, password } });
  expect(res.status).toBe(200);
  api.token = res.body.token;
  return api;
}

const storeOf = (username: string) => readKeyStore(path.join(server.keysDir, 'users', username));

describe('replacing keys', () => {
  it('refuses a continuity signature by the wrong key, over other fingerprints, or of another algorithm: 400, nothing changed', async () => {
    const dave = await login('dave');
    const current = await storeOf('dave');
    const before = (await dave.call('getUserKeys', { params: { username: 'dave' } })).body;
    const [next, other] = fresh;
    const wrongAlgorithm = {
      ...continuity('dave', next, current, 'ed25519'),
      signatureAlgorithm: 'rsa-pss-sha256',
    };
    const cases = {
      'signed by the new key': continuity('dave', next, next),
      'over other fingerprints': continuity('dave', other, current),
      'of another algorithm': wrongAlgorithm,
      'of an unknown algorithm': { ...continuity('dave', next, current), signatureAlgorithm: 'md5' },
      'for another user': continuity('erin', next, current),
    };
    for (const [name, signed] of Object.entries(cases)) {
      const res = await dave.call('replaceKeys', {
        body: { currentPassword: PASSWORD, ...bodyOf(next), continuity: signed },
      });
      expect(res.status, name).toBe(400);
      expect(res.body.code, name).toBe('BAD_SIGNATURE');
    }
    const wrongPassword = await dave.call('replaceKeys', {
      body: {
        currentPassword: 'not it at all',
        ...bodyOf(next),
        continuity: continuity('dave', next, current),
      },
    });
    expect(wrongPassword.status).toBe(401);
    const after = (await dave.call('getUserKeys', { params: { username: 'dave' } })).body;
    expect(after).toEqual(before);
    expect(after.changes).toEqual([]);
  });

  it('refuses keys that registration refuses, with 400 INVALID_KEY', async () => {
    const dave = await login('dave');
    const current = await storeOf('dave');
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const keys: KeyPairSet = {
      ...fresh[0],
      encryption: {
        publicKey: weak.publicKey.export({ type: 'spki', format: 'pem' }) as string,
        privateKey: weak.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      },
    };
    const res = await dave.call('replaceKeys', {
      body: { currentPassword: PASSWORD, ...bodyOf(keys), continuity: continuity('dave', keys, current) },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_KEY');
  });

  it('replaces them: a new epoch in every chat, account.keys to every member, history re-wrapped for the new key only', async () => {
    const old = await storeOf('alice');
    const alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
    const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
    const bobStream = await bob.events();
    const created = await alice.api.call('createChat', { body: { invitees: ['bob'] } });
    const chatId = created.body.chat.id as string;
    await bobStream.nextOf('chat.invited', (e) => e.chat.id === chatId);
    await bob.api.call('joinChat', { params: { chatId } });
    await alice.acceptEnvelope(created.body.keyEnvelope);
    const sent = await alice.send(chatId, 1, 'before the change', 'ed25519');
    expect(sent.res.status).toBe(201);

    const next = fresh[0];
    const res = await alice.api.call('replaceKeys', {
      body: { currentPassword: PASSWORD, ...bodyOf(next), continuity: continuity('alice', next, old) },
    });
    expect(res.status).toBe(200);
    const fingerprints = fingerprintsOf(publicKeysOf(next));
    expect(res.body).toEqual({ username: 'alice', fingerprints });

    const told = await bobStream.nextOf('account.keys', (e) => e.username === 'alice');
    expect(told.json.fingerprints).toEqual(fingerprints);
    expect(told.json.change).toMatchObject({
      by: 'user',
      fingerprints,
      continuity: { signatureAlgorithm: 'ed25519' },
    });
    expect(told.json.change.previous.fingerprints).toEqual(fingerprintsOf(publicKeysOf(old)));
    const key = await bobStream.nextOf('chat.key', (e) => e.chatId === chatId);
    expect(key.json.keyEnvelope.epoch).toBe(2);

    const keys = (await bob.api.call('getUserKeys', { params: { username: 'alice' } })).body;
    expect(keys.fingerprints).toEqual(fingerprints);
    expect(keys.changes).toHaveLength(1);
    expect(keys.changes[0].previous.signingKeys).toEqual(publicKeysOf(old).signing);

    // alice with only her new keys reads every epoch; the old encryption key opens nothing made after
    const unwrap = (pem: string, wrapped: string) =>
      privateDecrypt(
        { key: pem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        fromBase64(wrapped) as Buffer,
      );
    for (const epoch of [1, 2]) {
      const envelope = (await alice.api.call('getChatKey', { params: { chatId }, query: { epoch } })).body;
      expect(unwrap(next.encryption.privateKey, envelope.wrappedKey)).toHaveLength(32);
      expect(() => unwrap(old.encryption.privateKey, envelope.wrappedKey)).toThrow();
    }

    // the server takes her messages under the new keys only
    const dir = await tempDir();
    await mkdir(path.join(dir, 'users'), { recursive: true });
    await writeKeyStore(path.join(dir, 'users', 'alice'), next);
    const renewed = await Participant.login(server.url, dir, 'alice', PASSWORD);
    await renewed.acceptEnvelope((await renewed.api.call('getChatKey', { params: { chatId } })).body);
    expect((await renewed.send(chatId, 2, 'after the change', 'rsa-pss-sha256')).res.status).toBe(201);
    alice.chatKeys.set(`${chatId}/2`, renewed.chatKeys.get(`${chatId}/2`) as Buffer);
    const stale = await alice.send(chatId, 2, 'signed with the old key', 'ed25519');
    expect(stale.res.status).toBe(400);
    expect(stale.res.body.code).toBe('BAD_SIGNATURE');
    bobStream.close();
  });
});

describe('a reset with the administrator code', () => {
  it('answers a wrong, expired or used code with one identical 403', async () => {
    const [keys] = fresh;
    const anon = new Api(server.url);
    const reset = (username: string, code: string) =>
      anon.call('resetKeys', { params: { username }, body: { code, ...bodyOf(keys) } });
    const expired = await makeResetCode(server.app.store, 'erin', 60, Date.now() - 120_000);
    const answers = [
      await reset('erin', expired.code),
      await reset('erin', 'not a code at all'),
      await reset('nobody', 'x'),
    ];
    const { code } = await makeResetCode(server.app.store, 'erin');
    expect((await reset('erin', code)).status).toBe(200);
    answers.push(await reset('erin', code));
    for (const answer of answers) {
      expect(answer.status).toBe(403);
      expect(answer.body).toEqual(answers[0].body);
    }
    expect(answers[0].body.code).toBe('INVALID_CODE');
  });

  it('replaces the keys (the old ones are gone), ends every session, sets the new password, and says the administrator did it', async () => {
    const carol = await login('carol');
    const stream = await EventStream.open(server.url, carol.token as string);
    const keys = fresh[1];
    const { code } = await makeResetCode(server.app.store, 'carol');
    const res = await new Api(server.url).call('resetKeys', {
      params: { username: 'carol' },
      body: { code, ...bodyOf(keys), newPassword: 'a fresh start for carol' },
    });
    expect(res.status).toBe(200);
    await stream.done;
    expect((await carol.call('listChats')).body.code).toBe('TOKEN_REVOKED');
    const again = await login('carol', 'a fresh start for carol');
    const after = (await again.call('getUserKeys', { params: { username: 'carol' } })).body;
    expect(after.fingerprints).toEqual(fingerprintsOf(publicKeysOf(keys)));
    expect(after.changes.at(-1)).toMatchObject({ by: 'administrator', continuity: null });
  });
});
