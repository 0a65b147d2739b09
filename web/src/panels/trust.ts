import { FINGERPRINT_KEYS, type Fingerprints, keySetFingerprint } from '../../../src/client/index.js';
import { h, onSubmit, reason, replace } from '../dom.js';
import type { WebSession } from '../session.js';
import { safetyBlock } from './safety.js';

async function table(fps: Fingerprints): Promise<HTMLElement> {
  return h(
    'dl',
    { class: 'fingerprints' },
    h('dt', {}, 'all four keys'),
    h('dd', {}, await keySetFingerprint(fps)),
    ...FINGERPRINT_KEYS.flatMap((k) => [h('dt', {}, k), h('dd', {}, fps[k])]),
  );
}

/**
 * Fingerprints to compare out of band: the user's own, the server's, each pinned peer's. A peer
 * whose keys changed gets a warning with the new fingerprints and a deliberate "Trust new key"
 * that pins exactly the fingerprints shown (the client library refuses if they changed again).
 */
export function trustPanel(session: WebSession, retry: (sender: string) => Promise<void>): HTMLElement {
  const warnings = h('div', { role: 'alert' });
  const body = h('div');
  const client = session.client;
  let rendering = Promise.resolve();
  const render = async () => {
    const changed = await Promise.all(
      [...client.trust.changed.keys()].map(async (name) => {
        const out = h('p', { class: 'error' });
        let shown: HTMLElement;
        let form: HTMLElement | undefined;
        try {
          const current = (await client.trust.fingerprints(name)).current;
          shown = await table(current);
          // exactly what this table shows is what its button pins: if the server has other keys
          // by the time it is pressed, nothing is trusted
          const all = await keySetFingerprint(current);
          const trust = h(
            'form',
            { class: 'row' },
            h('button', { type: 'submit', 'aria-label': `Trust new key of ${name}` }, 'Trust new key'),
          );
          onSubmit(trust, out, async () => {
            await client.trust.trustUser(name, all);
            await retry(name);
            void refresh();
          });
          form = trust;
        } catch (error) {
          shown = h('p', {}, reason(error));
        }
        return h(
          'div',
          { class: 'warning' },
          h(
            'p',
            {},
            `Warning: ${name}'s keys changed since this browser first saw them. Their messages are refused until you compare these new fingerprints with ${name} (in person, by phone) and trust them.`,
          ),
          shown,
          form,
          out,
        );
      }),
    );
    replace(warnings, ...changed);
    const ownFingerprints = await client.ownFingerprints();
    const own = await table(ownFingerprints);
    const me = { username: session.username, fingerprints: ownFingerprints };
    const peers = await Promise.all(
      session.stores
        .pinnedUsers()
        .map(async ([name, fps]) =>
          h(
            'details',
            {},
            h('summary', {}, name),
            await safetyBlock(me, { username: name, fingerprints: fps }),
            await table(fps),
          ),
        ),
    );
    replace(
      body,
      h('h3', {}, `You (${session.username})`),
      own,
      h('h3', {}, 'Server'),
      h('p', { class: 'mono' }, client.trust.serverFingerprint ?? 'not pinned'),
      h('h3', {}, 'People (pinned on first use)'),
      ...(peers.length ? peers : [h('p', {}, 'Nobody yet.')]),
    );
  };
  const refresh = () => {
    rendering = rendering.then(render).catch(() => undefined);
    return rendering;
  };
  session.on((event) => {
    if (event.type === 'trust') void refresh();
  });
  void refresh();
  const details = h('details', { class: 'fps' }, h('summary', { id: 'trust-title' }, 'Fingerprints'), body);
  details.addEventListener('toggle', () => void refresh());
  return h('section', { class: 'panel', 'aria-labelledby': 'trust-title' }, warnings, details);
}
