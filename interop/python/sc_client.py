"""The client side of protocol.md: envelopes checked and unwrapped, messages verified, opened and
checked against the transcript, version-2 messages sealed, signed and posted."""

import datetime
import glob
import json
import os
import threading
import uuid

import sc_crypto as c
from sc_http import ApiError, Http
from sc_transcript import ChatTranscript
from sc_trust import KeyChanged, Trust


def now() -> str:
    t = datetime.datetime.now(datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


class Refused(Exception):
    """Something the server sent that this client does not take (shown, never dropped)."""


class Client:
    def __init__(self, server: str, home: str, username: str, emit):
        self.server, self.home, self.username, self.emit = server, home, username, emit
        self.store = os.path.join(home, "keys", "users", username)
        self.http = Http(server)
        self.lock = threading.RLock()
        self.state_file = os.path.join(self.store, "python-state.json")
        self.state = {}
        if os.path.exists(self.state_file):
            with open(self.state_file) as f:
                self.state = json.load(f)
        self.state.setdefault("device", c.new_device())  # once per installation
        self.state.setdefault("counters", {})
        self.state.setdefault("epochs", {})
        self.state.setdefault("servers", {})
        self.trust = Trust(self.http, self.state, self.save)
        self.keys, self.old_keys = None, []
        self.chat_keys = {}  # (chatId, epoch) -> 32 bytes
        self.transcripts = {}
        self.shown = set()
        self.server_key = None

    def save(self):
        os.makedirs(self.store, mode=0o700, exist_ok=True)
        tmp = self.state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.state, f)
        os.replace(tmp, self.state_file)

    def load_keys(self):
        self.keys = c.read_key_store(self.store)
        self.old_keys = [c.read_key_store(d) for d in sorted(glob.glob(os.path.join(self.store, "replaced-*")))]
        own = c.public_keys(self.keys)
        self.state["pins"][self.username] = c.fingerprints(own["encryptionKey"], own["signingKeys"])
        self.save()

    # ---- the server key and envelopes (checks 1) --------------------------------------------

    def pinned_server_key(self):
        if self.server_key is None:
            sk = self.http.call("GET", "/server/key")
            if sk.get("algorithm") != "rsa-pss-sha256":
                raise Refused("the server key is not rsa-pss-sha256")
            key = c.load_public(sk["publicKey"], "rsa-pss-sha256")
            fp = c.fingerprint(sk["publicKey"])
            if fp != sk["fingerprint"]:
                raise Refused("the server key's fingerprint does not match the key")
            pinned = self.state["servers"].setdefault(self.server, fp)
            self.save()
            if pinned != fp:
                raise Refused(f"the server's signing key CHANGED (pinned {pinned}, now {fp})")
            self.server_key = key
        return self.server_key

    def accept_envelope(self, env, chat_id: str, epoch=None) -> bytes:
        """Checks and unwraps an envelope for `chat_id`; `epoch` names the one asked for (an old
        epoch, to read history), else the envelope announces a new epoch and may not go back."""
        if not isinstance(env, dict):
            raise Refused("no key envelope")
        if "serverSignature" not in env:
            raise Refused("members-mode envelopes are not supported by this client")
        if env.get("algorithm") != "RSA-OAEP-SHA256":
            raise Refused(f"unknown envelope algorithm {env.get('algorithm')!r}")
        if not c.verify(self.pinned_server_key(), "rsa-pss-sha256", c.envelope_input(env), env["serverSignature"]):
            raise Refused("the envelope's server signature does not verify")
        if env["recipient"] != self.username or env["chatId"] != chat_id:
            raise Refused(f"an envelope for {env['recipient']} in {env['chatId']}, not for this user and chat")
        highest = self.state["epochs"].get(chat_id, 0)
        if epoch is not None and env["epoch"] != epoch:
            raise Refused(f"asked for epoch {epoch}, got {env['epoch']}")
        if epoch is None and env["epoch"] < highest:
            raise Refused(f"an envelope for epoch {env['epoch']}, older than {highest} already seen")
        key = None
        for keys in [self.keys, *reversed(self.old_keys)]:
            try:
                key = c.unwrap(keys["encryption"], env["wrappedKey"])
                break
            except ValueError:
                continue
        if key is None:
            raise Refused(f"no key of this user opens the envelope of epoch {env['epoch']}")
        self.chat_keys[(chat_id, env["epoch"])] = key
        if env["epoch"] > highest:
            self.state["epochs"][chat_id] = env["epoch"]
            self.save()
        return key

    def chat_key(self, chat_id: str, epoch: int) -> bytes:
        if (chat_id, epoch) not in self.chat_keys:
            env = self.http.call("GET", f"/chats/{chat_id}/key", query={"epoch": epoch})
            self.accept_envelope(env, chat_id, epoch)
        return self.chat_keys[(chat_id, epoch)]

    # ---- reading (checks 2 and the transcript) ----------------------------------------------

    def fetch(self, chat_id: str, after: int, limit: int):
        out = []
        while limit > 0:
            page = self.http.call("GET", f"/chats/{chat_id}/messages",
                                  query={"after": after, "limit": min(limit, 1000)})["messages"]
            out += page
            if len(page) < min(limit, 1000):
                break
            after, limit = page[-1]["seq"], limit - len(page)
        return out

    def transcript(self, chat_id: str) -> ChatTranscript:
        t = self.transcripts.get(chat_id)
        if t is None:
            t = ChatTranscript(chat_id, lambda a, n: self.fetch(chat_id, a, n), self.emit)
            self.transcripts[chat_id] = t
            for item in self.fetch(chat_id, 0, 10**9):
                t.receive(item)
        return t

    def read(self, item: dict, chat_id: str) -> dict:
        """One message: {chatId, seq, sender, text, ...} or {rejected: reason}."""
        out = {"chatId": chat_id, "seq": item.get("seq"), "sender": item.get("sender")}
        try:
            if item.get("chatId") != chat_id:
                raise Refused(f"a message of chat {item.get('chatId')} shown as one of {chat_id}")
            msg = item["message"]
            alg = msg["signatureAlgorithm"]
            if alg not in c.ALGORITHMS:
                raise Refused(f"unknown signature algorithm {alg!r}")
            key = self.trust.signing_key(item["sender"], alg, item["receivedAt"])
            if not c.verify(key, alg, c.signing_input(chat_id, item["sender"], msg), msg["signature"]):
                raise Refused("the signature does not verify")
            text = c.open_message(self.chat_key(chat_id, msg["epoch"]), chat_id, item["sender"], msg)
            v2 = "device" in msg
            out.update(id=msg["id"], text=text, signatureAlgorithm=alg, verified=True, version=2 if v2 else 1,
                       covered=v2, epoch=msg["epoch"])
            if not v2:
                out["note"] = "not covered by transcript checks"
        except KeyChanged as e:
            out.update(rejected=e.text, keyChange=e.kind)
        except (Refused, ApiError, ValueError, KeyError, TypeError) as e:
            out.update(rejected=f"{type(e).__name__}: {e}")
        return out

    def on_message(self, item: dict):
        chat_id = item.get("chatId")
        with self.lock:
            fresh = chat_id not in self.transcripts
            t = self.transcript(chat_id)
            if not fresh:
                t.receive(item)
            key = (chat_id, item["message"].get("id"))
            if key in self.shown:
                return
            self.shown.add(key)
            self.emit({"event": "message", **self.read(item, chat_id)})

    def history(self, chat_id: str) -> dict:
        with self.lock:
            t = self.transcript(chat_id)
            items = self.fetch(chat_id, 0, 10**9)
            for item in items:
                t.receive(item)
            msgs = [self.read(item, chat_id) for item in items]
            return {"messages": msgs, "warnings": list(t.warnings.values())}

    # ---- writing a version-2 message --------------------------------------------------------

    def send(self, chat_id: str, text: str, alg: str) -> dict:
        with self.lock:
            t = self.transcript(chat_id)
            for item in self.fetch(chat_id, t.highest, 10**9):  # what has come since
                t.receive(item)
            counters = self.state["counters"]
            if chat_id not in counters:  # lost state: the highest number of this device in history
                mine = [s.get("counter", 0) for s in t.seen.values() if s.get("device") == self.state["device"]]
                counters[chat_id] = max(mine, default=0)
            counters[chat_id] += 1
            self.save()  # before posting: a crash leaves a gap, never a repeat
            epoch = self.http.call("GET", f"/chats/{chat_id}")["epoch"]
            for _ in range(3):
                msg = {"id": str(uuid.uuid4()), "epoch": epoch, "sentAt": now(), "device": self.state["device"],
                       "counter": counters[chat_id], "prev": t.latest()}
                c.seal(self.chat_key(chat_id, epoch), chat_id, self.username, msg, text)
                msg["signatureAlgorithm"] = alg
                msg["signature"] = c.sign(self.keys[alg], alg, c.signing_input(chat_id, self.username, msg))
                try:
                    res = self.http.call("POST", f"/chats/{chat_id}/messages", body=msg)
                    break
                except ApiError as e:
                    if e.code != "STALE_EPOCH":
                        raise
                    epoch = self.http.call("GET", f"/chats/{chat_id}")["epoch"]
            else:
                raise Refused("the epoch kept changing while posting")
            item = {"chatId": chat_id, "seq": res["seq"], "sender": self.username,
                    "receivedAt": res["receivedAt"], "message": msg}
            t.receive(item)
            return {"seq": res["seq"], "id": msg["id"], "counter": msg["counter"], "prev": msg["prev"],
                    "epoch": epoch}
