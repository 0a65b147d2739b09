import { generateKeyPairSync } from 'node:crypto';
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../scripts/child.js';
import { readPublicKeys } from '../../../src/crypto/keystore.js';
import { chatOf } from '../../support/chats.js';
import {
  alice,
  answer,
  bob,
  cli,
  env,
  menu,
  oneLine,
  proxy,
  server,
  useLyingServer,
  withRules,
} from '../../support/cli-proxy.js';
import { Participant } from '../../support/client.js';
import { PASSWORD } from '../../support/helper.js';

// The CLI against a server that serves genuinely server-signed but wrong data: a proxy in front of
// the real server answers chosen requests itself and passes everything else through, event stream
// included (test/support/cli-proxy.ts).
useLyingServer();

/** Registers a user whose key store is a copy of carol's (the server allows equal public keys). */
async function registerCopyOf(username: string): Promise<void> {
  const dir = path.join(server.keysDir, 'users', username);
  await cp(path.join(server.keysDir, 'users', 'carol'), dir, { recursive: true });
  await server.app.accounts.register(username, PASSWORD, await readPublicKeys(dir));
}

describe('trust pins only what the user gave or saw; any username is a user; state stays in the user\u2019s folder (findings 9, 10, 11)', () => {
  const realFingerprintOf = async (user: string) => {
    const r = await cli('bob', '--json', 'fingerprint', user);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout).all as string;
  };

  it('trust pins the fingerprint given or the keys shown, never what the server says later', async () => {
    const a = await chatOf(alice, bob);
    expect((await alice.send(a, 1, 'hi', 'ed25519')).res.status).toBe(201);
    expect((await cli('bob', '--chat', a, 'history')).stdout).toMatch(/alice \(ed25519\): hi$/);
    const genuine = await realFingerprintOf('alice');
    // the server now hands out carol's keys as alice's
    const carolKeys = (await bob.api.call('getUserKeys', { params: { username: 'carol' } })).body;
    const swap = answer('GET', '/users/alice/keys', 200, { ...carolKeys, username: 'alice' });
    proxy.rules.push(swap);
    try {
      expect((await cli('bob', '--chat', a, 'history')).stderr).toMatch(/alice's keys CHANGED/);
      const bare = await cli('bob', 'trust', 'alice');
      expect(bare.code).toBe(1);
      expect(bare.stderr).toMatch(/compare alice's fingerprints first/);
      const shown = await realFingerprintOf('alice');
      expect(shown).not.toBe(genuine);
      const wrong = await cli('bob', 'trust', 'alice', '0'.repeat(64));
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/not the 0{64} you gave; nothing trusted/);

      // in the menu, a bare `trust` pins what `fingerprint` showed, and only that
      const c = menu('bob');
      try {
        await c.waitFor(/\* connected$/);
        c.send('fingerprint alice');
        await c.waitFor(new RegExp(`all keys +${shown}`));
        proxy.rules.splice(proxy.rules.indexOf(swap), 1);
        c.send('trust alice');
        await c.waitFor(/^ERR !! alice's keys changed again since they were shown; nothing trusted/);
        proxy.rules.push(swap);
        c.send('trust alice');
        await c.waitFor(new RegExp(`^now trusting alice's keys ${shown}$`));
      } finally {
        c.send('quit');
        await c.exited;
      }
      const known = JSON.parse(
        await readFile(path.join(server.keysDir, 'users', 'bob', 'known_keys.json'), 'utf8'),
      );
      expect(known.users.alice.encryption).toBe(carolKeys.fingerprints.encryption);
    } finally {
      proxy.rules.splice(0, proxy.rules.length);
    }
    const back = await cli('bob', 'trust', 'alice', genuine);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toBe(`now trusting alice's keys ${genuine}`);
  });

  it('refuses a peer key that registration would refuse (a 1024-bit RSA key)', async () => {
    const a = await chatOf(alice, bob);
    expect((await alice.send(a, 1, 'signed with ed25519', 'ed25519')).res.status).toBe(201);
    const real = (await bob.api.call('getUserKeys', { params: { username: 'alice' } })).body;
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    const rule = answer('GET', '/users/alice/keys', 200, {
      ...real,
      signingKeys: { ...real.signingKeys, 'rsa-pss-sha256': weak },
    });
    await withRules([rule], async () => {
      const h = await cli('bob', '--chat', a, 'history');
      expect(h.stdout).not.toContain('signed with ed25519');
      expect(h.stderr).toMatch(
        /REJECTED message #1 claiming to be from alice: the server sent keys for alice that are refused: rsa-pss-sha256 key must be RSA of (at least )?2048\b/,
      );
    });
  });

  it('fingerprint and trust --server work when the server key changed; `server` is a username', async () => {
    expect((await cli('dave', 'online')).code).toBe(0);
    const file = path.join(server.keysDir, 'users', 'dave', 'known_keys.json');
    const known = JSON.parse(await readFile(file, 'utf8'));
    const real = (await bob.api.call('getServerKey')).body.fingerprint;
    expect(known.servers[proxy.url]).toBe(real);
    known.servers[proxy.url] = '0'.repeat(64);
    await writeFile(file, JSON.stringify(known));
    const watch = await bob.events();
    try {
      const refused = await cli('dave', 'online');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(
        `the server's signing key CHANGED (pinned ${'0'.repeat(64)}, now ${real})`,
      );
      oneLine(refused.stderr);
      // issue 17 item 2: logged in, then refused: logged out at once (the grace period is 60 s here)
      await watch.nextOf('presence', (d) => d.username === 'dave' && d.online === false);
    } finally {
      watch.close();
    }
    const shown = await cli('dave', 'fingerprint');
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`signing +${real} +CHANGED since pinned!`));
    expect(shown.stdout).toMatch(new RegExp(`pinned +${'0'.repeat(64)}`));
    const bare = await cli('dave', 'trust', '--server');
    expect(bare.code).toBe(1);
    expect(bare.stderr).toContain(`the server key is ${real} (pinned: ${'0'.repeat(64)})`);
    const wrong = await cli('dave', 'trust', '--server', '1'.repeat(64));
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/nothing trusted/);
    const ok = await runCli(
      ['--server', proxy.url, '--user', 'dave', 'trust', '--server', real, '--password-stdin'],
      env,
      PASSWORD,
    );
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe(`now trusting the server key ${real}`);
    expect((await cli('dave', 'online')).code).toBe(0);
    const user = await cli('dave', 'trust', 'server', '1'.repeat(64));
    expect(user.code).toBe(1);
    expect(user.stderr).toMatch(/USER_NOT_FOUND/);
  });

  it('a user named constructor is a user like any other', async () => {
    await registerCopyOf('constructor');
    const ctor = await Participant.login(server.url, server.keysDir, 'constructor', PASSWORD);
    const a = await chatOf(ctor, bob);
    expect((await ctor.send(a, 1, 'hello from constructor', 'rsa-pss-sha256')).res.status).toBe(201);
    const h = await cli('bob', '--chat', a, 'history');
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout).toMatch(/constructor \(rsa\): hello from constructor$/);
    expect(h.stderr).toBe('');
    const c = menu('bob');
    try {
      await c.waitFor(/\* connected$/);
      c.send('sig constructor');
      await c.waitFor(/^ERR !! unknown signature scheme constructor/);
      c.send('fingerprint constructor');
      await c.waitFor(/^constructor's keys, as the server has them:$/);
    } finally {
      c.send('quit');
    }
    expect(await c.exited).toBe(0);
  });

  it('keeps client state in the user\u2019s own folder, moving the old files; a dotted username breaks nothing', async () => {
    const users = path.join(server.keysDir, 'users');
    const real = (await bob.api.call('getServerKey')).body.fingerprint;
    const pins = { servers: { [proxy.url]: real }, users: { alice: { encryption: '0'.repeat(64) } } };
    await writeFile(path.join(users, 'erin.known_keys.json'), JSON.stringify(pins));
    await writeFile(
      path.join(users, 'erin.state.json'),
      JSON.stringify({ sig: 'dsa-sha256', envelopes: {} }),
    );
    const r = await cli('erin', 'fingerprint', 'alice');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/encryption +[0-9a-f]{64} +CHANGED since pinned!/);
    await expect(readFile(path.join(users, 'erin.known_keys.json'))).rejects.toThrow(/ENOENT/);
    await expect(readFile(path.join(users, 'erin.state.json'))).rejects.toThrow(/ENOENT/);
    expect(JSON.parse(await readFile(path.join(users, 'erin', 'known_keys.json'), 'utf8'))).toEqual(pins);
    expect(JSON.parse(await readFile(path.join(users, 'erin', 'state.json'), 'utf8')).sig).toBe('dsa-sha256');

    // usernames may hold dots: this one's key store folder is where old clients kept bob's pins
    await registerCopyOf('bob.known_keys.json');
    const bobs = await cli('bob', 'online');
    expect(bobs.code, bobs.stderr).toBe(0);
    const dotted = await cli('bob.known_keys.json', 'online');
    expect(dotted.code, dotted.stderr).toBe(0);
  });
});
