"""The three transcript checks of protocol.md "Transcript integrity", per chat: gaps in `seq`,
per-(sender, device) counters, and forks (`prev.hash` against this client's own copy)."""

import sc_crypto as c


class ChatTranscript:
    def __init__(self, chat_id: str, fetch, emit):
        """`fetch(after, limit)` returns history items; `emit(obj)` reports a warning or a resolution."""
        self.chat_id, self.fetch, self.emit = chat_id, fetch, emit
        self.seen = {}  # seq -> {id, hash, sender}
        self.first_seq = None  # where what this client can read begins
        self.highest = 0
        self.counters = {}  # (sender, device) -> {"high", "ids": {counter: id}, "missing": set}
        self.warnings = {}  # key -> warning

    def latest(self):
        """`prev` for a message this device writes now."""
        if not self.highest:
            return None
        return {"seq": self.highest, "hash": self.seen[self.highest]["hash"]}

    def _warn(self, key, kind, text, **extra):
        if key not in self.warnings:
            w = {"kind": kind, "text": text, "chatId": self.chat_id, **extra}
            self.warnings[key] = w
            self.emit({"warning": w})
        elif self.warnings[key]["text"] != text:
            self.warnings[key].update(text=text, **extra)
            self.emit({"warning": self.warnings[key]})

    def _resolve(self, key):
        w = self.warnings.pop(key, None)
        if w:
            self.emit({"resolved": w})

    def receive(self, item: dict, checking_gap=True) -> bool:
        """One `message` event or history item; False when this (seq, id) was already taken in."""
        seq, msg, sender = item["seq"], item["message"], item["sender"]
        if seq in self.seen:
            if self.seen[seq]["id"] != msg["id"]:
                self._warn(("fork-seq", seq), "fork", f"the server showed two different messages as #{seq}", seq=seq)
            return False
        digest = c.message_hash(self.chat_id, sender, msg)
        self.seen[seq] = {"id": msg["id"], "hash": digest, "sender": sender, "device": msg.get("device"),
                          "counter": msg.get("counter")}
        if self.first_seq is None or seq < self.first_seq:
            self.first_seq = seq
        self._resolve(("withheld", seq))
        if checking_gap and self.highest and seq > self.highest + 1:
            self._fill_gap(self.highest, seq)
        self.highest = max(self.highest, seq)
        if "device" in msg:
            self._check_counter(sender, msg)
            self._check_fork(sender, msg)
        return True

    def _fill_gap(self, low: int, high: int):
        """Check 1: history for the missing seqs; one it does not return is withheld."""
        for it in self.fetch(low, high - low - 1):
            if low < it["seq"] < high:
                self.receive(it, checking_gap=False)
        for m in range(low + 1, high):
            if m not in self.seen:
                self._warn(("withheld", m), "withheld", f"message #{m} was withheld from you", seq=m)

    def _check_counter(self, sender: str, msg: dict):
        """Check 2: after the baseline, each counter is one more than the highest seen."""
        key = (sender, msg["device"])
        n, mid = msg["counter"], msg["id"]
        st = self.counters.get(key)
        if st is None:
            self.counters[key] = {"high": n, "ids": {n: mid}, "missing": set()}
            return
        if n in st["ids"] and st["ids"][n] != mid:
            self._warn(("repeat", key, n), "repeat", f"{sender}'s device sent two messages numbered {n}",
                       sender=sender)
            return
        st["ids"][n] = mid
        if n > st["high"] + 1:
            st["missing"].update(range(st["high"] + 1, n))
        st["missing"].discard(n)
        st["high"] = max(st["high"], n)
        k = len(st["missing"])
        if k:
            word = "message" if k == 1 else "messages"
            self._warn(("missing", key), "missing", f"{k} {word} from {sender} {'is' if k == 1 else 'are'} missing",
                       sender=sender)
        else:
            self._resolve(("missing", key))

    def _check_fork(self, sender: str, msg: dict):
        """Check 3: `prev.hash` against this client's own copy of message `prev.seq`."""
        prev = msg.get("prev")
        if not prev or self.first_seq is None or prev["seq"] < self.first_seq:
            return
        ps = prev["seq"]
        if ps not in self.seen:
            for it in self.fetch(ps - 1, 1):
                if it["seq"] == ps:
                    self.receive(it, checking_gap=False)
        own = self.seen.get(ps)
        if own is None:
            return  # withheld: check 1 says so
        if own["hash"] != prev["hash"]:
            self._warn(("fork", sender, ps), "fork",
                       f"{sender} saw a different message #{ps} than you did: the server showed you different histories",
                       sender=sender, seq=ps)
