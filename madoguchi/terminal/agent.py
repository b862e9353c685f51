"""The agent: sync with the server, read the card, decide offline, upload the queue, and a
kiosk endpoint on localhost only.

The kiosk page (served by the municipality's site, opened in the kiosk browser) calls
`POST http://127.0.0.1:<port>/tap` with its Origin; the agent answers only the configured
origin (CORS for exactly that origin, 403 otherwise) and listens on the loopback interface
only. A tap reads the authentication certificate (no PIN: presence of the card, as the
`presence` ceremony), decides against the synced lists and queues the event.

`POST /face` (the 書かない窓口 counter, docs/counter.md) takes 照合番号B — `{"code_b": "14
digits"}` or `{"birth": "YYYY-MM-DD", "expiry_year": 2035, "security_code": "1234"}` — and
answers the *raw* card face record, its CV certificate and the text AP's basic four facts
record, base64, exactly as read: the agent verifies nothing, the server does (a tampered
browser or agent cannot make the server accept data the card did not sign). Errors are 409
with a reason: `bad_code` (malformed), `wrong_code` (with `tries_left`), `locked`,
`card_removed` (no card, or it went away mid-read). The text AP's integrity record (EF 0003)
and CV certificate (EF 0004) come with it, for the server to authenticate the name and address.

`POST /text` (the PIN path) takes `{"pin": "4 digits"}` — the resident's 券面事項入力補助用暗証番号,
typed on this PC — and answers the text AP's basic four facts, integrity record and CV
certificate, raw; the PIN goes to the card only. Errors as for /face with `bad_pin` and
`wrong_pin` (with `tries_left`; three tries, then `locked`).

`POST /sign` (signing at the counter) takes `{"url": the ceremony's card client URL on the
configured origin, "password": the signature password typed by the resident}` and runs the
`sign` ceremony with the card (card/ceremony_client.py); errors: `bad_request`,
`bad_password`, `wrong_password` (with `tries_left`), `locked`, `card_removed`, `refused`
(the server's code).

`POST /patron` serves a library's self-checkout (docs/library.md; `run --library CODE
--library-credential-file F`): the authentication certificate read without a PIN, sent to
the server's library API with the library's credential; the server's answer passes through
(200 with the patron number, 403 revoked with the reason, 404 not linked); 409 `no_card`.

`POST /certificate` answers `{"certificate": base64 DER}`: the authentication certificate read
without a PIN (SELECT and READ BINARY only), for a staff page that checks the card's presence
itself (the 印鑑登録証 check at the counter, docs/citizencard.md); 409 `no_card`.
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


# Services whose members tap again and again (entry, exit): the terminal's `used` set does not
# apply; the server pairs the taps (madoguchi.attendance). A ticket admits once.
REPEATED_SERVICES = frozenset({"attendance"})


class SyncError(Exception):
    pass


class Agent:
    def __init__(self, server: str, municipality: str, terminal_id: str, key, state: LocalState,
                 service: str = "tickets", reader: str | None = None):
        self.server, self.municipality, self.terminal_id = server.rstrip("/"), municipality, terminal_id
        self.key, self.state, self.service, self.reader = key, state, service, reader
        self.lock = threading.Lock()

    # -- the server ----------------------------------------------------------------------

    def _request(self, method: str, path: str, body: bytes = b"", extra: dict | None = None) -> dict:
        path = f"/{self.municipality}/api/terminal/{path}"
        stamp = str(int(time.time()))
        headers = {signing.HEADER_ID: self.terminal_id, signing.HEADER_TIME: stamp,
                   signing.HEADER_SIG: signing.sign(self.key, method, path, self.terminal_id, stamp, body),
                   "Content-Type": "application/json", **(extra or {})}
        req = urllib.request.Request(self.server + path, data=body or None, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise SyncError(f"server answered {exc.code}: {exc.read()[:200].decode(errors='replace')}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise SyncError(f"server unreachable: {exc}") from None

    def sync_lists(self) -> str:
        have = self.state.revoked_version
        data = self._request("GET", "lists", extra={signing.HEADER_REVOKED_VERSION: have} if have else None)
        revoked_version = data.get("revoked_version", "")
        if data.get("revoked") is None and (not have or revoked_version != have):
            raise SyncError("the server left out a revocation index this terminal does not hold")
        revoked = SortedKeys.from_bytes(base64.b64decode(data["revoked"])) if data.get("revoked") is not None else None
        allow = {s: SortedKeys.from_bytes(base64.b64decode(v)) for s, v in data["allow"].items()}
        self.state.install(data["version"], revoked, allow, revoked_version)
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

    def read_face(self, code: str, transport=None) -> dict:
        """The raw card face record, CV certificate and text AP attribute record (base64),
        after VERIFY of 照合番号B on both APs; raises the card layer's errors."""
        from madoguchi.card import constants as C
        from madoguchi.card.face import FaceAP, check_code
        from madoguchi.card.text import TextAP
        from madoguchi.card.transport import Channel, PcscTransport

        check_code(C.FACE_CODE_B, code)  # before anything reaches the card
        transport = transport or PcscTransport(self.reader, timeout=5)
        try:
            channel = Channel(transport)
            ap = FaceAP(channel, {})
            ap.verify_code_b(code)
            record, cv = ap.read_record(), ap.read_cv_certificate()
            text = TextAP(channel)
            text.verify_code_b(code)
            answer = self._text_files(text)
        finally:
            transport.close()
        b64 = base64.b64encode
        return {"record": b64(record).decode(), "cv_certificate": b64(cv).decode(), **answer}

    @staticmethod
    def _text_files(text) -> dict:
        """The verified text AP's EF 0002, and its EF 0003 + EF 0004 where the card has them
        (a virtual card issued before them has not: the server then refuses the read)."""
        from madoguchi.card import apdu as A
        from madoguchi.card import constants as C

        b64 = base64.b64encode
        answer = {"text_record": b64(text.channel.read_tlv_file(C.EF_TEXT_ATTRIBUTES)).decode()}
        try:
            answer["text_integrity"] = b64(text.read_integrity()).decode()
            answer["text_cv_certificate"] = b64(text.read_cv_certificate()).decode()
        except A.FileNotFound:
            answer.pop("text_integrity", None)
        return answer

    def read_text(self, pin: str, transport=None) -> dict:
        """The PIN path: the text AP's basic four facts, integrity record and CV certificate
        (base64, as read) after VERIFY of the resident's 4-digit PIN (券面事項入力補助用暗証番号).
        The PIN goes to the card only: never to the server, never logged."""
        from madoguchi.card import constants as C
        from madoguchi.card.jpki import check_format
        from madoguchi.card.text import TextAP
        from madoguchi.card.transport import Channel, PcscTransport

        check_format(C.TEXT_PIN, pin)  # before anything reaches the card
        transport = transport or PcscTransport(self.reader, timeout=5)
        try:
            text = TextAP(Channel(transport))
            text.verify(pin)
            return self._text_files(text)
        finally:
            transport.close()

    def sign(self, url: str, password: str, transport=None) -> dict:
        """Signing at the counter: runs the `sign` ceremony at `url` (the server's card client
        URL) with the card in the reader — the card client of the ceremony protocol, the
        signature password typed by the resident on this PC going to the card only. The
        server verifies the CMS as for any online application. Returns the server's answer."""
        from madoguchi.card import ceremony_client
        from madoguchi.card import constants as C
        from madoguchi.card.jpki import JpkiAP, check_format
        from madoguchi.card.transport import Channel, PcscTransport

        password = password.upper() if isinstance(password, str) else password
        check_format(C.SIGN_PASSWORD, password)  # before anything reaches the card

        def no_pin() -> str:
            raise ceremony_client.CeremonyRefused("unknown_purpose", "only a `sign` ceremony is run here")

        transport = transport or PcscTransport(self.reader, timeout=5)
        try:
            secrets = ceremony_client.Secrets(pin=no_pin, password=lambda: password)
            return ceremony_client.run(url, JpkiAP(Channel(transport)), secrets,
                                       confirm=lambda description: description.get("purpose") == "sign")
        finally:
            transport.close()

    def tap(self, transport=None) -> Decision:
        card, serial = self.read_card(transport)
        with self.lock:
            return self.state.decide(self.service, card, serial, dt.datetime.now(dt.timezone.utc),
                                     once=self.service not in REPEATED_SERVICES)


    # -- a hands-free gate (madoguchi terminal gate) --------------------------------------

    def gate(self, presence, on_decision, stop: threading.Event, poll: float = 1.0) -> None:
        """Decides once per card put on the reader, nobody pressing a button: waits for a card
        (`presence`: card.transport.CardPresence), taps it, hands the decision to
        `on_decision(decision, problem)` — decision None and the problem when the card could
        not be read (taken away too soon, not a My Number Card) — then waits until the card is
        taken away, so a card left lying on the reader is decided once."""
        while not stop.is_set():
            if not presence.wait(True, poll):
                continue
            try:
                decision, problem = self.tap(), ""
            except Exception as exc:  # noqa: BLE001 — whatever the reader or card did, the gate goes on
                decision, problem = None, str(exc)[:200] or exc.__class__.__name__
            on_decision(decision, problem)
            while not stop.is_set() and not presence.wait(False, poll):
                pass

    # -- a library's self-checkout (docs/library.md) ---------------------------------------

    library: tuple[str, str] | None = None  # (the library's identifier, its credential)

    def read_certificate(self, transport=None) -> bytes:
        """The authentication certificate's DER, read without a PIN."""
        from madoguchi.card.jpki import JpkiAP
        from madoguchi.card.transport import Channel, PcscTransport

        transport = transport or PcscTransport(self.reader, timeout=5)
        try:
            return JpkiAP(Channel(transport)).certificate("auth")
        finally:
            transport.close()

    def patron(self, transport=None) -> tuple[int, dict]:
        """(status, answer) of the server's library API for the card in the reader: the
        patron number (200), or the refusal with its message (403 revoked, 404 not linked)."""
        if self.library is None:
            return 404, {"error": "no_library", "message": "this terminal serves no library (--library)"}
        code, credential = self.library
        der = self.read_certificate(transport)
        body = json.dumps({"certificate": base64.b64encode(der).decode()}).encode()
        req = urllib.request.Request(f"{self.server}/{self.municipality}/api/library/{code}/patron", data=body,
                                     method="POST", headers={"Content-Type": "application/json",
                                                             "Authorization": f"Bearer {credential}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            try:
                return exc.code, json.loads(exc.read())
            except ValueError:
                return 502, {"error": "server", "message": f"server answered {exc.code}"}
        except (urllib.error.URLError, OSError) as exc:
            return 502, {"error": "unreachable", "message": f"server unreachable: {exc}"}


class _Refused(Exception):
    """The server refused a ceremony the agent answered."""


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
            if urlsplit(self.path).path == "/face":
                return self._face()
            if urlsplit(self.path).path == "/text":
                return self._text()
            if urlsplit(self.path).path == "/sign":
                return self._sign()
            if urlsplit(self.path).path == "/patron":
                return self._patron()
            if urlsplit(self.path).path == "/certificate":
                return self._certificate()
            if urlsplit(self.path).path != "/tap":
                return self._send(404, {"error": "not found"})
            try:
                decision = agent.tap()
            except Exception as exc:  # noqa: BLE001 — no card, reader gone, unreadable card
                return self._send(409, {"admitted": False, "reason": "no_card", "detail": str(exc)[:200]})
            self._send(200, {"admitted": decision.admitted, "reason": decision.reason})

        def _face(self):
            from madoguchi.card.face import code_b

            try:
                body = self._json()
                code = body.get("code_b")
                if not code:
                    code = code_b(dt.date.fromisoformat(str(body.get("birth", ""))),
                                  int(body.get("expiry_year", 0)), str(body.get("security_code", "")))
                if not isinstance(code, str):
                    raise ValueError("code_b must be a string")
            except (ValueError, TypeError) as exc:
                return self._send(409, {"reason": "bad_code", "detail": str(exc)[:200]})
            self._read(lambda: agent.read_face(code), "code")

        def _text(self):
            try:
                body = self._json()
                pin = body.get("pin")
                if not isinstance(pin, str):
                    raise ValueError("pin must be a string of 4 digits")
            except (ValueError, TypeError) as exc:
                return self._send(409, {"reason": "bad_pin", "detail": str(exc)[:200]})
            self._read(lambda: agent.read_text(pin), "pin")

        def _sign(self):
            from madoguchi.card.ceremony_client import CeremonyRefused

            try:
                body = self._json()
                url, password = body.get("url"), body.get("password")
                # Only a ceremony of the site this agent serves: never a signing oracle for another.
                if not isinstance(url, str) or not url.startswith(allowed + "/"):
                    raise ValueError("url must be a ceremony of the configured origin")
                if not isinstance(password, str):
                    raise ValueError("password must be a string")
            except (ValueError, TypeError) as exc:
                return self._send(409, {"reason": "bad_request", "detail": str(exc)[:200]})

            def run():
                try:
                    return agent.sign(url, password)
                except CeremonyRefused as exc:
                    raise _Refused(exc.code) from None
            self._read(run, "password")

        def _json(self) -> dict:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= 4096:
                raise ValueError("a JSON body of at most 4 KiB is expected")
            body = json.loads(self.rfile.read(length))
            if not isinstance(body, dict):
                raise ValueError("a JSON object is expected")
            return body

        def _read(self, read, what: str):
            """Runs a card read; refusals are 409 with bad_/wrong_<what>, locked, card_removed."""
            from madoguchi.card import apdu as A
            from madoguchi.card.transport import TransportError

            try:
                answer = read()
            except ValueError as exc:  # InvalidPinFormat: not 14 (or 4) digits; no try used
                return self._send(409, {"reason": f"bad_{what}", "detail": str(exc)[:200]})
            except A.WrongPin as exc:
                return self._send(409, {"reason": f"wrong_{what}", "tries_left": exc.tries_left})
            except A.PinBlocked:
                return self._send(409, {"reason": "locked"})
            except _Refused as exc:  # the server refused the ceremony (expired, not verified…)
                return self._send(409, {"reason": "refused", "code": str(exc)[:100]})
            except (TransportError, OSError) as exc:
                return self._send(409, {"reason": "card_removed", "detail": str(exc)[:200]})
            except A.CardError as exc:
                return self._send(409, {"reason": "card_error", "detail": str(exc)[:200]})
            except Exception as exc:  # noqa: BLE001 — no reader, pyscard missing
                return self._send(409, {"reason": "card_removed", "detail": str(exc)[:200]})
            self._send(200, answer)

        def _certificate(self):
            try:
                der = agent.read_certificate()
            except Exception as exc:  # noqa: BLE001 — no card, reader gone, unreadable card
                return self._send(409, {"reason": "no_card", "detail": str(exc)[:200]})
            self._send(200, {"certificate": base64.b64encode(der).decode()})

        def _patron(self):
            try:
                status, answer = agent.patron()
            except Exception as exc:  # noqa: BLE001 — no card, reader gone, unreadable card
                return self._send(409, {"reason": "no_card", "detail": str(exc)[:200]})
            self._send(status, answer)

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)
