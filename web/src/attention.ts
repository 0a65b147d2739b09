import { h } from './dom.js';
import type { WebSession } from './session.js';

/** Whether the user turned desktop notifications on here, and whether with the message's text. */
const NOTIFY_SETTING = 'securechat.notify';
const NOTIFY_TEXT_SETTING = 'securechat.notify.text';
const TITLE = 'Secure Chat';

/**
 * What says that a message came in elsewhere: per chat the count of messages not seen yet (a chat
 * not open, or the tab hidden), their sum in the tab's title, and, when the tab is hidden, a
 * desktop notification, only once the user turned them on here (and the browser allowed it), and
 * without the message's text unless the user chose that.
 */
export class Attention {
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly session: WebSession,
    private readonly current: () => string | undefined,
  ) {
    session.on((event) => {
      if (event.type !== 'arrived') return;
      const seen = event.chatId === this.current() && document.visibilityState === 'visible';
      if (!seen) this.counts.set(event.chatId, (this.counts.get(event.chatId) ?? 0) + 1);
      this.changed();
      if (document.visibilityState === 'hidden') this.notify(event.chatId, event.sender, event.text);
    });
    document.addEventListener('visibilitychange', () => this.seen());
  }

  /** Messages of the chat not seen yet. */
  unread(chatId: string): number {
    return this.counts.get(chatId) ?? 0;
  }

  /** The open chat is seen, if the tab is shown. */
  seen(): void {
    const open = this.current();
    if (open === undefined || document.visibilityState !== 'visible' || !this.counts.has(open)) return;
    this.counts.delete(open);
    this.changed();
  }

  private changed(): void {
    let total = 0;
    for (const [chatId, n] of this.counts) if (this.session.chats.has(chatId)) total += n;
    document.title = total ? `(${total}) ${TITLE}` : TITLE;
    this.session.emit({ type: 'unread' });
  }

  private notify(chatId: string, sender: string, text: string): void {
    if (localStorage.getItem(NOTIFY_SETTING) !== 'on') return;
    if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
    const withText = localStorage.getItem(NOTIFY_TEXT_SETTING) === 'on';
    // one notification per chat, replaced by the next (tag); its text only if chosen
    try {
      new Notification(TITLE, {
        body: withText ? `${sender}: ${text}` : `New message from ${sender}`,
        tag: chatId,
      });
    } catch {
      // a browser that shows notifications only from a service worker: the count in the title stays
    }
  }
}

/** "Desktop notifications": the button that asks the browser, and the choice to show the text. */
export function notificationSettings(): HTMLElement {
  const out = h('p', { role: 'status' });
  const on = () => localStorage.getItem(NOTIFY_SETTING) === 'on';
  const text = h('input', { type: 'checkbox', name: 'notify-text' });
  text.checked = localStorage.getItem(NOTIFY_TEXT_SETTING) === 'on';
  text.addEventListener('change', () =>
    localStorage.setItem(NOTIFY_TEXT_SETTING, text.checked ? 'on' : 'off'),
  );
  const toggle = h('button', { type: 'button' });
  const render = () => {
    toggle.textContent = on() ? 'Turn off desktop notifications' : 'Turn on desktop notifications';
  };
  toggle.addEventListener('click', async () => {
    if (on()) {
      localStorage.setItem(NOTIFY_SETTING, 'off');
      out.textContent = '';
      return render();
    }
    if (typeof Notification === 'undefined') {
      out.textContent = 'This browser has no desktop notifications.';
      return;
    }
    const answer = await Notification.requestPermission();
    if (answer === 'granted') {
      localStorage.setItem(NOTIFY_SETTING, 'on');
      out.textContent = '';
    } else
      out.textContent =
        'The browser did not allow notifications: allow them for this site in its settings, then try again.';
    render();
  });
  render();
  return h(
    'details',
    { class: 'notify' },
    h('summary', {}, 'Notifications'),
    h('p', { class: 'note' }, 'When this tab is hidden, a notification says a message came in.'),
    toggle,
    h('label', { class: 'check' }, text, ' Show the message text in notifications'),
    out,
  );
}
