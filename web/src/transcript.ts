import type {
  MessageData,
  TranscriptSaved,
  TranscriptStore,
  TranscriptWarning,
  WarningChange,
} from '../../src/client/index.js';
import { idbGet, idbUpdate } from './db.js';
import { h, shown } from './dom.js';

/**
 * Transcript integrity in the page (protocol.md): the device id, counters and each chat's checks
 * of one user in this browser (IndexedDB, `transcript/<username>`), and the warnings as lines of
 * the chat's log that no message looks like.
 */
export class BrowserTranscriptStore implements TranscriptStore {
  private constructor(
    private readonly key: string,
    private saved: TranscriptSaved | undefined,
  ) {}

  static async load(username: string): Promise<BrowserTranscriptStore> {
    const key = `transcript/${username}`;
    return new BrowserTranscriptStore(key, await idbGet<TranscriptSaved>(key));
  }

  loadTranscript() {
    return this.saved;
  }

  /** One IndexedDB transaction: another tab of this user cannot interleave (its counters stay unique). */
  async updateTranscript(change: (saved: TranscriptSaved | undefined) => TranscriptSaved) {
    this.saved = await idbUpdate<TranscriptSaved>(this.key, change);
    return this.saved;
  }
}

/** A warning's line in the log: marked as the page's own, with the problem's key to resolve it by. */
export function warningEntry(w: TranscriptWarning): HTMLElement {
  const li = h('li', { class: 'note warning transcript', role: 'alert' }, `⚠ Transcript check: ${w.text}`);
  li.dataset.warning = w.key;
  return li;
}

/** Applies the changes of one message's checks to the log: new lines, new counts, resolutions. */
export function showChanges(log: HTMLElement, changes: WarningChange[]): void {
  for (const { status, warning } of changes) {
    const had = [...log.querySelectorAll<HTMLElement>('li[data-warning]')].find(
      (li) => li.dataset.warning === warning.key,
    );
    if (status === 'resolved') {
      if (had) {
        had.className = 'note transcript resolved';
        had.removeAttribute('role');
        had.textContent = shown(`✓ Resolved: ${warning.text}`);
        delete had.dataset.warning;
      }
    } else if (had) had.textContent = shown(`⚠ Transcript check: ${warning.text}`);
    else log.append(warningEntry(warning));
  }
}

/** The mark of a version-1 message, which the checks cannot cover. */
export const notCovered = (data: MessageData) =>
  data?.message?.device === undefined ? ' — not covered by transcript checks' : '';
