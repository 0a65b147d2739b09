import { ApiError, type SignatureAlgorithm } from '../../../src/client/index.js';
import { field, h, messageText, names, onSubmit, replace } from '../dom.js';
import { joinChat, leaveChat } from '../invitations.js';
import { Outbox } from '../outbox.js';
import { SCHEME_SETTING, type WebSession } from '../session.js';
import { chatName, modeWords, unavailableText } from './chats.js';
import { ChatLog } from './messages.js';

/** The schemes a browser signs with; DSA is verified but never signed in the page. */
const SCHEMES: { value: SignatureAlgorithm; label: string }[] = [
  { value: 'rsa-pss-sha256', label: 'RSA-PSS (SHA-256)' },
  { value: 'ed25519', label: 'Ed25519' },
];

/** The signature scheme chosen, kept (in this browser) until changed. */
function schemeSelect(): HTMLSelectElement {
  const saved = localStorage.getItem(SCHEME_SETTING);
  const select = h(
    'select',
    { name: 'signature' },
    ...SCHEMES.map((s) => h('option', { value: s.value, selected: s.value === saved }, s.label)),
    h('option', { value: 'dsa-sha256', disabled: true }, 'DSA: verified, never signed here'),
  );
  select.addEventListener('change', () => localStorage.setItem(SCHEME_SETTING, select.value));
  return select;
}

/**
 * The chat being shown: its members and epoch, its message log, and the forms to send, invite,
 * join and leave. One chat at a time; each chat's log lives on while another is shown.
 */
export class ChatPanel {
  readonly element = h('section', { class: 'panel chat', 'aria-labelledby': 'chat-title' });
  private readonly logs = new Map<string, ChatLog>();
  private readonly scheme = schemeSelect();
  /** Kept across renders, so that what is being typed survives a membership change. */
  private readonly text = h('textarea', { name: 'message', rows: '2', required: true });
  private readonly outbox: Outbox;
  /** The open chat's messages that wait for the server, shown until it takes them. */
  private readonly unsent = h('div', { class: 'unsent' });
  current?: string;

  constructor(private readonly session: WebSession) {
    this.outbox = new Outbox(session);
    session.on((event) => {
      if (event.type === 'outbox') this.showUnsent();
      if (event.type === 'message') {
        const log = this.log(event.data.chatId);
        const data = event.data;
        if (log)
          void log.add(data).then((text) => {
            if (text !== undefined && data.sender !== session.username)
              session.emit({ type: 'arrived', chatId: data.chatId, sender: data.sender, text });
          });
        // refused, not dropped: a message for a chat this user is not in
        else
          session.emit({
            type: 'notice',
            warning: true,
            text: 'a message for a chat you are not in was refused',
          });
      }
      if (event.type === 'notice' && event.chatId) this.log(event.chatId)?.note(event.text, event.warning);
      if (event.type === 'chats' && (event.chatId === undefined || event.chatId === this.current))
        this.render();
    });
    // Enter sends, Shift+Enter is a new line
    this.text.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey) {
        event.preventDefault();
        this.text.form?.requestSubmit();
      }
    });
    this.render();
  }

  /** The log of a chat of this user (made when first needed), none for any other id. */
  log(chatId: string): ChatLog | undefined {
    if (!this.session.chats.has(chatId)) return undefined;
    let log = this.logs.get(chatId);
    if (!log) {
      log = new ChatLog(this.session, chatId);
      this.logs.set(chatId, log);
    }
    return log;
  }

  open(chatId: string): void {
    this.current = chatId;
    this.render();
    // a chat opens at its newest message
    this.log(chatId)?.toEnd();
    this.log(chatId)?.loadHistory();
  }

  /** After a peer's new key is trusted: their refused messages are tried again. */
  async retry(sender: string): Promise<void> {
    for (const log of this.logs.values()) await log.retry(sender);
  }

  private render(): void {
    const chat = this.current === undefined ? undefined : this.session.chats.get(this.current);
    if (!chat) {
      this.current = undefined;
      replace(
        this.element,
        h('h2', { id: 'chat-title' }, 'No chat open'),
        h('p', {}, 'Start a chat or pick one.'),
      );
      return;
    }
    const me = chat.members.find((m) => m.username === this.session.username);
    const invited = me?.state === 'invited';
    const out = h('p', { role: 'alert', class: 'error' });
    const members = chat.members.map(
      (m) => `${m.username}${m.state === 'invited' ? ' (invited)' : ''}${m.online ? '' : ' (offline)'}`,
    );

    const join = h('form', { class: 'row' }, h('button', { type: 'submit' }, 'Join'));
    onSubmit(join, out, () => joinChat(this.session, chat.id));

    // an invitation is declined, a chat joined is left: the same request
    const leave = h('form', { class: 'row' }, h('button', { type: 'submit' }, invited ? 'Decline' : 'Leave'));
    onSubmit(leave, out, () => leaveChat(this.session, chat.id));

    const invitees = h('input', { name: 'invite', autocomplete: 'off', spellcheck: 'false', required: true });
    const invite = h(
      'form',
      { class: 'row' },
      field('Invite users', invitees),
      h('button', { type: 'submit' }, 'Invite'),
    );
    onSubmit(invite, out, async () => {
      const since = this.session.mark();
      const res = await this.session.client.invite(chat.id, names(invitees.value));
      invitees.value = '';
      this.session.setChat(res.chat, chat.id, since);
      if (res.unavailable.length) this.log(chat.id)?.note(unavailableText(res.unavailable), true);
    });

    const text = this.text;
    const send = h(
      'form',
      { class: 'composer' },
      field('Message', text),
      field('Signature', this.scheme),
      h('button', { type: 'submit' }, 'Send'),
    );
    onSubmit(send, out, async () => {
      const written = text.value;
      if (!written.trim()) return;
      // taken at once: sent now, or kept in the queue below until the server is back
      text.value = '';
      try {
        await this.outbox.add(chat.id, written, this.scheme.value as SignatureAlgorithm);
      } catch (error) {
        // refused (not kept): what was written comes back to be sent again
        if (!text.value) text.value = written;
        if (error instanceof ApiError && error.code === 'NOT_JOINED') throw new Error('Join the chat first.');
        throw error;
      }
    });

    const log = this.log(chat.id);
    replace(
      this.element,
      h('h2', { id: 'chat-title', 'data-chat-id': chat.id }, `Chat with ${chatName(this.session, chat)}`),
      h('p', { class: 'mode' }, `Who can read: ${modeWords(this.session, chat)}`),
      h('p', { class: 'members' }, `Members: ${members.join(', ')}`),
      h('p', { class: 'epoch' }, `Epoch ${this.session.epochOf(chat.id) ?? chat.epoch}`),
      h('div', { class: 'row' }, invited ? join : invite, leave),
      log?.element,
      this.unsent,
      invited ? h('p', {}, 'You are invited: join to send.') : send,
      out,
    );
    log?.shown();
    this.showUnsent();
  }

  /** The queue of the open chat's unsent messages, in the order they will be sent, and why they wait. */
  private showUnsent(): void {
    const mine = this.outbox.waiting.filter((m) => m.chatId === this.current);
    if (!mine.length) {
      replace(this.unsent);
      return;
    }
    replace(
      this.unsent,
      h(
        'ul',
        { 'aria-label': 'Unsent messages', class: 'unsent-list' },
        ...mine.map((m) => h('li', {}, h('span', { class: 'meta' }, 'waiting'), ' ', messageText(m.text))),
      ),
      this.outbox.problem && h('p', { role: 'status', class: 'warning' }, this.outbox.problem),
    );
  }
}
