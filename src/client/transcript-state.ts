/**
 * The three transcript checks of protocol.md ("Transcript integrity") on one chat's saved state,
 * without I/O: gaps in `seq`, per-(sender, device) counters, and `prev.hash` against this client's
 * own copy. transcript.ts feeds them in `seq` order (gaps fetched first) and keeps the state.
 * The state is plain JSON, saved per chat so that a warning outlives a restart.
 */
import type { PrevRef } from './canonical.js';

/** How many recent hashes (by seq) and message ids (by counter) a chat's state keeps. */
export const KEPT = 1024;
/** How many devices of one sender a chat's state keeps (the least recently heard is forgotten). */
export const MAX_DEVICES = 32;
/** How many withheld ranges a chat keeps apart; past it, the newest two are said as one span. */
export const MAX_WITHHELD = 64;

export type WarningKind = 'withheld' | 'missing' | 'repeat' | 'fork' | 'replay';

/** One warning of one chat, shown in that chat until it is resolved (never as a message). */
export interface TranscriptWarning {
  /** Stable within the chat: the same problem keeps its key while its text changes. */
  key: string;
  chatId: string;
  kind: WarningKind;
  text: string;
  seq?: number;
  /** For 'withheld': the last seq of the range that starts at `seq`. */
  to?: number;
  /** For 'withheld': a span with received messages in it too (ranges past {@link MAX_WITHHELD} merged). */
  partial?: boolean;
  sender?: string;
  counter?: number;
  /** For 'missing': how many are still missing. */
  count?: number;
}

/** What a step changed: a warning opened, its text changed (a count), or resolved. */
export interface WarningChange {
  status: 'open' | 'changed' | 'resolved';
  warning: TranscriptWarning;
}

interface DeviceState {
  /** Highest counter seen. */
  high: number;
  /** Counters skipped, as inclusive ranges [from, to], oldest first. */
  missing: [number, number][];
  /** Message id by counter, the most recent {@link KEPT}. */
  ids: Record<string, string>;
  /** The seq it was last heard at (which device of a sender to forget first). */
  at?: number;
}

export interface ChatTranscript {
  /** The first seq this client received in the chat: its checks start there. */
  first: number | null;
  /** The highest seq received (0: none). */
  last: number;
  /**
   * The highest seq known to be the chat's: received with no unconfirmed gap before it, or named
   * by a verified message's `prev` (absent in old state: `last`). `prev` never goes past it, so one
   * message with a forged huge seq cannot lock this client's posts out (400 INVALID_PREV).
   */
  confirmed?: number;
  /** The highest seq a gap's history fetch has covered: a later gap starts after it, never again from `last`. */
  asked?: number;
  /** Hash of each recent message's signing input, by seq. */
  hashes: Record<string, string>;
  /** Seqs whose message was refused (a signature that did not verify yet): taken in when one does. */
  refused?: number[];
  /** The seq of each recent message, by `sender\nid` (a message shown again at another seq is a replay). */
  seqs?: Record<string, number>;
  /** By `sender\ndevice`. */
  devices: Record<string, DeviceState>;
  /** Open warnings, by key. */
  warnings: Record<string, TranscriptWarning>;
}

export const emptyChat = (): ChatTranscript => ({
  first: null,
  last: 0,
  confirmed: 0,
  hashes: {},
  devices: {},
  warnings: {},
});

/** A received message as the checks see it. */
export interface Observed {
  seq: number;
  sender: string;
  id: string;
  /** Lowercase hex SHA-256 of its signing input. */
  hash: string;
  /** Only a verified version-2 message's fields are checked (the server could forge the rest). */
  transcript?: { device: string; counter: number; prev: PrevRef | null };
}

const plural = (k: number, one: string, many: string) => (k === 1 ? one : many);
const count = (ranges: [number, number][]) => ranges.reduce((n, [a, b]) => n + (b - a + 1), 0);

/** A chat's checks, over its state: each call returns the warnings it changed. */
export class ChatChecks {
  readonly changes: WarningChange[] = [];

  constructor(
    readonly chatId: string,
    readonly state: ChatTranscript,
  ) {}

  private open(warning: Omit<TranscriptWarning, 'chatId'>): void {
    const w = { ...warning, chatId: this.chatId };
    const had = this.state.warnings[w.key];
    if (had && had.text === w.text) return;
    this.state.warnings[w.key] = w;
    this.changes.push({ status: had ? 'changed' : 'open', warning: w });
  }

  private resolve(key: string): void {
    const had = this.state.warnings[key];
    if (!had) return;
    delete this.state.warnings[key];
    this.changes.push({ status: 'resolved', warning: had });
  }

  /** Check 1: the seqs [from, to] that history did not return after a gap: one warning for the range. */
  withheld(from: number, to: number): void {
    if (from > to) return;
    if (from === to && this.state.hashes[from] !== undefined) return;
    const open = this.withheldRanges();
    if (open.some((w) => (w.seq as number) <= from && to <= (w.to ?? (w.seq as number)))) return;
    if (open.length >= MAX_WITHHELD) {
      // too many apart: the newest is widened to this one (said as a span, with received ones in it)
      const newest = open.reduce((a, b) => ((b.seq as number) > (a.seq as number) ? b : a));
      this.resolve(newest.key);
      const start = newest.seq as number;
      this.range(Math.min(start, from), Math.max(newest.to ?? start, to), true);
    } else this.range(from, to, false);
  }

