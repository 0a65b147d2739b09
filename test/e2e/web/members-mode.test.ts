import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CliProcess } from '../../../scripts/child.js';
import type { MemberKeyEnvelope } from '../../../src/client/index.js';
import { unwrapKey } from '../../../src/crypto/envelope.js';
import { PASSWORD } from '../../support/helper.js';
import { forgeEnvelopes, keyStore } from '../../support/library.js';
import { holdsAnyKey, inject, storedBytes } from '../../support/members.js';
import {
  browser,
  connected,
  entry,
  haveChromium,
  log,
  logIn,
  send,
  server,
  start,
  useWebFixture,
} from '../../support/web.js';

// Issue 14 in the browser: a members-mode chat of a browser user (alice) and two CLI users (bob,
// who signs with DSA, and carol), across an invitation, a leave and a count-based rotation; every
// key made by a member's client (the page's included), none on the server; forged keys refused.
useWebFixture({ SECURECHAT_ROTATE_MESSAGES: '3' });
const clis: CliProcess[] = [];
afterAll(() => {
  for (const cli of clis) cli.kill();
});

function terminal(user: string): CliProcess {
  const cli = new CliProcess(['--user', user, '--password-stdin'], {
    SECURECHAT_SERVER: server.url,
    SECURECHAT_KEYS_DIR: server.keysDir,
  });
  clis.push(cli);
  cli.send(PASSWORD);
  return cli;
}

/** The raw chat keys a CLI user holds for the chat (its state file's envelopes, unwrapped with its key). */
async function rawKeysOfCli(user: string, chatId: string): Promise<Buffer[]> {
  const state = JSON.parse(await readFile(path.join(server.keysDir, 'users', user, 'state.json'), 'utf8'));
  const pairs = await keyStore(user);
  return (Object.values(state.envelopes) as MemberKeyEnvelope[])
    .filter((e) => e.chatId === chatId)
    .map((e) => unwrapKey(pairs.encryption.privateKey, e.wrappedKey));
}

