"""The agent: sync with the server, read the card, decide offline, upload the queue, and a
kiosk endpoint on localhost only.

The kiosk page (served by the municipality's site, opened in the kiosk browser) calls
`POST http://127.0.0.1:<port>/tap` with its Origin; the agent answers only the configured
origin (CORS for exactly that origin, 403 otherwise) and listens on the loopback interface
only. A tap reads the authentication certificate (no PIN: presence of the card, as the
`presence` ceremony), decides against the synced lists and queues the event.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from cryptography import x509

from . import signing
from .index import SortedKeys, card_key
from .state import Decision, LocalState


class SyncError(Exception):
    pass


class Agent:
    def __init__(self, server: str, municipality: str, terminal_id: str, key, state: LocalState,
                 service: str = "tickets", reader: str | None = None):
        self.server, self.municipality, self.terminal_id = server.rstrip("/"), municipality, terminal_id
        self.key, self.state, self.service, self.reader = key, state, service, reader
        self.lock = threading.Lock()

    # -- the server ----------------------------------------------------------------------

    def _request(self, method: str, path: str, body: bytes = b"") -> dict:
        path = f"/{self.municipality}/api/terminal/{path}"
        stamp = str(int(time.time()))
        headers = {signing.HEADER_ID: self.terminal_id, signing.HEADER_TIME: stamp,
                   signing.HEADER_SIG: signing.sign(self.key, method, path, self.terminal_id, stamp, body),
                   "Content-Type": "application/json"}
        req = urllib.request.Request(self.server + path, data=body or None, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise SyncError(f"server answered {exc.code}: {exc.read()[:200].decode(errors='replace')}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise SyncError(f"server unreachable: {exc}") from None

    def sync_lists(self) -> str:
        data = self._request("GET", "lists")
        revoked = SortedKeys.from_bytes(base64.b64decode(data["revoked"]))
        allow = {s: SortedKeys.from_bytes(base64.b64decode(v)) for s, v in data["allow"].items()}
        self.state.install(data["version"], revoked, allow)
        return data["version"]

    def upload(self) -> int:
        """Sends queued events until the queue is empty; returns how many were acknowledged."""
        sent = 0
        while batch := self.state.pending():
            answer = self._request("POST", "events", json.dumps({"events": batch}).encode())
            ids = [i for i in answer["acknowledged"]]
            self.state.acknowledge(ids)
            sent += len(ids)
            if len(ids) < len(batch):
                break
        return sent

    def sync(self) -> None:
        self.upload()
        self.sync_lists()

    # -- the card ------------------------------------------------------------------------

    def read_card(self, transport=None) -> tuple[int, int]:
        """(card key, certificate serial) of the card in the reader; the auth certificate
        is read without a PIN."""
        from madoguchi.card.jpki import JpkiAP
        from madoguchi.card.transport import Channel, PcscTransport

        transport = transport or PcscTransport(self.reader, timeout=5)
        try:
            der = JpkiAP(Channel(transport)).certificate("auth")
        finally:
            transport.close()
        return card_key(der), x509.load_der_x509_certificate(der).serial_number

    def tap(self, transport=None) -> Decision:
        card, serial = self.read_card(transport)
        with self.lock:
            return self.state.decide(self.service, card, serial, dt.datetime.now(dt.timezone.utc))


def kiosk_server(agent: Agent, origin: str, port: int = 0) -> ThreadingHTTPServer:
    """The localhost endpoint the kiosk page talks to; only `origin` gets an answer."""
    allowed = origin.rstrip("/")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # no access log on a kiosk
            pass

        def _send(self, status: int, payload: dict, cors: bool = True) -> None:
            body = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            if cors:
                self.send_header("Access-Control-Allow-Origin", allowed)
                self.send_header("Vary", "Origin")
            self.end_headers()
            self.wfile.write(body)

        def _origin_ok(self) -> bool:
            if self.headers.get("Origin", "") != allowed:
                self._send(403, {"error": "origin not allowed"}, cors=False)
                return False
            return True

        def do_OPTIONS(self):  # noqa: N802
            if not self._origin_ok():
                return
            self.send_response(204)
            self.send_header("Access-Control-Allow-Origin", allowed)
            self.send_header("Access-Control-Allow-Methods", "POST, GET")
            self.send_header("Access-Control-Allow-Headers", "Content-Type")
            self.send_header("Access-Control-Allow-Private-Network", "true")
            self.end_headers()

        def do_GET(self):  # noqa: N802
            if not self._origin_ok():
                return
            if urlsplit(self.path).path != "/status":
                return self._send(404, {"error": "not found"})
            self._send(200, {"service": agent.service, "lists": agent.state.version,
                             "queued": len(agent.state.pending(10_000))})

        def do_POST(self):  # noqa: N802
            if not self._origin_ok():
                return
            if urlsplit(self.path).path != "/tap":
                return self._send(404, {"error": "not found"})
            try:
                decision = agent.tap()
            except Exception as exc:  # noqa: BLE001 — no card, reader gone, unreadable card
                return self._send(409, {"admitted": False, "reason": "no_card", "detail": str(exc)[:200]})
            self._send(200, {"admitted": decision.admitted, "reason": decision.reason})

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)
