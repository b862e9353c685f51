"""Residents, card clients and staff through the balancer (tests/topology): plain HTTP/1.1,
one connection per request (so nothing sticks to a dead app server), each from a loopback
address of its own (the PROXY protocol carries it to the app server: per-address limits
stay on), recording which app server answered (HAProxy's X-Madoguchi-Server header)."""

import datetime as dt
import http.client
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from bench.support import SoftCard, b64, next_address, unb64
from madoguchi.pki import cms
from madoguchi.pki.verify import ceremony_attribute

CODE = "139998"
API = f"/{CODE}/api/applications"
# What a balancer answers while an app server dies (before its health check marks it down,
# a request on a connection it reset): the client tries again.
TRANSIENT = {502, 503, 504}


class Transient(Exception):
    """The balancer or a dying app server did not answer this request."""


@dataclass
class Answer:
    status: int
    location: str | None
    body: bytes
    server: str  # app1 / app2: who answered through the balancer

    def json(self):
        return json.loads(self.body)


class Journal:
    """Which app server answered what, and the transient failures, for the test's checks."""

    def __init__(self):
        self.lock = threading.Lock()
        self.servers: list[tuple[float, str]] = []
        self.transient: list[tuple[float, str]] = []

    def answered(self, server: str) -> None:
        with self.lock:
            self.servers.append((time.monotonic(), server))

    def failed(self, what: str) -> None:
        with self.lock:
            self.transient.append((time.monotonic(), what))


class Balanced:
    """One browser (or card client) through the balancer: a cookie jar, a source address."""

    def __init__(self, port: int, journal: Journal | None = None, source: str | None = None):
        self.port, self.journal = port, journal or Journal()
        self.source = source or next_address()
        self.cookies: dict[str, str] = {}

    def request(self, method, path, body=None, headers=None) -> Answer:
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60, source_address=(self.source, 0))
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.journal.failed(f"{method} {path.split('?')[0]}: {exc!r}")
            raise Transient(repr(exc)) from None
        finally:
            conn.close()
        if response.status in TRANSIENT:
            self.journal.failed(f"{method} {path.split('?')[0]}: {response.status}")
            raise Transient(f"{response.status} from the balancer")
        server = response.getheader("X-Madoguchi-Server", "")
        self.journal.answered(server)
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return Answer(response.status, response.getheader("Location"), data, server)

    def form(self, path: str, fields: dict) -> Answer:
        return self.request("POST", path, body=urlencode(fields),
                            headers={"Content-Type": "application/x-www-form-urlencoded",
                                     "Referer": f"http://127.0.0.1:{self.port}{path}"})

    def csrf(self, path: str) -> str:
        page = self.request("GET", path)
        assert page.status == 200, (path, page.status)
        return re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body).group(1).decode()


class Resident(Balanced):
    """A resident's browser and their card client (a demo virtual card's keys, in process)."""

    def __init__(self, port: int, card_dir: Path, journal: Journal | None = None):
        super().__init__(port, journal)
        self.card = SoftCard(card_dir)

    def open_ceremony(self, purpose: str) -> tuple[str, str]:
        """The browser asks for a sign-in: (ceremony id, the app server that opened it). Each
        from an address of its own, as residents are (the per-address limits stay on)."""
        self.source = next_address()
        token = self.csrf(f"/{CODE}/login/")
        started = self.form(f"/{CODE}/ceremony/start/", {"csrfmiddlewaretoken": token, "purpose": purpose})
        assert started.status == 302, (started.status, started.body[:300])
        return started.location.rstrip("/").rsplit("/", 1)[1], started.server

    def card_answers(self, ceremony_id: str) -> Answer:
        """The card client: fetch the ceremony, sign, complete. (The answer of `complete`.)"""
        described = self.request("GET", f"/{CODE}/api/ceremonies/{ceremony_id}")
        assert described.status == 200, (described.status, described.body[:300])
        return self.request("POST", f"/{CODE}/api/ceremonies/{ceremony_id}/complete",
                            body=self.card.answer(described.json()))

    def finish(self, ceremony_id: str) -> Answer:
        return self.request("GET", f"/{CODE}/ceremony/{ceremony_id}/finish/")

    def sign_in(self, purpose: str = "login") -> None:
        ceremony_id, _ = self.open_ceremony(purpose)
        completed = self.card_answers(ceremony_id)
        assert completed.status == 200, (completed.status, completed.body[:300])
        finished = self.finish(ceremony_id)
        assert finished.status == 302 and finished.location.endswith(("/account/", f"/{CODE}/")), (
            finished.status, finished.location)

    def signed_in(self) -> Answer:
        """The account page: 200 with a session, a redirect to the sign-in page without."""
        return self.request("GET", f"/{CODE}/account/")

    def sign_out(self) -> None:
        token = self.csrf(f"/{CODE}/account/")
        answer = self.form(f"/{CODE}/logout/", {"csrfmiddlewaretoken": token})
        assert answer.status == 302, answer.status