describe.skipIf(!haveChromium)('a members-mode chat in the web client', { timeout: 300_000 }, () => {
  it('a browser user and two CLI users across an invitation, a leave and a rotation; no key on the server; forged keys refused', async () => {
    const bob = terminal('bob');
    const carol = terminal('carol');
    await bob.waitFor(/\* connected$/);
    await carol.waitFor(/\* connected$/);
    const alice = await start(browser, server, 'alice');
    await alice.page.getByRole('region', { name: 'Online' }).getByText('carol', { exact: true }).waitFor();

    // "Only members can read": the page makes epoch 1 itself, signed with the scheme picked
    await alice.page.getByRole('button', { name: 'New chat' }).click();
    const checkbox = alice.page.getByLabel('Only members can read');
    expect(await checkbox.isChecked()).toBe(false); // server mode unless asked
    await checkbox.check();
    await alice.page.getByLabel('Invitees').fill('bob');
    await alice.page.getByRole('button', { name: 'Start chat' }).click();
    await alice.page.getByText('Who can read: only members can read', { exact: true }).waitFor();
    await alice.page.getByText('Epoch 1', { exact: true }).waitFor();
    await alice.page.getByText('(only members can read)', { exact: true }).waitFor(); // in the list
    expect(await entry(alice, /^epoch 1:/)).toBe('epoch 1: key made by you for alice, bob');

    // bob's CLI verifies the page's envelope (alice's pinned key) before it unwraps it
    await bob.waitFor(/epoch 1: you were added by alice \(members: alice, bob\)$/);
    await bob.waitFor(/alice invited you to chat .* — only members can read; type `join` to accept$/);
    bob.send('join');
    await bob.waitFor(/^joined chat/);
    await alice.page.getByText(/^Members: alice, bob$/).waitFor();
    bob.send('sig dsa');
    await bob.waitFor(/now signing with dsa/);
    bob.send('bob, signing with DSA');
    expect(await entry(alice, 'bob, signing with DSA')).toMatch(/bob \(DSA\) bob, signing with DSA$/);
    await send(alice, 'alice, Ed25519 from the page', 'ed25519');
    await bob.waitFor(/alice \(ed25519\): alice, Ed25519 from the page$/);

    // an invitation made by a CLI user: bob's client makes epoch 2; the page verifies it
    bob.send('invite carol');
    await bob.waitFor(/^invited carol; the chat key rotated \(epoch 2\)$/);
    expect(await entry(alice, /^epoch 2:/)).toBe('epoch 2: carol added by bob');
    await alice.page.getByText('Epoch 2', { exact: true }).waitFor();
    await carol.waitFor(/epoch 2: you were added by bob \(members: alice, bob, carol\)$/);
    carol.send('join');
    await carol.waitFor(/^joined chat/);
    carol.send('carol, RSA-PSS from the terminal');
    expect(await entry(alice, 'carol, RSA-PSS')).toMatch(
      /carol \(RSA-PSS\) carol, RSA-PSS from the terminal$/,
    );
    await bob.waitFor(/carol \(rsa\): carol, RSA-PSS from the terminal$/);
    await send(alice, 'all three of us', 'rsa-pss-sha256');
    await bob.waitFor(/alice \(rsa\): all three of us$/);
    await carol.waitFor(/alice \(rsa\): all three of us$/);

    // a leave: epoch 3 is made by alice's page or carol's CLI, whichever commits first
    bob.send('leave');
    await bob.waitFor(/^left chat/);
    expect(await entry(alice, /^epoch 3:/)).toMatch(/^epoch 3: bob left \(new key made by (alice|carol)\)$/);
    await carol.waitFor(/epoch 3: bob left \(new key made by (alice|carol)\)$/);
    await alice.page.getByText(/^Members: alice, carol$/).waitFor();

    // three messages in epoch 3: the key rotates, made by a member
    await send(alice, 'one', 'ed25519');
    await carol.waitFor(/alice \(ed25519\): one$/);
    carol.send('two');
    await entry(alice, /carol \(RSA-PSS\) two$/);
    await send(alice, 'three', 'rsa-pss-sha256');
    await carol.waitFor(/alice \(rsa\): three$/);
    expect(await entry(alice, /^epoch 4:/)).toMatch(/^epoch 4: new key made by (alice|carol), same members$/);
    await carol.waitFor(/epoch 4: new key made by (alice|carol), same members$/);
    await alice.page.getByText('Epoch 4', { exact: true }).waitFor();
    await send(alice, 'after the rotation', 'ed25519');
    await carol.waitFor(/alice \(ed25519\): after the rotation$/);
    carol.send('carol after the rotation');
    expect(await entry(alice, 'carol after the rotation')).toMatch(/carol \(RSA-PSS\)/);
    expect(
      await log(alice.page)
        .getByText(/refused/)
        .count(),
    ).toBe(0);

    // nothing the server stored holds any epoch's key (bob held 1 and 2, carol 2, 3 and 4)
    const chatId = (await server.app.store.listChats('carol', 10))[0].id;
    const keys = [...(await rawKeysOfCli('bob', chatId)), ...(await rawKeysOfCli('carol', chatId))];
    expect(keys).toHaveLength(2 + 3);
    expect(new Set(keys.map((k) => k.toString('hex'))).size).toBe(4);
    expect(holdsAnyKey(await storedBytes(server), keys)).toBe(false);

    // a compromised server hands the page a key made by dave, who was never a member
    const ghost = await forgeEnvelopes('dave', chatId, 5, ['alice', 'carol', 'dave']);
    await inject(server, chatId, { envelopes: ghost.envelopes });
    expect(await entry(alice, 'chat.key event refused')).toMatch(
      /committed by dave, who was not a member of epoch 4$/,
    );
    // and a key for a roster without alice, made by carol, sent to alice
    const roster = await forgeEnvelopes('carol', chatId, 6, ['carol']);
    await inject(server, chatId, { envelopes: [{ ...roster.envelopes[0], recipient: 'alice' }] });
    expect(await entry(alice, /refused: .* epoch 6/)).toMatch(/its member list does not include you$/);
    // neither key was taken: the page stays at epoch 4
    await alice.page.getByText('Epoch 4', { exact: true }).waitFor();

    // a reload: the page's own record (IndexedDB) of every epoch still verifies the whole history
    await alice.page.reload();
    await logIn(alice.page, 'alice');
    await connected(alice.page);
    await alice.page.getByRole('button', { name: /^carol · / }).click();
    expect(await entry(alice, 'bob, signing with DSA')).toMatch(/bob \(DSA\)/); // epoch 1
    expect(await entry(alice, 'carol, RSA-PSS')).toMatch(/carol \(RSA-PSS\)/); // epoch 2
    expect(await entry(alice, 'carol after the rotation')).toMatch(/carol \(RSA-PSS\)/); // epoch 4
    expect(
      await log(alice.page)
        .getByText(/refused/)
        .count(),
    ).toBe(0);

    // the checkbox is off again: the next chat is a server-mode one, and says what that means
    await alice.page.getByRole('button', { name: 'New chat' }).click();
    expect(await alice.page.getByLabel('Only members can read').isChecked()).toBe(false);
    await alice.page.getByLabel('Invitees').fill('carol');
    await alice.page.getByRole('button', { name: 'Start chat' }).click();
    await alice.page
      .getByText('Who can read: the server can read if it is compromised', { exact: true })
      .waitFor();
    await alice.page.getByText('(the server can read if it is compromised)', { exact: true }).waitFor();

    // no console error but the browser's own line for a 409 it got: REKEY_PENDING when posting
    // while a key waits, or EPOCH_COMMITTED when carol made the key first (both protocol answers)
    expect(alice.problems.filter((p) => !/status of 409 \(Conflict\)$/.test(p))).toEqual([]);
  });

  it('a removal waiting while nobody was online is committed by the page when its user comes back', async () => {
    const erin = terminal('erin');
    await erin.waitFor(/\* connected$/);
    const dave = await start(browser, server, 'dave');
    await dave.page.getByRole('button', { name: 'New chat' }).click();
    await dave.page.getByLabel('Only members can read').check();
    await dave.page.getByLabel('Invitees').fill('erin');
    await dave.page.getByRole('button', { name: 'Start chat' }).click();
    await erin.waitFor(/epoch 1: you were added by dave \(members: dave, erin\)$/);
    erin.send('join');
    await erin.waitFor(/^joined chat/);
    await dave.page.getByText(/^Members: dave, erin$/).waitFor();

    // dave logs out; erin leaves: epoch 2 waits, with no joined member online to make its key
    await dave.page.getByRole('button', { name: 'Log out' }).click();
    await dave.page.getByRole('button', { name: 'Log in' }).waitFor();
    erin.send('leave');
    await erin.waitFor(/^left chat/);
    const chatId = (await server.app.store.listChats('dave', 10))[0].id;
    expect((await server.app.store.getChat(chatId))?.pending).toMatchObject({ epoch: 2, removed: ['erin'] });

    // back: on connecting, the page makes the waiting key (the keys were kept in this browser)
    await logIn(dave.page, 'dave');
    await connected(dave.page);
    await dave.page.getByRole('button', { name: /^only you · / }).click();
    expect(await entry(dave, /^epoch 2:/)).toBe('epoch 2: erin left (new key made by dave)');
    await dave.page.getByText('Epoch 2', { exact: true }).waitFor();
    const chat = await server.app.store.getChat(chatId);
    expect(chat?.epoch).toBe(2);
    expect(chat?.pending ?? null).toBeNull();
    expect(dave.problems).toEqual([]);
  });
});