  private range(from: number, to: number, partial: boolean): void {
    this.open({
      key: from === to ? `withheld/${from}` : `withheld/${from}-${to}`,
      kind: 'withheld',
      seq: from,
      to,
      ...(partial ? { partial } : {}),
      text: partial
        ? `some of messages #${from}–#${to} were withheld from you`
        : from === to
          ? `message #${from} was withheld from you`
          : `messages #${from}–#${to} were withheld from you`,
    });
  }

  private withheldRanges(): TranscriptWarning[] {
    return Object.values(this.state.warnings).filter((w) => w.kind === 'withheld' && w.seq !== undefined);
  }

  /** The open withheld warning whose range holds `seq`. */
  withheldAt(seq: number): TranscriptWarning | undefined {
    return this.withheldRanges().find((w) => (w.seq as number) <= seq && seq <= (w.to ?? (w.seq as number)));
  }

  /** `seq` arrived: its withheld range resolves, what is left of it stays open (a span stays as it is). */
  private arrived(seq: number): void {
    const w = this.withheldAt(seq);
    if (!w || w.partial) return;
    const from = w.seq as number;
    const to = w.to ?? from;
    this.resolve(w.key);
    if (from < seq) this.range(from, seq - 1, false);
    if (seq < to) this.range(seq + 1, to, false);
  }

  /** The seq and hash a message written now names as `prev`: the newest confirmed one kept. */
  prevRef(): { seq: number; hash: string } | null {
    const s = this.state;
    const bound = s.confirmed ?? s.last;
    let best = 0;
    for (const k of Object.keys(s.hashes)) {
      const n = Number(k);
      if (n <= bound && n > best) best = n;
    }
    return best > 0 ? { seq: best, hash: s.hashes[best] } : null;
  }

  /**
   * This client joined the chat (again): what it reads now starts where the new membership does,
   * so the checks start over there (each device at the first counter seen); open warnings stay.
   */
  restart(): void {
    Object.assign(this.state, { ...emptyChat(), warnings: this.state.warnings });
    delete this.state.asked;
  }

  /** Message `seq` came in a gap's history but was refused: not seen, so a verified copy is taken in later. */
  refusedAt(seq: number): void {
    const s = this.state;
    if (s.hashes[seq] !== undefined || s.refused?.includes(seq)) return;
    s.refused = [...(s.refused ?? []), seq].slice(-KEPT);
  }

  /** A post naming `seq` as prev was refused (400 INVALID_PREV): nothing at or past it is confirmed. */
  unconfirm(seq: number): void {
    const s = this.state;
    s.confirmed = Math.min(s.confirmed ?? s.last, seq - 1);
  }

  /** The seqs between the last one received and `seq`, to fetch before `seq` is observed. */
  gap(seq: number): [number, number] | undefined {
    const { first, last } = this.state;
    const start = Math.max(last, this.state.asked ?? 0) + 1;
    if (first === null || seq <= start) return undefined;
    return [start, seq - 1];
  }

  /** History was asked for every seq up to `to`: what it did not return is withheld, not asked again. */
  askedUpTo(to: number): void {
    this.state.asked = Math.max(this.state.asked ?? 0, to);
  }

  /** Whether `seq` was observed already (a repeat delivery: nothing to check again). */
  seen(seq: number): boolean {
    const s = this.state;
    return (
      s.hashes[seq] !== undefined ||
      (s.first !== null && seq <= s.last && !this.withheldAt(seq) && !s.refused?.includes(seq))
    );
  }

  /**
   * Takes one message in: its seq (resolving a withheld one), its counter (check 2) and its prev
   * (check 3, against `ownHash`: this client's copy of message `prev.seq`, if it has one).
   * Returns false for a message already observed.
   */
  observe(m: Observed, ownHash?: string): boolean {
    const s = this.state;
    const known = s.hashes[m.seq];
    if (known !== undefined) {
      if (known !== m.hash)
        this.open({
          key: `fork/${m.seq}/server`,
          kind: 'fork',
          seq: m.seq,
          text: `the server showed you two different messages #${m.seq}`,
        });
      return false;
    }
    if (this.seen(m.seq)) return false;
    if (this.replayed(m)) return false;
    if (s.first === null) {
      s.first = m.seq;
      s.confirmed = m.seq;
    }
    this.arrived(m.seq);
    if (s.refused?.includes(m.seq)) s.refused = s.refused.filter((n) => n !== m.seq);
    s.hashes[m.seq] = m.hash;
    this.confirm(m);
    if (m.seq > s.last) {
      // the window moves: hashes that fell out of it go (a jump drops at most a window's worth)
      for (let k = Math.max(s.last - KEPT + 1, m.seq - 2 * KEPT); k <= m.seq - KEPT; k++) delete s.hashes[k];
      s.last = m.seq;
    }
    if (m.transcript) {
      this.counter(m, m.transcript.device, m.transcript.counter);
      if (m.transcript.prev) this.prev(m, m.transcript.prev, ownHash);
    }
    return true;
  }

