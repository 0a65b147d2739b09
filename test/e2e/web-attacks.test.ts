/**
 * The web client attacked: a malicious server (answers rewritten with playwright's routes), a
 * malicious peer, another origin, another tab. Each test guards one finding of the review.
 */
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fingerprints, keySetFingerprint } from '../../src/client/index.js';
import { PASSWORD, startServer, type TestServer } from '../support/helper.js';
import { connected, haveChromium, keyFiles, launch, log, logIn, openPage, start } from './web-support.js';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  server = await startServer({ PRESENCE_GRACE_MS: '60000' });
  if (haveChromium) browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('serving the web client: headers', () => {
  it('/ is sent with a CSP of its own: no inline style, no other origin, never framed', async () => {
    for (const url of [`${server.url}/`, `${server.url}/assets/nope.js`]) {
      const res = await fetch(url);
      await res.arrayBuffer();
      const csp = res.headers.get('content-security-policy') ?? '';
      const directives = new Map(
        csp.split(';').map((d) => {
          const [name, ...values] = d.trim().split(/\s+/);
          return [name, values.join(' ')] as const;
        }),
      );
      expect(directives.get('default-src'), url).toBe("'none'");
      expect(directives.get('script-src'), url).toBe("'self'");
      expect(directives.get('style-src'), url).toBe("'self'");
      expect(directives.get('connect-src'), url).toBe("'self'");
      expect(directives.get('frame-ancestors'), url).toBe("'none'");
      expect(directives.get('base-uri'), url).toBe("'none'");
      expect(directives.get('form-action'), url).toBe("'none'");
      expect(directives.get('require-trusted-types-for'), url).toBe("'script'");
      // two policies, the DSA key worker's URL and the session service worker's (no duplicates);
      // workers fall under script-src 'self'
      expect(directives.get('trusted-types'), url).toBe('securechat-dsa-worker securechat-session-worker');
      expect(directives.has('worker-src'), url).toBe(false);
      expect(directives.has('child-src'), url).toBe(false);
      expect(csp, url).not.toMatch(/unsafe|https:|\*/);
      expect(res.headers.get('x-frame-options'), url).toBe('DENY');
      expect(res.headers.get('x-content-type-options'), url).toBe('nosniff');
    }
    // HEAD answers as GET does, without the body
    const html = await (await fetch(`${server.url}/`)).text();
    const script = /"\/assets\/(app-[^"]+\.js)"/.exec(html)?.[1];
    for (const url of [`${server.url}/`, `${server.url}/assets/${script}`]) {
      const head = await fetch(url, { method: 'HEAD' });
      expect(head.status, url).toBe(200);
      expect(await head.text(), url).toBe('');
      expect(head.headers.get('content-type'), url).toMatch(/^text\/(html|javascript)/);
      expect(head.headers.get('content-security-policy'), url).toContain("default-src 'none'");
    }
  });
});

