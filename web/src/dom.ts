import { escapeControls } from '../../src/client/index.js';

/**
 * Elements made from data, never from markup: text goes in as text nodes (protocol.md, "Display":
 * a page inserts text as text), attributes through setAttribute, handlers through addEventListener.
 * Nothing in the web client uses innerHTML. Every string goes in through {@link shown}: whatever
 * a peer or the server wrote, it reaches the page (and a screen reader) with its controls visible.
 */
type Child = Node | string | number | undefined | null | false;
type Attrs = Record<string, string | boolean | undefined | ((event: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) el.setAttribute(name, '');
    else if (typeof value === 'string') el.setAttribute(name, shown(value));
  }
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]): void {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    el.append(typeof child === 'object' ? child : document.createTextNode(shown(String(child))));
  }
}

/**
 * Text as the page shows it, by the CLI's rule (src/client/text.ts): controls, bidi controls and
 * invisible format characters as their code points (`⟨U+202E⟩`), a newline too.
 */
export const shown = (text: string): string => escapeControls(text, false, 'code point');

/** A message's text: as {@link shown}, but its newlines stay newlines (only a message spans lines). */
export const messageText = (text: string): Text =>
  document.createTextNode(escapeControls(text, true, 'code point'));

export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, ...children);
}

/** What a failed request with no answer at all (fetch's TypeError, "Failed to fetch") says. */
export const UNREACHABLE = 'The server cannot be reached: check your connection, then try again.';

/** What an error says, for a person: what went wrong, and where it can be helped, what to do. */
export function reason(error: unknown): string {
  if (error instanceof TypeError && /fetch|network/i.test(error.message)) return UNREACHABLE;
  return error instanceof Error ? error.message : String(error);
}

/** How long a passing status line stays. */
export const STATUS_MS = 8_000;
const clearing = new WeakMap<Element, ReturnType<typeof setTimeout>>();

/**
 * A status line that passes: shown, and cleared after {@link STATUS_MS} unless something else
 * was said there meanwhile.
 */
export function sayFor(el: Element, text: string, ms = STATUS_MS): void {
  replace(el, text);
  clearTimeout(clearing.get(el));
  if (!text) return;
  clearing.set(
    el,
    setTimeout(() => {
      if (el.textContent === shown(text)) replace(el);
    }, ms),
  );
}

/** A labelled input: the label wraps it, so its accessible name is the label's text. */
export function field(label: string, input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement) {
  return h('label', { class: 'field' }, h('span', {}, label), input);
}

/** Runs a form's action on submit; the button is disabled meanwhile and errors go to `out`. */
export function onSubmit(form: HTMLFormElement, out: HTMLElement, action: () => Promise<void>): void {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const buttons = [...form.querySelectorAll('button')];
    for (const b of buttons) b.disabled = true;
    replace(out);
    try {
      await action();
    } catch (error) {
      replace(out, reason(error));
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  });
}

/** Usernames typed in a field: split on spaces and commas. */
export function names(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}
