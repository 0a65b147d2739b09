/**
 * Check 1 of protocol.md's "Transcript integrity" on one chat's state, without I/O: where the
 * chat's `seq` numbering stands (the first and last received, what is confirmed, what history was
 * asked for), the ranges withheld from this client, and the `prev` a message written now names.
 * {@link WarningLog} is how every check opens, changes and resolves a warning.
 */
import {
  type ChatTranscript,
  emptyChat,
  KEPT,
  MAX_WITHHELD,
  type Observed,
  type TranscriptWarning,
  type WarningChange,
} from './transcript-types.js';

/** A chat's warnings: each check's call records here the warnings it changed. */
export class WarningLog {
  readonly changes: WarningChange[] = [];

  constructor(
    readonly chatId: string,
    readonly state: ChatTranscript,
  ) {}

  protected open(warning: Omit<TranscriptWarning, 'chatId'>): void {
    const w = { ...warning, chatId: this.chatId };
    const had = this.state.warnings[w.key];
    if (had && had.text === w.text) return;
    this.state.warnings[w.key] = w;
    this.changes.push({ status: had ? 'changed' : 'open', warning: w });
  }

  protected resolve(key: string): void {
    const had = this.state.warnings[key];
    if (!had) return;
    delete this.state.warnings[key];
    this.changes.push({ status: 'resolved', warning: had });
  }
}

/** A chat's `seq` checks (check 1), over its state. */
export class SeqChecks extends WarningLog {
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
  protected arrived(seq: number): void {
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

  /** What `m` confirms: the run of seqs received without a gap, and the seq its sender's `prev` names. */
  protected confirm(m: Observed): void {
    const s = this.state;
    let c = s.confirmed ?? s.last;
    const named = m.transcript?.prev?.seq;
    if (named !== undefined && named < m.seq && named > c) c = named;
    while (s.hashes[c + 1] !== undefined) c++;
    s.confirmed = c;
  }
}