describe.skipIf(!haveChromium)('the web client under attack', { timeout: 120_000 }, () => {
  it('checks a key store against the registered keys without an extractable private key', async () => {
    const context = await browser.newContext();
    // every call that would make a private key readable, recorded before the page's own code runs
    await context.addInitScript(() => {
      const subtle = crypto.subtle;
      const seen: string[] = [];
      (window as unknown as { readable: string[] }).readable = seen;
      const importKey = subtle.importKey.bind(subtle);
      const exportKey = subtle.exportKey.bind(subtle);
      subtle.importKey = ((
        format: string,
        data: unknown,
        alg: unknown,
        extractable: boolean,
        usages: string[],
      ) => {
        if (format === 'pkcs8' && extractable)
          seen.push(`importKey pkcs8 extractable ${JSON.stringify(alg)}`);
        return importKey(
          format as 'raw',
          data as BufferSource,
          alg as AlgorithmIdentifier,
          extractable,
          usages as KeyUsage[],
        );
      }) as typeof subtle.importKey;
      subtle.exportKey = ((format: string, key: CryptoKey) => {
        if (key.type === 'private') seen.push(`exportKey ${format} of a private key`);
        return exportKey(format as 'raw', key);
      }) as typeof subtle.exportKey;
    });
    const page = await context.newPage();
    await page.goto(server.url);
    await logIn(page, 'alice');
    await page.getByLabel('Key store', { exact: true }).setInputFiles(keyFiles(server, 'alice'));
    await connected(page);
    expect(await page.evaluate(() => (window as unknown as { readable: string[] }).readable)).toEqual([]);
    // and what IndexedDB keeps cannot be read back either
    const kept = await page.evaluate(
      () =>
        new Promise<string[]>((resolve, reject) => {
          const open = indexedDB.open('securechat');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const get = open.result.transaction('kv').objectStore('kv').get('keys/alice');
            get.onerror = () => reject(get.error);
            get.onsuccess = () => {
              const keys = get.result.keys;
              resolve(
                [keys.encryption, ...Object.values(keys.signing)].map(
                  (k) => `${(k as CryptoKey).type} ${(k as CryptoKey).extractable}`,
                ),
              );
            };
          };
        }),
    );
    expect(kept).toEqual(['private false', 'private false', 'private false']);
    await context.close();
  });
});

describe.skipIf(!haveChromium)(
  'what a peer or the server writes cannot pass for the page',
  { timeout: 120_000 },
  () => {
    it("a message's further lines and a refused message's sender never look like an entry of their own", async () => {
      const alice = await start(browser, server, 'alice');
      const bob = await start(browser, server, 'bob');
      await alice.page.getByRole('button', { name: 'New chat' }).click();
      await alice.page.getByLabel('Invitees').fill('bob');
      await alice.page.getByRole('button', { name: 'Start chat' }).click();
      await bob.page.getByRole('button', { name: /invited$/ }).click();
      await bob.page.getByRole('button', { name: 'Join' }).click();
      await alice.page.getByText(/^Members: alice, bob$/).waitFor();

      // a second line made to look like bob's next message
      await alice.page
        .getByLabel('Message', { exact: true })
        .fill('see you\n12:00:00 bob (Ed25519) I owe alice 100');
      await alice.page.getByRole('button', { name: 'Send' }).click();
      const entry = log(bob.page).getByRole('listitem').filter({ hasText: 'see you' });
      await entry.waitFor();
      const box = await entry.boundingBox();
      const text = await entry.locator('.text').boundingBox();
      // every line of the text is indented under its sender: none starts where an entry starts
      expect(text?.x).toBeGreaterThan((box?.x ?? 0) + 8);
      expect(await entry.locator('.text').evaluate((el) => getComputedStyle(el).unicodeBidi)).toBe('isolate');

      // the server sends a message whose "sender" is a line of its own
      await bob.page.route('**/chats/*/messages?*', (route) => {
        const id = new URL(route.request().url()).pathname.split('/')[2];
        return route.fulfill({
          json: {
            messages: [
              {
                chatId: id,
                seq: 99,
                sender: 'x\n12:00:00 alice (Ed25519) please send me your password',
                receivedAt: new Date().toISOString(),
                message: {},
              },
            ],
          },
        });
      });
      await bob.page.reload();
      await logIn(bob.page, 'bob');
      await connected(bob.page);
      await bob.page.getByRole('button', { name: /^alice/ }).click();
      const refused = log(bob.page).getByRole('listitem').filter({ hasText: 'refused' });
      await refused.waitFor();
      const said = (await refused.textContent()) ?? '';
      expect(said).toMatch(/^refused Message #99 from an invalid sender refused: /);
      expect(said).not.toContain('\n');
      expect(said).not.toContain('your password');
      await alice.page.context().close();
      await bob.page.context().close();
    });
  },
);

/** What IndexedDB keeps for a user's pins and epochs (stores.ts), read in the page. */
function savedState(page: Page, user: string) {
  return page.evaluate(
    (key) =>
      new Promise<{ users: Record<string, unknown>; epochs: Record<string, number> }>((resolve, reject) => {
        const open = indexedDB.open('securechat');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const get = open.result.transaction('kv').objectStore('kv').get(key);
          get.onerror = () => reject(get.error);
          get.onsuccess = () => resolve(get.result);
        };
      }),
    `state/${user}`,
  );
}

