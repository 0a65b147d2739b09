import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CliProcess, runCli } from '../../../scripts/child.js';
import {
  answer,
  bob,
  cli,
  env,
  oneLine,
  proxy,
  type Rule,
  readJson,
  useLyingServer,
  userFile,
} from '../../support/cli-proxy.js';
import { PASSWORD } from '../../support/helper.js';

// The CLI against a server that serves genuinely server-signed but wrong data: a proxy in front of
// the real server answers chosen requests itself and passes everything else through, event stream
// included (test/support/cli-proxy.ts).
useLyingServer();

describe('an event that never ends is cut, and no password goes over plain http (finding 14, client parts)', () => {
  it('cuts an event stream whose event never ends, and resumes', async () => {
    let served = 0;
    const endless: Rule = (req, res) => {
      if (req.url !== '/events' || served++ > 0) return false;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: message\ndata: ');
      const chunk = 'x'.repeat(64 * 1024);
      // 3 MiB without the blank line that ends an event, then nothing: the client must not wait
      for (let i = 0; i < 48; i++) res.write(chunk);
      return true;
    };
    proxy.rules.push(endless);
    const listen = new CliProcess(['--user', 'bob', '--password-stdin', 'listen'], env);
    listen.send(PASSWORD);
    try {
      await listen.waitFor(
        /^ERR \* connection lost \(the server sent an event longer than 2097152 characters\); reconnecting$/,
      );
      await listen.waitFor(/^ERR \* connected$/);
    } finally {
      proxy.rules.splice(proxy.rules.indexOf(endless), 1);
      listen.kill();
    }
  });

  it('refuses to send a password over plain http:// to another host without --insecure', async () => {
    const r = await runCli(
      ['--server', 'http://192.0.2.10:8080', '--user', 'bob', '--password-stdin', 'online'],
      env,
      PASSWORD,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /refusing to send your password over plain http:\/\/ to 192\.0\.2\.10: use https:\/\//,
    );
    oneLine(r.stderr);
    const insecure = await runCli(
      ['--server', 'http://chat.invalid:8080', '--insecure', '--user', 'bob', '--password-stdin', 'online'],
      env,
      PASSWORD,
    );
    expect(insecure.code).toBe(1);
    expect(insecure.stderr.split('\n')).toEqual([
      expect.stringMatching(/WARNING: --insecure: .* to chat\.invalid unencrypted/),
      'securechat: cannot resolve the server host name',
    ]);
  });
});

describe('trust --server on first contact pins only the fingerprint given (A11)', () => {
  it('`trust --server FP` through an impostor pins nothing, and says so (A11)', async () => {
    const real = (await bob.api.call('getServerKey')).body.fingerprint;
    const fake = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    const swap = answer('GET', '/server/key', 200, {
      algorithm: 'rsa-pss-sha256',
      publicKey: fake,
      fingerprint: 'x',
    });
    await proxy.with([swap], async () => {
      const r = await cli('dave', 'trust', '--server', real);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/nothing trusted/);
      const f = await cli('dave', 'fingerprint');
      expect(f.code, f.stderr).toBe(0);
    });
    const known = await readJson(userFile('dave', 'known_keys.json')).catch(() => ({ servers: {} }));
    expect(known.servers[proxy.url]).toBeUndefined();
    // the matching fingerprint is pinned
    const ok = await cli('dave', 'trust', '--server', real);
    expect(ok.code, ok.stderr).toBe(0);
    expect((await readJson(userFile('dave', 'known_keys.json'))).servers[proxy.url]).toBe(real);
  });
});
