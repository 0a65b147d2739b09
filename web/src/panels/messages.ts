import { isUsername, type MessageData, SeenMessages, shortId } from '../../../src/client/index.js';
import { h, messageText, reason } from '../dom.js';
import type { WebSession } from '../session.js';
import { notCovered, showChanges, warningEntry } from '../transcript.js';

const SCHEME: Record<string, string> = {
  'rsa-pss-sha256': 'RSA-PSS',
  'dsa-sha256': 'DSA',
  ed25519: 'Ed25519',
};

const time = (iso: string) => {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString();
};

/** How close to the end (in pixels) still counts as reading the newest. */
const AT_END = 8;

/**
 * One chat's messages in an element with role `log`, in `seq` order whatever order they arrive
 * in. Each is verified and decrypted by the client library before it is shown; one that fails is
 * shown as refused, with the reason and never its text. Each (chatId, id) is shown once.
 *
 * It opens at the newest and follows new messages while the reader is at the end; a reader
 * scrolled up keeps their place and is shown "New messages", which jumps down. The user's own
 * message always scrolls into view.
 */
export class ChatLog {
  /** The log and its "New messages" button. */
  readonly element: HTMLElement;
  private readonly list: HTMLElement;
  private readonly jump = h('button', { type: 'button', class: 'jump', hidden: true }, 'New messages ↓');
  /** Whether the reader is at the end (then new messages are followed), and where they were if not. */
  private following = true;
  private position = 0;
  private readonly seen = new SeenMessages();
  private readonly refused = new Map<number, MessageData>();
  private history?: Promise<void>;

  constructor(
    private readonly session: WebSession,
    readonly chatId: string,
  ) {
    this.list = h('ol', {
      role: 'log',
      'aria-label': `Conversation ${shortId(chatId)}`,
      class: 'log',
    });
    this.element = h('div', { class: 'log-box' }, this.list, this.jump);
    // transcript warnings stay until resolved, across reloads
    for (const w of session.client.transcript.warnings(chatId)) this.list.append(warningEntry(w));
    this.list.addEventListener('scroll', () => {
      // a log out of the page has no scroll position of its own: what it had is kept
      if (!this.list.isConnected) return;
      const l = this.list;
      this.following = l.scrollHeight - l.scrollTop - l.clientHeight <= AT_END;
      this.position = l.scrollTop;
      if (this.following) this.jump.hidden = true;
    });
    this.jump.addEventListener('click', () => this.toEnd());
  }

  /** Scrolls to the newest and follows from there. */
  toEnd(): void {
    this.following = true;
    this.jump.hidden = true;
    this.list.scrollTop = this.list.scrollHeight;
  }

  /** Put back in the page (a render): at the newest if following, else where the reader was. */
  shown(): void {
    if (this.following) this.toEnd();
    else this.list.scrollTop = this.position;
  }

  /** After an entry is added: followed, or said with "New messages"; one's own always shown. */
  private added(own: boolean): void {
    if (own || this.following) this.toEnd();
    else this.jump.hidden = false;
  }

  /** History from GET /chats/{id}/messages, once per page (every page of it). */
  loadHistory(): Promise<void> {
    this.history ??= (async () => {
      let after = 0;
      for (;;) {
        const res = await this.session.api.listMessages(this.chatId, { after, limit: 1000 });
        const page: MessageData[] = Array.isArray(res?.messages) ? res.messages : [];
        // one at a time: the first message of a sender or epoch fetches (and pins) its keys, the
        // rest find them; all at once, every message fetched them again (and checked DSA keys anew)
        for (const m of page) await this.add(m);
        const last = page.at(-1)?.seq;
        if (page.length < 1000 || typeof last !== 'number' || last <= after) return;
        after = last;
      }
    })().catch((error) => {
      this.history = undefined;
      this.note(`history not loaded: ${reason(error)}`, true);
    });
    return this.history;
  }

  /** A message of this chat: verified, decrypted and shown in its place, or shown as refused. */
  /** Returns the text when the message is new here and was read (not refused), else undefined. */
  async add(data: MessageData): Promise<string | undefined> {
    return this.seen.first(data) ? await this.show(data) : undefined;
  }

  private async show(data: MessageData): Promise<string | undefined> {
    let shownText: string | undefined;
    const seq = Number(data?.seq);
    let entry: HTMLElement;
    let ok = false;
    try {
      const text = await this.session.client.read(data, this.chatId);
      shownText = text;
      entry = h(
        'li',
        { class: data.sender === this.session.username ? 'message own' : 'message' },
        h(
          'span',
          { class: 'meta' },
          time(data.message.sentAt),
          ' ',
          h('b', {}, data.sender),
          ` (${SCHEME[data.message.signatureAlgorithm]}${notCovered(data)})`,
        ),
        ' ',
        h('span', { class: 'text' }, messageText(text)),
      );
      this.refused.delete(seq);
      ok = true;
    } catch (error) {
      this.refused.set(seq, data);
      entry = h(
        'li',
        { class: 'message refused' },
        h('span', { class: 'meta' }, 'refused'),
        ' ',
        // the sender is named only when it is a username: any other string is the server's, not a name
        `Message #${Number.isSafeInteger(seq) ? seq : '?'} from ${isUsername(data?.sender) ? data.sender : 'an invalid sender'} refused: ${reason(error)}`,
      );
      this.session.emit({ type: 'trust' });
    }
    entry.dataset.seq = String(Number.isSafeInteger(seq) ? seq : 0);
    this.place(entry, seq);
    this.added(data?.sender === this.session.username);
    await this.check(data, ok);
    return shownText;
  }

  /** The transcript checks of a message shown: a gap's messages history returned are shown too. */
  private async check(data: MessageData, ok: boolean): Promise<void> {
    if (data?.chatId !== this.chatId || !Number.isSafeInteger(data?.seq)) return;
    try {
      const { recovered, changes } = await this.session.client.transcript.receive(data, ok);
      for (const m of recovered) if (this.seen.first(m)) await this.show(m);
      showChanges(this.list, changes);
    } catch (error) {
      this.note(`transcript checks failed: ${reason(error)}`, true);
    }
  }

  /** Tries the refused messages of `sender` again (after their new key was trusted). */
  async retry(sender: string): Promise<void> {
    const again = [...this.refused.entries()].filter(([, d]) => d.sender === sender);
    for (const [seq, data] of again) {
      this.list.querySelector(`li[data-seq="${seq}"]`)?.remove();
      this.refused.delete(seq);
      await this.show(data);
    }
  }

  /** A line about the chat (a join, a rotation, a refusal), not a message. */
  note(text: string, warning = false): void {
    this.list.append(h('li', { class: warning ? 'note warning' : 'note' }, text));
    this.added(false);
  }

  private place(entry: HTMLElement, seq: number): void {
    const after = [...this.list.querySelectorAll<HTMLElement>('li[data-seq]')].find(
      (li) => Number(li.dataset.seq) > seq,
    );
    if (after) after.before(entry);
    else this.list.append(entry);
  }
}