/** A message of the documented shape whose signature is no signature: refused once checked. */
function forged(chatId: string, seq: number, sender: string) {
  return {
    chatId,
    seq,
    sender,
    receivedAt: new Date().toISOString(),
    message: {
      id: crypto.randomUUID(),
      epoch: 1,
      sentAt: new Date().toISOString(),
      iv: 'AAAAAAAAAAAAAAAA',
      ciphertext: 'AAAA',
      tag: 'AAAAAAAAAAAAAAAAAAAAAA==',
      signatureAlgorithm: 'ed25519',
      signature: 'AAAA',
    },
  };
}

describe.skipIf(!haveChromium)('two tabs of one user', { timeout: 120_000 }, () => {
  it("one tab's pins are not lost to another tab's write, nor replaced by it", async () => {
    const alice = await start(browser, server, 'alice');
    const first = await start(browser, server, 'bob');
    // a second tab of bob in the same browser, logged in before anyone is pinned; its stream is
    // down, so that it does not read (and pin) what the first tab reads
    const second = await first.page.context().newPage();
    await second.route('**/events', (route) => route.abort());
    await second.goto(server.url);
    await logIn(second, 'bob');

    await alice.page.getByRole('button', { name: 'New chat' }).click();
    await alice.page.getByLabel('Invitees').fill('bob');
    await alice.page.getByRole('button', { name: 'Start chat' }).click();
    await first.page.getByRole('button', { name: /invited$/ }).click();
    await first.page.getByRole('button', { name: 'Join' }).click();
    await alice.page.getByText(/^Members: alice, bob$/).waitFor();
    await alice.page.getByLabel('Message', { exact: true }).fill('pinned in the first tab');
    await alice.page.getByRole('button', { name: 'Send' }).click();
    await log(first.page).getByText('pinned in the first tab').waitFor();
    const chat = (await first.page.locator('#chat-title').getAttribute('data-chat-id')) ?? '';
    const pinned = (await savedState(first.page, 'bob')).users.alice;
    expect(pinned).toBeDefined();

    // the second tab writes (a chat of its own) without ever having seen alice's pin
    await second.getByRole('button', { name: 'New chat' }).click();
    await second.getByLabel('Invitees').fill('alice');
    await second.getByRole('button', { name: 'Start chat' }).click();
    await second.getByText('Epoch 1', { exact: true }).waitFor();
    expect((await savedState(second, 'bob')).users.alice).toEqual(pinned);

    // a third tab, to which the server hands dave's keys as alice's: the pin made in the first
    // tab is what they are compared with
    const login = await fetch(`${server.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'dave', password: PASSWORD }),
    });
    const { token } = (await login.json()) as { token: string };
    const dave = await (
      await fetch(`${server.url}/users/dave/keys`, { headers: { authorization: `Bearer ${token}` } })
    ).json();
    const third = await first.page.context().newPage();
    await third.route('**/users/alice/keys', (route) =>
      route.fulfill({ json: { ...dave, username: 'alice' } }),
    );
    await third.goto(server.url);
    await logIn(third, 'bob');
    await connected(third);
    await third.locator(`button[data-chat-id="${chat}"]`).click();
    const refused = log(third).getByRole('listitem').filter({ hasText: 'refused' });
    await refused.waitFor();
    expect(await refused.textContent()).toMatch(/alice's keys CHANGED/);
    expect((await savedState(first.page, 'bob')).users.alice).toEqual(pinned);
    await alice.page.context().close();
    await first.page.context().close();
  });
});

/** A user's registered keys as the server answers GET /users/{name}/keys. */
async function keysOf(user: string): Promise<{ fingerprints: Fingerprints } & Record<string, unknown>> {
  const login = await fetch(`${server.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'erin', password: PASSWORD }),
  });
  const { token } = (await login.json()) as { token: string };
  const res = await fetch(`${server.url}/users/${user}/keys`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return res.json();
}

describe.skipIf(!haveChromium)('trusting a changed key', { timeout: 120_000 }, () => {
  it('"Trust new key" pins exactly the fingerprints its warning shows, never ones fetched after', async () => {
    const carol = await keysOf('carol');
    const dave = await keysOf('dave');
    const shownSet = await keySetFingerprint(carol.fingerprints);
    const page = await (await browser.newContext()).newPage();
    // carol and dave were pinned (here: with other keys) before, so both now show as changed
    await page.goto(server.url);
    const fake = {
      encryption: '0'.repeat(64),
      'rsa-pss-sha256': '1'.repeat(64),
      'dsa-sha256': '2'.repeat(64),
      ed25519: '3'.repeat(64),
    };
    await page.evaluate(
      (users) =>
        new Promise<void>((resolve, reject) => {
          const open = indexedDB.open('securechat', 1);
          open.onupgradeneeded = () => open.result.createObjectStore('kv');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const tx = open.result.transaction('kv', 'readwrite');
            tx.objectStore('kv').put({ servers: {}, users, epochs: {}, envelopes: {} }, 'state/bob');
            tx.oncomplete = () => {
              open.result.close();
              resolve();
            };
          };
        }),
      { carol: fake, dave: fake },
    );
    // the server: a message of each in the history; carol's keys as shown until `swap`, then
    // dave's; dave's keys held while `hold` is set
    let swap = false;
    let hold: (() => void) | undefined;
    let held: () => void = () => undefined;
    const holding = new Promise<void>((resolve) => {
      held = resolve;
    });
    await page.route('**/chats/*/messages?*', (route) => {
      const chatId = new URL(route.request().url()).pathname.split('/')[2];
      return route.fulfill({ json: { messages: [forged(chatId, 1, 'carol'), forged(chatId, 2, 'dave')] } });
    });
    await page.route('**/users/carol/keys', (route) =>
      route.fulfill({ json: swap ? { ...dave, username: 'carol' } : carol }),
    );
    await page.route('**/users/dave/keys', async (route) => {
      if (hold) {
        await new Promise<void>((resolve) => {
          hold = resolve;
          held();
        });
      }
      return route.fulfill({ json: dave });
    });
    await logIn(page, 'bob');
    await page.getByLabel('Key store', { exact: true }).setInputFiles(keyFiles(server, 'bob'));
    await connected(page);
    await page.getByRole('button', { name: 'New chat' }).click();
    await page.getByLabel('Invitees').fill('nobody');
    await page.getByRole('button', { name: 'Start chat' }).click();
    const warning = page.getByRole('alert').filter({ hasText: "carol's keys changed" });
    await warning.getByText(shownSet, { exact: true }).waitFor();
    await page.getByRole('alert').filter({ hasText: "dave's keys changed" }).waitFor();

    // the server swaps carol's keys and holds the next render on dave's, while the old table shows
    swap = true;
    hold = () => undefined;
    const carolFetched = page.waitForResponse('**/users/carol/keys');
    await page.getByText('Fingerprints', { exact: true }).click(); // a render
    await holding;
    await carolFetched;
    expect(await warning.getByText(shownSet, { exact: true }).count()).toBe(1); // still shown
    await warning.getByRole('button', { name: 'Trust new key of carol' }).click();
    await warning.getByText(/nothing trusted/).waitFor();
    expect((await savedState(page, 'bob')).users.carol).toEqual(fake);
    (hold as () => void)();
    await page.context().close();
  });
});

describe.skipIf(!haveChromium)("the server's answers bound to what was asked", { timeout: 120_000 }, () => {
  it('names in the online list are usernames; a join answered with another chat changes nothing', async () => {
    const alice = await start(browser, server, 'alice');
    const bob = await openPage(browser, server);
    await bob.page.route('**/users/online', async (route) => {
      const res = await route.fetch();
      const { users } = (await res.json()) as { users: string[] };
      await route.fulfill({ response: res, json: { users: [...users, 'alice (you)', 'eve\u202enoisrev'] } });
    });
    const other = crypto.randomUUID();
    await bob.page.route('**/chats/*/join', async (route) => {
      const res = await route.fetch();
      const body = await res.json();
      await route.fulfill({ response: res, json: { ...body, chat: { ...body.chat, id: other } } });
    });
    await logIn(bob.page, 'bob');
    await bob.page.getByLabel('Key store', { exact: true }).setInputFiles(keyFiles(server, 'bob'));
    await connected(bob.page);
    const online = bob.page.getByRole('region', { name: 'Online' }).getByRole('listitem');
    await online.filter({ hasText: 'alice' }).first().waitFor();
    const listed = await online.allTextContents();
    expect(listed.filter((name) => name.endsWith('(you)'))).toEqual(['bob (you)']);
    expect(listed.filter((name) => !/^[a-z0-9][a-z0-9_.-]*( \(you\))?$/.test(name))).toEqual([]);
    expect(listed).toContain('alice');

    await alice.page.getByRole('button', { name: 'New chat' }).click();
    await alice.page.getByLabel('Invitees').fill('bob');
    await alice.page.getByRole('button', { name: 'Start chat' }).click();
    await bob.page.getByRole('button', { name: /invited$/ }).click();
    await bob.page.getByRole('button', { name: 'Join' }).click();
    // the join itself went through (member.joined), and a message after it arrived: by then the
    // answer was long taken, and no chat of the answer's id was made up from it
    await alice.page.getByText(/^Members: alice, bob$/).waitFor();
    await alice.page.getByLabel('Message', { exact: true }).fill('after the join');
    await alice.page.getByRole('button', { name: 'Send' }).click();
    await log(bob.page).getByText('after the join').waitFor();
    expect(await bob.page.locator(`button[data-chat-id="${other}"]`).count()).toBe(0);
    await alice.page.context().close();
    await bob.page.context().close();
  });
});

describe.skipIf(!haveChromium)('a session that ends', { timeout: 120_000 }, () => {
  it('a revoked token takes the page back to the login, with nothing of the session left on it', async () => {
    const web = await openPage(browser, server);
    const token = new Promise<string>((resolve) =>
      web.page.on('request', (request) => {
        const auth = request.headers().authorization;
        if (request.url().endsWith('/events') && auth) resolve(auth.slice('Bearer '.length));
      }),
    );
    await logIn(web.page, 'erin');
    await web.page.getByLabel('Key store', { exact: true }).setInputFiles(keyFiles(server, 'erin'));
    await connected(web.page);
    await web.page.getByRole('region', { name: 'Online' }).waitFor();
    // revoked elsewhere (or expired): the server ends the stream, and the token is refused
    const res = await fetch(`${server.url}/auth/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await token}` },
    });
    expect(res.status).toBe(204);
    await web.page
      .getByRole('alert')
      .filter({ hasText: /^Your session ended \(.*\): log in again\.$/ })
      .waitFor();
    await web.page.getByRole('button', { name: 'Log in' }).waitFor();
    expect(await web.page.getByRole('region', { name: 'Online' }).count()).toBe(0);
    expect(await web.page.getByRole('button', { name: 'Log out' }).count()).toBe(0);
    await web.page.context().close();
  });
});

