/**
 * The three transcript checks of protocol.md ("Transcript integrity") on one chat's saved state,
 * without I/O: gaps in `seq` (transcript-seqs.ts), per-(sender, device) counters, and `prev.hash`
 * against this client's own copy. transcript.ts feeds them in `seq` order (gaps fetched first) and
 * keeps the state, whose shape is in transcript-types.ts.
 */
import type { PrevRef } from './canonical.js';
import { SeqChecks } from './transcript-seqs.js';
import { KEPT, MAX_DEVICES, type Observed } from './transcript-types.js';

const plural = (k: number, one: string, many: string) => (k === 1 ? one : many);
const count = (ranges: [number, number][]) => ranges.reduce((n, [a, b]) => n + (b - a + 1), 0);

/** A chat's checks, over its state: each call returns the warnings it changed. */
export class ChatChecks extends SeqChecks {
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
