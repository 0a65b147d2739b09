"""HTTP (JSON and problem+json) and the Server-Sent Events stream of protocol.md "Events",
with the standard library only."""

import http.client
import json
import threading
import urllib.parse


class ApiError(Exception):
    """A problem+json answer: status, code, detail."""

    def __init__(self, status: int, body):
        self.status = status
        self.body = body if isinstance(body, dict) else {}
        self.code = self.body.get("code")
        super().__init__(f"{status} {self.code}: {self.body.get('detail', body)}")


class Http:
    def __init__(self, base_url: str):
        self.base = urllib.parse.urlsplit(base_url)
        self.token = None

    def _connection(self, timeout=30):
        cls = http.client.HTTPSConnection if self.base.scheme == "https" else http.client.HTTPConnection
        return cls(self.base.hostname, self.base.port, timeout=timeout)

    def call(self, method: str, path: str, body=None, query=None, auth=True):
        if query:
            path = f"{path}?{urllib.parse.urlencode(query)}"
        headers = {"accept": "application/json, application/problem+json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        if auth and self.token:
            headers["authorization"] = f"Bearer {self.token}"
        conn = self._connection()
        try:
            conn.request(method, path, body=data, headers=headers)
            res = conn.getresponse()
            raw = res.read()
        finally:
            conn.close()
        parsed = json.loads(raw) if raw else None
        if res.status >= 400:
            raise ApiError(res.status, parsed)
        return parsed


class EventStream:
    """GET /events on a thread: calls `on_event(type, data, id)` for each event, reconnecting
    with Last-Event-ID until closed. `on_event` runs on the stream's thread."""

    def __init__(self, http_: Http, on_event, on_state=None):
        self.http = http_
        self.on_event = on_event
        self.on_state = on_state or (lambda state, detail: None)
        self.last_id = None
        self.closed = False
        self.conn = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()

    def close(self):
        self.closed = True
        conn = self.conn
        if conn is not None:
            try:
                conn.sock and conn.sock.shutdown(2)
            except OSError:
                pass
            conn.close()

    def _run(self):
        attempts = 0
        while not self.closed and attempts < 20:
            try:
                self._once()
                attempts = 0
            except Exception as e:  # noqa: BLE001 - a cut stream reconnects
                attempts += 1
                if self.closed:
                    break
                self.on_state("reconnecting", str(e))
                threading.Event().wait(min(0.1 * attempts, 2))

    def _once(self):
        conn = self.http._connection(timeout=120)
        self.conn = conn
        headers = {"accept": "text/event-stream", "authorization": f"Bearer {self.http.token}"}
        if self.last_id is not None:
            headers["last-event-id"] = self.last_id
        conn.request("GET", "/events", headers=headers)
        res = conn.getresponse()
        if res.status != 200:
            body = res.read()
            raise ApiError(res.status, json.loads(body) if body else None)
        self.on_state("connected", None)
        event, data, event_id = None, [], None
        while not self.closed:
            line = res.readline()
            if not line:
                raise ConnectionError("stream ended")
            line = line.decode("utf-8").rstrip("\r\n")
            if line == "":
                if data:
                    if event_id is not None:
                        self.last_id = event_id
                    self.on_event(event or "message", json.loads("\n".join(data)), event_id)
                event, data, event_id = None, [], None
            elif line.startswith(":"):
                continue
            else:
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "event":
                    event = value
                elif field == "data":
                    data.append(value)
                elif field == "id":
                    event_id = value