describe.skipIf(!haveChromium)('picking the key store', { timeout: 120_000 }, () => {
  it("a folder holding several users' key stores is refused before any key in it is read", async () => {
    const context = await browser.newContext();
    await context.addInitScript(() => {
      const read: string[] = [];
      (window as unknown as { read: string[] }).read = read;
      const text = File.prototype.text;
      File.prototype.text = function (this: File) {
        read.push(this.webkitRelativePath || this.name);
        return text.call(this);
      };
    });
    const page = await context.newPage();
    await page.goto(server.url);
    await logIn(page, 'alice');
    const users = path.dirname(path.dirname(keyFiles(server, 'alice')[0]));
    await page.getByLabel('Or the key store folder').setInputFiles(users);
    await page
      .getByRole('alert')
      .filter({ hasText: /^Several files named [a-z0-9-]+\.key\.pem were picked/ })
      .waitFor();
    expect(await page.evaluate(() => (window as unknown as { read: string[] }).read)).toEqual([]);
    await context.close();
  });
});

describe.skipIf(!haveChromium)('a changed server key', { timeout: 120_000 }, () => {
  it('is refused at login once pinned: nothing is opened under it', async () => {
    const web = await start(browser, server, 'dave');
    await web.page.getByRole('button', { name: 'Log out' }).click();
    const other = await keysOf('alice');
    let token = '';
    await web.page.route('**/server/key', (route) => {
      token = (route.request().headers().authorization ?? '').slice('Bearer '.length);
      return route.fulfill({
        json: {
          algorithm: 'rsa-pss-sha256',
          publicKey: (other.signingKeys as Record<string, string>)['rsa-pss-sha256'],
        },
      });
    });
    // (not logIn(): the page may be back at the login before "Log out" is seen)
    await web.page.getByLabel('Username').fill('dave');
    await web.page.getByLabel('Password').fill(PASSWORD);
    await web.page.getByRole('button', { name: 'Log in' }).click();
    await web.page
      .getByRole('alert')
      .filter({ hasText: "WARNING: the server's signing key CHANGED" })
      .waitFor();
    expect(await web.page.getByRole('region', { name: 'Online' }).count()).toBe(0);
    // and logged out at once: back at the login, the token revoked
    await web.page.getByRole('button', { name: 'Log in' }).waitFor();
    expect(token).not.toBe('');
    const res = await fetch(`${server.url}/users/online`, { headers: { authorization: `Bearer ${token}` } });
    await res.arrayBuffer();
    expect(res.status).toBe(401);
    await web.page.context().close();
  });
});

describe.skipIf(!haveChromium)('a long history', { timeout: 120_000 }, () => {
  it("is checked message by message: a sender's keys are fetched (and pinned) once, not once per message", async () => {
    const page = await (await browser.newContext()).newPage();
    await page.route('**/chats/*/messages?*', (route) => {
      const chatId = new URL(route.request().url()).pathname.split('/')[2];
      return route.fulfill({
        json: { messages: Array.from({ length: 30 }, (_, i) => forged(chatId, i + 1, 'carol')) },
      });
    });
    let fetched = 0;
    page.on('request', (request) => {
      if (request.url().endsWith('/users/carol/keys')) fetched++;
    });
    await page.goto(server.url);
    await logIn(page, 'erin');
    await page.getByLabel('Key store', { exact: true }).setInputFiles(keyFiles(server, 'erin'));
    await connected(page);
    await page.getByRole('button', { name: 'New chat' }).click();
    await page.getByLabel('Invitees').fill('nobody');
    await page.getByRole('button', { name: 'Start chat' }).click();
    const refused = log(page).getByRole('listitem').filter({ hasText: 'refused' });
    await refused.nth(29).waitFor();
    expect(await refused.count()).toBe(30);
    expect(fetched).toBe(1);
    await page.context().close();
  });
});
