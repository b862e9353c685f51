"""The benefit-day mix for Locust (run by bench/load.py; headless, bounded in time and requests).

Each simulated resident, from a loopback address of its own for each flow (so the
per-address limits stay on, as with many residents), picks by weight:

- sign-in (3): the sign-in page, the ceremony opened, the card client fetching it and
  completing it with the demo virtual card's authentication key (in process), the browser
  finishing it into a session;
- catalog (4): the procedures page and the catalog in the API;
- application (2): a draft of 住民票の写し through the API (bearer token), prepared, its `sign`
  ceremony opened, the card's signature key making the CAdES CMS (in process), completed,
  then submitted with an Idempotency-Key;
- status poll (4): the resident's applications and one of them in detail.

Every request is named by its step; each flow is also reported as a whole (type FLOW).
Settings from the environment: LOAD_CARD_DIR (the linked demo card), LOAD_TOKEN (the
resident's API bearer token), LOAD_MAX_REQUESTS (stop after this many), LOAD_WAIT (the upper
bound of a resident's think time between flows, seconds)."""

import datetime as dt
import itertools
import os
import re
import secrets
import sys
import time
from pathlib import Path

import gevent
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from locust import HttpUser, between, events, task
from requests.adapters import HTTPAdapter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support import SoftCard, b64, unb64  # noqa: E402
from madoguchi.pki import cms  # noqa: E402
from madoguchi.pki.verify import ceremony_attribute  # noqa: E402

CODE = "139998"
API = f"/{CODE}/api/applications"
JUMINHYO = {"applicant_name": "窓口　太郎", "applicant_birth_date": "1980-04-01",
            "applicant_address": "東京都窓口市本町一丁目1番1号", "phone": "03-0000-0000", "scope": "household",
            "copies": 1, "purpose": "employment", "delivery": "registered"}
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
MAX_REQUESTS = int(os.environ.get("LOAD_MAX_REQUESTS", "0"))
# 127.1.0.2 onwards: apart from the 127.0.x.y the preparing process used (bench.support).
_addresses = (f"127.{a}.{b}.{c}" for a, b, c in itertools.product(range(1, 255), range(256), range(2, 254)))


def next_address() -> str:
    return next(_addresses)  # greenlets do not preempt between these two lines
_count = [0]


@events.request.add_listener
def _bound(request_type, **_):
    """Stops the run after LOAD_MAX_REQUESTS requests (flows are not requests)."""
    if request_type == "FLOW" or not MAX_REQUESTS:
        return
    _count[0] += 1
    if _count[0] == MAX_REQUESTS:
        runner = _bound.environment.runner
        gevent.spawn(runner.quit)


@events.init.add_listener
def _keep_environment(environment, **_):
    _bound.environment = environment


class SourceAddress(HTTPAdapter):
    """Connections from one loopback address (127.0.x.y)."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


class Resident(HttpUser):
    wait_time = between(0, float(os.environ.get("LOAD_WAIT", "1")))

    def on_start(self):
        self.card = SoftCard(Path(os.environ["LOAD_CARD_DIR"]))
        self.bearer = {"Authorization": f"Bearer {os.environ['LOAD_TOKEN']}"}
        self.mine: list[str] = []

    # ---- helpers --------------------------------------------------------------------
    def new_address(self):
        self.client.close()
        self.client.cookies.clear()
        self.client.mount("http://", SourceAddress(next_address()))

    def step(self, method, path, name, expect=(200,), **kwargs):
        with self.client.request(method, path, name=name, catch_response=True, allow_redirects=False,
                                 **kwargs) as response:
            if response.status_code not in expect:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                raise StopFlow
            response.success()
            return response

    def flow(self, name, body):
        started = time.perf_counter()
        try:
            body()
        except StopFlow:
            return
        self.environment.events.request.fire(request_type="FLOW", name=name, context={}, exception=None,
                                             response_time=(time.perf_counter() - started) * 1000,
                                             response_length=0)

    # ---- the mix --------------------------------------------------------------------
    @task(3)
    def sign_in(self):
        def run():
            self.new_address()
            page = self.step("GET", f"/{CODE}/login/", "sign-in 1 page")
            token = CSRF.search(page.text).group(1)
            opened = self.step("POST", f"/{CODE}/ceremony/start/", "sign-in 2 open", expect=(302,),
                               data={"csrfmiddlewaretoken": token, "purpose": "login"},
                               headers={"Referer": f"{self.host}/{CODE}/login/"})
            ceremony_id = opened.headers["Location"].rstrip("/").rsplit("/", 1)[1]
            described = self.step("GET", f"/{CODE}/api/ceremonies/{ceremony_id}", "sign-in 3 card fetch")
            self.step("POST", f"/{CODE}/api/ceremonies/{ceremony_id}/complete", "sign-in 4 card complete",
                      json=self.card.answer(described.json()))
            self.step("GET", f"/{CODE}/ceremony/{ceremony_id}/finish/", "sign-in 5 finish", expect=(302,))
        self.flow("sign-in (5 requests)", run)

    @task(4)
    def catalog(self):
        def run():
            self.new_address()
            self.step("GET", f"/{CODE}/procedures/", "catalog page")
            self.step("GET", f"{API}/procedures", "catalog API")
        self.flow("catalog (2 requests)", run)

    @task(2)
    def application(self):
        def run():
            self.new_address()
            draft = self.step("POST", f"{API}/drafts", "application 1 draft", expect=(201,), headers=self.bearer,
                              json={"procedure": "juminhyo-copy", "data": JUMINHYO}).json()
            prepared = self.step("POST", f"{API}/drafts/{draft['id']}/prepare", "application 2 prepare",
                                 headers=self.bearer).json()
            opened = self.step("POST", f"{API}/drafts/{draft['id']}/sign", "application 3 sign ceremony",
                               expect=(201,), headers=self.bearer).json()
            described = self.step("GET", f"/{CODE}/api/ceremonies/{opened['id']}", "application 4 card fetch").json()
            key, cert = self.card.keys["sign"], self.card.certs["sign"]
            signature = cms.sign_detached(
                unb64(prepared["document"]), cert,
                lambda info: key.sign(info[-32:], padding.PKCS1v15(), Prehashed(hashes.SHA256())),
                extra_attributes=[ceremony_attribute(opened["id"], unb64(described["challenge"]),
                                                     described["audience"], "sign")],
                signing_time=dt.datetime.now(dt.timezone.utc))
            self.step("POST", f"/{CODE}/api/ceremonies/{opened['id']}/complete", "application 5 card complete",
                      json={"audience": described["audience"], "cms": b64(signature)})
            submitted = self.step("POST", f"{API}/drafts/{draft['id']}/submit", "application 6 submit",
                                  expect=(201,), json={"ceremony_id": opened["id"], "poll_token": opened["poll_token"]},
                                  headers={**self.bearer, "Idempotency-Key": secrets.token_urlsafe(24)}).json()
            self.mine.append(submitted["id"])
        self.flow("application (6 requests + the card's CMS)", run)

    @task(4)
    def status_poll(self):
        def run():
            self.new_address()
            listed = self.step("GET", f"{API}/applications", "status 1 my applications", headers=self.bearer).json()
            if listed:
                chosen = self.mine[-1] if self.mine else listed[0]["id"]
                self.step("GET", f"{API}/applications/{chosen}", "status 2 one application", headers=self.bearer)
        self.flow("status poll (2 requests)", run)


class StopFlow(Exception):
    """A step failed (already recorded as a failure): the rest of the flow is skipped."""