  /**
   * A message already received at another seq, shown again at `m.seq`: said, and it fills nothing
   * (the message that belongs at `m.seq` was withheld in its place). Else `m`'s seq is kept.
   */
  private replayed(m: Observed): boolean {
    const s = this.state;
    s.seqs ??= {};
    const key = `${m.sender}\n${m.id}`;
    const was = s.seqs[key];
    if (was === undefined) {
      s.seqs[key] = m.seq;
      const keys = Object.keys(s.seqs);
      if (keys.length > 2 * KEPT)
        for (const k of keys) if ((s.seqs[k] as number) <= s.last - KEPT) delete s.seqs[k];
      return false;
    }
    if (was === m.seq) return false;
    this.open({
      key: `replay/${m.seq}`,
      kind: 'replay',
      seq: m.seq,
      text: `the server showed you message #${was} again as #${m.seq}`,
    });
    this.withheld(m.seq, m.seq);
    // what came at this seq was received: history is not asked for it again
    this.askedUpTo(m.seq);
    return true;
  }

  /** What `m` confirms: the run of seqs received without a gap, and the seq its sender's `prev` names. */
  private confirm(m: Observed): void {
    const s = this.state;
    let c = s.confirmed ?? s.last;
    const named = m.transcript?.prev?.seq;
    if (named !== undefined && named < m.seq && named > c) c = named;
    while (s.hashes[c + 1] !== undefined) c++;
    s.confirmed = c;
  }

  /** The seq of the copy `prev` is to be compared with, when this client should have one. */
  prevToCompare(m: Observed): number | undefined {
    const prev = m.transcript?.prev;
    if (!prev || this.state.first === null || prev.seq < this.state.first || prev.seq >= m.seq)
      return undefined;
    return prev.seq;
  }

  /** Check 2: one more than the highest counter seen of this (sender, device); a jump or a repeat is said. */
  private counter(m: Observed, device: string, n: number): void {
    const dkey = `${m.sender}\n${device}`;
    const d = this.state.devices[dkey];
    const missingKey = `missing/${m.sender}/${device}`;
    if (!d) {
      this.forgetDevice(m.sender);
      this.state.devices[dkey] = { high: n, missing: [], ids: { [n]: m.id }, at: m.seq };
      return;
    }
    d.at = Math.max(d.at ?? 0, m.seq);
    if (n > d.high) {
      if (n > d.high + 1) d.missing.push([d.high + 1, n - 1]);
      d.high = n;
    } else {
      const at = d.missing.findIndex(([a, b]) => a <= n && n <= b);
      if (at < 0) {
        const had = d.ids[n];
        if (had !== undefined && had !== m.id)
          this.open({
            key: `repeat/${m.sender}/${device}/${n}`,
            kind: 'repeat',
            sender: m.sender,
            counter: n,
            text: `${m.sender}'s device sent two messages numbered ${n}`,
          });
        return;
      }
      const [a, b] = d.missing[at];
      const rest: [number, number][] = [];
      if (a < n) rest.push([a, n - 1]);
      if (n < b) rest.push([n + 1, b]);
      d.missing.splice(at, 1, ...rest);
    }
    d.ids[n] = m.id;
    delete d.ids[n - KEPT];
    const k = count(d.missing);
    if (k === 0) this.resolve(missingKey);
    else
      this.open({
        key: missingKey,
        kind: 'missing',
        sender: m.sender,
        count: k,
        text: `${k} ${plural(k, 'message', 'messages')} from ${m.sender} ${plural(k, 'is', 'are')} missing`,
      });
  }

  /** Room for one more device of `sender`: past {@link MAX_DEVICES}, the least recently heard goes. */
  private forgetDevice(sender: string): void {
    const mine = Object.entries(this.state.devices).filter(([k]) => k.startsWith(`${sender}\n`));
    if (mine.length < MAX_DEVICES) return;
    const [oldest] = mine.reduce((a, b) => ((b[1].at ?? 0) < (a[1].at ?? 0) ? b : a));
    delete this.state.devices[oldest];
  }

  /** Check 3: what the sender saw as message `prev.seq` is what this client has. */
  private prev(m: Observed, prev: PrevRef, ownHash: string | undefined): void {
    const { first } = this.state;
    if (first === null || prev.seq < first) return; // before this client's checks begin
    const differs = prev.seq >= m.seq || (ownHash !== undefined && ownHash !== prev.hash);
    if (!differs) return;
    this.open({
      key: `fork/${prev.seq}/${m.sender}`,
      kind: 'fork',
      seq: prev.seq,
      sender: m.sender,
      text: `${m.sender} saw a different message #${prev.seq} than you did: the server showed you different histories`,
    });
  }
}