class ApiResident(Balanced):
    """A phone app through the applications API with the resident's bearer token (the
    relying party's code + PKCE exchange is done once, by bench.application_submit), making
    signed 住民票の写し requests: draft → prepare → sign ceremony → card signs → submit,
    the submit retried with the same Idempotency-Key until it is acknowledged."""

    JUMINHYO = {"applicant_name": "窓口　太郎", "applicant_birth_date": "1980-04-01",
                "applicant_address": "東京都窓口市本町一丁目1番1号", "phone": "03-0000-0000", "scope": "household",
                "copies": 1, "purpose": "employment", "delivery": "registered"}

    def __init__(self, port: int, card_dir: Path, token, journal: Journal | None = None):
        super().__init__(port, journal)
        self.card = SoftCard(card_dir)
        self.token = token  # a callable: the current bearer token

    def call(self, method, path, body=None, headers=None) -> Answer:
        return self.request(method, path, body=body,
                            headers={"Authorization": f"Bearer {self.token()}", **(headers or {})})

    def signed_draft(self) -> dict:
        self.source = next_address()  # each application from another phone (per-address limits)
        draft = self.call("POST", f"{API}/drafts", {"procedure": "juminhyo-copy", "data": self.JUMINHYO})
        assert draft.status == 201, (draft.status, draft.body[:300])
        draft_id = draft.json()["id"]
        prepared = self.call("POST", f"{API}/drafts/{draft_id}/prepare")
        assert prepared.status == 200, (prepared.status, prepared.body[:300])
        opened = self.call("POST", f"{API}/drafts/{draft_id}/sign")
        assert opened.status == 201, (opened.status, opened.body[:300])
        opened = opened.json()
        described = self.call("GET", f"/{CODE}/api/ceremonies/{opened['id']}")
        assert described.status == 200, described.status
        description = described.json()
        key, cert = self.card.keys["sign"], self.card.certs["sign"]
        signature = cms.sign_detached(
            unb64(prepared.json()["document"]), cert,
            lambda digest_info: key.sign(digest_info[-32:], padding.PKCS1v15(), Prehashed(hashes.SHA256())),
            extra_attributes=[ceremony_attribute(opened["id"], unb64(description["challenge"]),
                                                 description["audience"], "sign")],
            signing_time=dt.datetime.now(dt.timezone.utc))
        completed = self.call("POST", f"/{CODE}/api/ceremonies/{opened['id']}/complete",
                              {"audience": description["audience"], "cms": b64(signature)})
        assert completed.status == 200, (completed.status, completed.body[:300])
        return {"draft": draft_id, "ceremony_id": opened["id"], "poll_token": opened["poll_token"]}

    def submit(self, signed: dict, deadline: float) -> tuple[dict, int]:
        """Submits until acknowledged (201, or 200 for a replay of the same key); (the
        application, how many tries it took). Raises Transient only at the deadline."""
        key = secrets.token_urlsafe(24)
        tries = 0
        while True:
            tries += 1
            try:
                answer = self.call("POST", f"{API}/drafts/{signed['draft']}/submit",
                                   {"ceremony_id": signed["ceremony_id"], "poll_token": signed["poll_token"]},
                                   headers={"Idempotency-Key": key})
            except Transient:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
                continue
            assert answer.status in (200, 201), (answer.status, answer.body[:300])
            application = answer.json()
            application["idempotency_key"] = key
            return application, tries


class Staff(Balanced):
    """A staff member signed in with password and TOTP, requesting an export."""

    def sign_in(self, username: str, password: str, totp: str) -> None:
        token = self.csrf(f"/{CODE}/staff/login/")
        answer = self.form(f"/{CODE}/staff/login/", {"csrfmiddlewaretoken": token, "username": username,
                                                      "password": password, "otp_token": totp})
        assert answer.status == 302, (answer.status, answer.body[:500])

    def request_export(self, procedure: str) -> str:
        token = self.csrf(f"/{CODE}/staff/exports/")
        answer = self.form(f"/{CODE}/staff/exports/", {"csrfmiddlewaretoken": token, "procedure": procedure,
                                                        "kind": "ordinary", "format": "csv_utf8"})
        assert answer.status == 302, (answer.status, answer.body[:500])
        return answer.location.rstrip("/").rsplit("/", 1)[1]

    def export_state(self, export_id: str) -> str:
        page = self.request("GET", f"/{CODE}/staff/exports/{export_id}/progress/")
        assert page.status == 200, page.status
        return re.search(rb'data-state="([a-z]+)"', page.body).group(1).decode()

    def download(self, export_id: str) -> bytes:
        answer = self.request("GET", f"/{CODE}/staff/exports/{export_id}/download/")
        assert answer.status == 200, answer.status
        return answer.body
