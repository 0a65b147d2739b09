import qrcode from 'qrcode-generator';
import { type SafetyParty, safetyNumber } from '../../../src/client/index.js';
import { h, replace } from '../dom.js';

/** The safety numbers this user marked as compared, per peer (kept in this browser). */
const verifiedKey = (me: string) => `securechat.verified.${me}`;

function verified(me: string): Record<string, string> {
  try {
    const kept = JSON.parse(localStorage.getItem(verifiedKey(me)) ?? '{}') as unknown;
    return kept && typeof kept === 'object' ? (kept as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/**
 * The safety number of this user and a peer (src/client/safety-number.ts), as digits in groups
 * and as a QR code for the other to scan, with "Mark as verified" once compared. The mark holds
 * for that number only: when either user's keys change, so does the number, and the mark is gone.
 */
export async function safetyBlock(me: SafetyParty, peer: SafetyParty): Promise<HTMLElement> {
  const number = await safetyNumber(me, peer);
  const qr = qrcode(0, 'M');
  qr.addData(number.replace(/ /g, ''));
  qr.make();
  const state = h('p', { role: 'status' });
  const mark = h(
    'button',
    { type: 'button', 'aria-label': `Mark ${peer.username} as verified` },
    'Mark as verified',
  );
  const render = () => {
    const done = verified(me.username)[peer.username] === number;
    mark.hidden = done;
    replace(state, done ? `Verified: you compared this number with ${peer.username}.` : 'Not verified yet.');
  };
  mark.addEventListener('click', () => {
    localStorage.setItem(
      verifiedKey(me.username),
      JSON.stringify({ ...verified(me.username), [peer.username]: number }),
    );
    render();
  });
  render();
  return h(
    'div',
    { class: 'safety' },
    h(
      'p',
      { class: 'note' },
      `Safety number with ${peer.username} (the same on both sides; compare it in person or by phone):`,
    ),
    h('p', { class: 'safety-number', 'aria-label': `Safety number with ${peer.username}` }, number),
    h('img', {
      src: qr.createDataURL(3, 2),
      alt: `QR code of the safety number with ${peer.username}`,
      class: 'qr',
    }),
    state,
    mark,
  );
}
