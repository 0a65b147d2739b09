"""Peers' keys: pinned on first use, changes followed through `changes` (protocol.md "What every
client checks itself" 3 and "Accounts over time")."""

import sc_crypto as c


class KeyChanged(Exception):
    """A peer's keys are not the pinned ones: their messages are refused until accepted."""

    def __init__(self, username: str, kind: str, text: str):
        self.username, self.kind, self.text = username, kind, text
        super().__init__(text)


def continuity_text(username: str) -> str:
    return f"{username} replaced their keys, signed with their old key"


def reset_text(username: str) -> str:
    return f"{username}'s keys were reset by the administrator: compare fingerprints before you trust them"


def all_keys(fps: dict) -> str:
    """One line to compare out of band: the four fingerprints in the protocol's order."""
    return ":".join(fps[k] for k in ("encryption", *c.ALGORITHMS))


class Trust:
    def __init__(self, http, state: dict, save):
        self.http, self.state, self.save = http, state, save
        self.state.setdefault("pins", {})

    def fetch(self, username: str) -> dict:
        """GET /users/{username}/keys, every key checked as registration checks it and every
        fingerprint recomputed; `sets` is the chain oldest first, each {fingerprints, signing, until}."""
        info = self.http.call("GET", f"/users/{username}/keys")
        if info.get("username") != username:
            raise ValueError(f"the server answered keys for {info.get('username')!r}, not {username!r}")
        current = {"fingerprints": info["fingerprints"], "signing": info["signingKeys"], "until": None}
        c.load_public(info["encryptionKey"], "encryption")
        if c.fingerprints(info["encryptionKey"], info["signingKeys"]) != info["fingerprints"]:
            raise ValueError(f"the fingerprints of {username}'s keys do not match the keys")
        changes = info.get("changes") or []
        sets = []
        for ch in changes:
            prev = ch["previous"]
            sets.append({"fingerprints": prev["fingerprints"], "signing": prev["signingKeys"], "until": ch["at"]})
        sets.append(current)
        for i, s in enumerate(sets):
            for alg in c.ALGORITHMS:
                c.load_public(s["signing"][alg], alg)
                if c.fingerprint(s["signing"][alg]) != s["fingerprints"][alg]:
                    raise ValueError(f"{username}'s keys of step {i} do not match their fingerprints")
            if i < len(changes) and changes[i]["fingerprints"] != sets[i + 1]["fingerprints"]:
                raise ValueError(f"{username}'s key changes do not form a chain")
        info["sets"] = sets
        return info

    def step_ok(self, username: str, info: dict, i: int) -> str:
        """Step i (sets[i] -> sets[i+1]): 'continuity' when its continuity signature verifies under
        sets[i]'s signing key, 'administrator' for a reset, 'bad' otherwise."""
        ch = info["changes"][i]
        cont = ch.get("continuity")
        if cont is None:
            return "administrator" if ch.get("by") == "administrator" else "bad"
        alg = cont.get("signatureAlgorithm")
        if alg not in c.ALGORITHMS:
            return "bad"
        key = c.load_public(info["sets"][i]["signing"][alg], alg)
        data = c.key_change_input(username, ch["fingerprints"], cont["issuedAt"])
        return "continuity" if c.verify(key, alg, data, cont["signature"]) else "bad"

    def pinned_index(self, username: str, info: dict) -> int:
        pins = self.state["pins"]
        if username not in pins:  # first use
            pins[username] = info["fingerprints"]
            self.save()
        for i, s in enumerate(info["sets"]):
            if s["fingerprints"] == pins[username]:
                return i
        return -1

    def change_kind(self, username: str, info: dict, start: int) -> KeyChanged:
        kinds = [self.step_ok(username, info, i) for i in range(max(start, 0), len(info["sets"]) - 1)]
        if start < 0 or not kinds or "bad" in kinds:
            text = f"{username}'s keys CHANGED and no signature by the keys you pinned vouches for them"
            return KeyChanged(username, "unverified", text)
        if "administrator" in kinds:
            return KeyChanged(username, "administrator", reset_text(username))
        return KeyChanged(username, "continuity", continuity_text(username))

    def status(self, username: str) -> dict:
        """What this client makes of a peer's keys now: {kind, text, fingerprints, all}."""
        info = self.fetch(username)
        p = self.pinned_index(username, info)
        out = {"username": username, "fingerprints": info["fingerprints"], "all": all_keys(info["fingerprints"]),
               "removed": bool(info.get("removed")), "changes": len(info["sets"]) - 1}
        if p == len(info["sets"]) - 1:
            out.update(kind="pinned", text=None)
        else:
            err = self.change_kind(username, info, p)
            out.update(kind=err.kind, text=err.text)
        return out

    def signing_key(self, username: str, algorithm: str, received_at: str):
        """The public key to verify a message of `username` received at `received_at`: of the key
        set current then, if it is the pinned one or older and linked to it; else KeyChanged."""
        info = self.fetch(username)
        p = self.pinned_index(username, info)
        sets = info["sets"]
        s = next((i for i, st in enumerate(sets) if st["until"] is not None and received_at < st["until"]),
                 len(sets) - 1)
        if p < 0 or s > p:
            raise self.change_kind(username, info, p)
        for i in range(s, p):  # an older set: every step from it to the pin must hold
            if self.step_ok(username, info, i) == "bad":
                raise KeyChanged(username, "unverified", f"{username}'s older keys are not vouched for")
        return c.load_public(sets[s]["signing"][algorithm], algorithm)

    def accept(self, username: str, all_fingerprints: str) -> dict:
        """Pins exactly the fingerprints shown (`all` of status), and only if they are current."""
        info = self.fetch(username)
        if all_keys(info["fingerprints"]) != all_fingerprints:
            raise ValueError(f"{username}'s keys are not the ones you gave; nothing trusted")
        self.state["pins"][username] = info["fingerprints"]
        self.save()
        return info["fingerprints"]
