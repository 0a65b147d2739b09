#!/usr/bin/python3
"""An independent Secure Chat client, written from protocol.md and openapi.yaml alone.

    /usr/bin/python3 securechat_client.py --server URL --home DIR --user NAME

Reads one JSON command a line on standard input ({"id": 1, "cmd": "login", "password": "…"}),
answers each with one line ({"reply": 1, "ok": true, …} or {"reply": 1, "ok": false, "error",
"code"}), and writes what the event stream brings as lines of their own ({"event": "message", …},
{"warning": …}, {"resolved": …}). See interop/README.md for the commands.
"""

import argparse
import datetime
import json
import os
import sys
import threading

import sc_crypto as c
from sc_client import Client, Refused, now
from sc_http import ApiError, EventStream

_out = threading.Lock()


def emit(obj: dict) -> None:
    with _out:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


class Session:
    def __init__(self, client: Client):
        self.client = client
        self.stream = None

    # ---- keys and accounts --------------------------------------------------------------------

    def keygen(self, rsaBits=3072):
        if os.path.exists(os.path.join(self.client.store, "encryption.key.pem")):
            raise Refused(f"a key store already exists in {self.client.store}")
        c.write_key_store(self.client.store, c.generate_keys(rsaBits))
        self.client.load_keys()
        return {"fingerprints": self.client.state["pins"][self.client.username]}

    def register(self, code, password):
        self.client.load_keys()
        body = {"username": self.client.username, "password": password, "code": code,
                **c.public_keys(self.client.keys)}
        res = self.client.http.call("POST", "/users", body=body, auth=False)
        if res["fingerprints"] != self.client.state["pins"][self.client.username]:
            raise Refused("the server registered other fingerprints than this client's keys")
        return res

    def login(self, password):
        self.client.load_keys()
        res = self.client.http.call("POST", "/auth/login", body={"username": self.client.username,
                                                                  "password": password}, auth=False)
        self.client.http.token = res["token"]
        self.client.pinned_server_key()
        return {"username": res["username"], "expiresAt": res["expiresAt"]}

    def logout(self, everywhere=False):
        self.client.http.call("POST", "/auth/logout", query={"everywhere": "true"} if everywhere else None)
        return {}

    def change_password(self, current, new):
        self.client.http.call("PUT", "/users/me/password", body={"currentPassword": current, "newPassword": new})
        return {}

    def replace_keys(self, password, alg="rsa-pss-sha256", rsaBits=3072):
        """PUT /users/me/keys with a continuity signature by the current `alg` key; the old key
        store moves to replaced-<time>/ and still opens what was wrapped for it."""
        cl = self.client
        new = c.generate_keys(rsaBits)
        pub = c.public_keys(new)
        fps = c.fingerprints(pub["encryptionKey"], pub["signingKeys"])
        issued = now()
        sig = c.sign(cl.keys[alg], alg, c.key_change_input(cl.username, fps, issued))
        body = {"currentPassword": password, **pub,
                "continuity": {"signatureAlgorithm": alg, "signature": sig, "issuedAt": issued}}
        with cl.lock:  # the new epochs' envelopes (chat.key) wait until the new keys are in place
            res = cl.http.call("PUT", "/users/me/keys", body=body)
            if res["fingerprints"] != fps:
                raise Refused("the server registered other fingerprints than the new keys'")
            stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
            c.write_key_store(os.path.join(cl.store, f"replaced-{stamp}"), cl.keys)
            c.write_key_store(cl.store, new)
            cl.load_keys()
        return {"fingerprints": fps}

    def reset(self, code, newPassword=None, rsaBits=3072):
        """PUT /users/{username}/keys with the administrator's reset code: no token, no continuity."""
        cl = self.client
        new = c.generate_keys(rsaBits)
        body = {"code": code, **c.public_keys(new), **({"newPassword": newPassword} if newPassword else {})}
        with cl.lock:
            res = cl.http.call("PUT", f"/users/{cl.username}/keys", body=body, auth=False)
            if os.path.exists(os.path.join(cl.store, "encryption.key.pem")):
                stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
                c.write_key_store(os.path.join(cl.store, f"replaced-{stamp}"), c.read_key_store(cl.store))
            c.write_key_store(cl.store, new)
            cl.load_keys()
        if res["fingerprints"] != cl.state["pins"][cl.username]:
            raise Refused("the server registered other fingerprints than the new keys'")
        return {"fingerprints": res["fingerprints"]}

    def status(self, username):
        with self.client.lock:
            return self.client.trust.status(username)

    def trust(self, username, all):  # noqa: A002 - the protocol's word
        with self.client.lock:
            return {"fingerprints": self.client.trust.accept(username, all)}

    # ---- chats ------------------------------------------------------------------------------

    def create_chat(self, invitees):
        cl = self.client
        with cl.lock:
            res = cl.http.call("POST", "/chats", body={"invitees": invitees})
            chat = res["chat"]
            if chat["epoch"] != 1 or chat["createdBy"] != cl.username or chat["id"] in cl.state["epochs"]:
                raise Refused("the answer is not a new chat of this user")
            cl.accept_envelope(res["keyEnvelope"], chat["id"])
            return {"chatId": chat["id"], "unavailable": res["unavailable"]}

    def join(self, chatId):
        with self.client.lock:
            res = self.client.http.call("POST", f"/chats/{chatId}/join")
            self.client.accept_envelope(res["keyEnvelope"], chatId)
            return {"chatId": chatId, "epoch": res["chat"]["epoch"]}

    def invite(self, chatId, invitees):
        res = self.client.http.call("POST", f"/chats/{chatId}/invite", body={"invitees": invitees})
        return {"chatId": chatId, "epoch": res["chat"]["epoch"], "unavailable": res["unavailable"]}

    def send(self, chatId, text, alg="rsa-pss-sha256"):
        return self.client.send(chatId, text, alg)

    def history(self, chatId):
        return self.client.history(chatId)

    def warnings(self, chatId):
        with self.client.lock:
            return {"warnings": list(self.client.transcript(chatId).warnings.values())}

    # ---- the event stream -------------------------------------------------------------------

    def follow(self):
        if self.stream is None:
            connected = threading.Event()

            def state(s, detail):
                emit({"stream": s, "detail": detail})
                if s == "connected":
                    connected.set()

            self.stream = EventStream(self.client.http, self.on_event, state)
            self.stream.start()
            connected.wait(30)
        return {}

    def on_event(self, kind, data, event_id):
        cl = self.client
        try:
            if kind == "message":
                cl.on_message(data)
            elif kind in ("chat.invited", "chat.created", "chat.key"):
                chat_id = data["chatId"] if kind == "chat.key" else data["chat"]["id"]
                with cl.lock:
                    env = data.get("keyEnvelope")
                    if env is not None:
                        cl.accept_envelope(env, chat_id)
                emit({"event": kind, "chatId": chat_id, "epoch": env and env["epoch"],
                      "invitedBy": data.get("invitedBy")})
            elif kind == "account.keys":
                with cl.lock:
                    st = cl.trust.status(data["username"])
                emit({"event": kind, "username": data["username"], "kind": st["kind"], "text": st["text"],
                      "all": st["all"]})
            elif kind != "presence":
                emit({"event": kind, "data": data})
        except (Refused, ApiError, ValueError, KeyError, TypeError) as e:
            emit({"event": "refused", "type": kind, "reason": f"{type(e).__name__}: {e}"})


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", required=True)
    p.add_argument("--home", required=True, help="folder of this installation: keys/users/<user>/")
    p.add_argument("--user", required=True)
    args = p.parse_args()
    session = Session(Client(args.server, args.home, args.user, emit))
    commands = {name: getattr(session, name) for name in (
        "keygen", "register", "login", "logout", "change_password", "replace_keys", "reset", "status", "trust",
        "create_chat", "invite", "join", "send", "history", "warnings", "follow")}
    emit({"ready": True, "device": session.client.state["device"]})
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        rid, cmd = req.pop("id", None), req.pop("cmd", None)
        if cmd == "quit":
            emit({"reply": rid, "ok": True})
            break
        try:
            if cmd not in commands:
                raise Refused(f"unknown command {cmd!r}")
            emit({"reply": rid, "ok": True, **commands[cmd](**req)})
        except ApiError as e:
            emit({"reply": rid, "ok": False, "error": str(e), "code": e.code, "status": e.status})
        except (Refused, ValueError, KeyError, TypeError, OSError) as e:
            emit({"reply": rid, "ok": False, "error": f"{type(e).__name__}: {e}"})
    if session.stream:
        session.stream.close()


if __name__ == "__main__":
    main()
