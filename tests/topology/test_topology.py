"""madoguchi scaled out, losing an app server and a worker (issue 24 part 3).

scripts/topology starts, on this machine: two app servers (`madoguchi serve`) and two task
workers (`madoguchi worker`, RQ), each in a network namespace of its own, behind Debian's
HAProxy (round robin, health-checked), on one PostgreSQL database and one Redis (the cache
and the task queue), relayed to the namespaces by the balancer. Through the balancer only:

- a session is answered by both app servers, and signing out through one ends it on both
  (sessions live in the database, not in a process);
- a CRL imported on app1 (in its namespace) makes both app servers refuse the revoked card
  within seconds (each process re-reads the shared CRL index within RECHECK_SECONDS);
- residents sign in and submit signed applications while app1 and worker1 are SIGKILLed in
  the middle; every acknowledged submission exists exactly once (database, export), a
  ceremony opened on app1 is finished on app2, sessions made before the kill go on, the
  audit chains still verify, and an export requested afterwards is made by worker2.

Runs on PostgreSQL as root (network namespaces); the SQLite run of `make test` skips it."""

import csv
import io
import os
import re
import threading
import time

import pytest

from tests.server import totp_code
from tests.topology.client import ApiResident, Journal, Resident, Staff, Transient
from tests.topology.harness import Topology

pytestmark = [pytest.mark.postgres, pytest.mark.topology]

LOAD_SECONDS = 24  # residents signing in and submitting
KILL_AFTER = 8  # seconds into the load: app1 and worker1 are SIGKILLed
CRL_WITHIN = 20  # seconds for both app servers to refuse a card revoked by a CRL imported on one

postgres_only = pytest.mark.skipif(not os.environ.get("MADOGUCHI_DATABASE_URL", "").startswith("postgres"),
                                   reason="the app servers share one PostgreSQL database")


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("the topology needs root (network namespaces)")
        pytest.skip("the topology needs root (network namespaces)")
    topology = Topology(tmp_path_factory.mktemp("topology"))
    try:
        topology.script("up")
        yield topology
    finally:  # whatever happened: processes, namespaces, links, the database, the Redis db go
        topology.down()


def both_servers(answers) -> set:
    return {a.server for a in answers}


@postgres_only
def test_two_app_servers_and_two_workers_lose_one_of_each(topology):
    port, cards = topology.port, topology.data_dir / "cards"
    journal = Journal()
    started = time.monotonic()

    # ---- sessions are shared: answered by both, ended through one for both ------------
    hanako = Resident(port, cards / "hanako", journal)
    hanako.sign_in("identify")  # links her card (and signs her in)
    answers = [hanako.signed_in() for _ in range(4)]
    assert [a.status for a in answers] == [200] * 4 and both_servers(answers) == {"app1", "app2"}
    hanako.sign_out()
    answers = [hanako.signed_in() for _ in range(4)]
    assert {a.status for a in answers} == {302} and both_servers(answers) == {"app1", "app2"}
    assert all("/login/" in a.location for a in answers), [a.location for a in answers]

    # ---- a CRL imported on one node is used by all within seconds ------------------------
    accepted = set()
    for _ in range(8):  # her card is accepted by both before
        ceremony_id, _ = hanako.open_ceremony("login")
        completed = hanako.card_answers(ceremony_id)
        assert completed.status == 200, completed.body[:300]
        accepted.add(completed.server)
        if accepted == {"app1", "app2"}:
            break
        hanako.request("GET", "/livez")  # round robin: shift which server takes the next `complete`
    assert accepted == {"app1", "app2"}
    from cryptography import x509

    serial = x509.load_der_x509_certificate(hanako.card.certs["auth"]).serial_number
    topology.madoguchi("pki", "dev-ca", "revoke", str(serial), "--reason", "key-compromise")
    topology.madoguchi("pki", "dev-ca", "export", str(topology.dir / "crl"))
    topology.madoguchi("pki", "crl", "import", str(topology.dir / "crl" / "auth.crl"), namespace="app1")
    imported = time.monotonic()
    refused, seen_at = set(), None
    while time.monotonic() - imported < CRL_WITHIN + 10:
        ceremony_id, _ = hanako.open_ceremony("login")
        completed = hanako.card_answers(ceremony_id)
        if completed.status == 403:
            assert b"certificate_revoked" in completed.body, completed.body[:300]
            refused.add(completed.server)
        else:
            assert completed.status == 200, completed.body[:300]
            refused.discard(completed.server)  # this server had not re-read the index yet
        if refused == {"app1", "app2"}:
            seen_at = time.monotonic() - imported
            break
        if completed.server in refused:
            hanako.request("GET", "/livez")  # let the other server take the next `complete`
        time.sleep(0.3)
    assert seen_at is not None and seen_at <= CRL_WITHIN, f"both app servers refused only after {seen_at}"
    for _ in range(4):  # and keep refusing
        ceremony_id, _ = hanako.open_ceremony("login")
        assert hanako.card_answers(ceremony_id).status == 403

    # ---- load; app1 and worker1 SIGKILLed in the middle ----------------------------------
    from bench.application_submit import Resident as PhoneApp

    phone = PhoneApp(port, topology.env, str(topology.data_dir))  # taro's card linked, his app's token
    phone.token()
    browsers = []
    for _ in range(3):  # signed in before the kill; they stay signed in after it
        browser = Resident(port, cards / "taro", journal)
        browser.sign_in("login")
        browsers.append(browser)
    pending = Resident(port, cards / "taro", journal)  # a ceremony app1 opened, finished after the kill
    for _ in range(6):
        pending_id, opened_by = pending.open_ceremony("login")
        if opened_by == "app1":
            break
        # Round robin and two requests per opening would land every POST on the same server:
        # one more request shifts the next opening's POST to the other.
        pending.request("GET", "/livez")
    assert opened_by == "app1"

    acknowledged, retried, interrupted, errors, signins = [], [], [], [], []
    lock = threading.Lock()
    load_started = time.monotonic()
    stop_at = load_started + LOAD_SECONDS
    killed_at = [None]

    def submitter():
        api = ApiResident(port, cards / "taro", phone.token, journal)
        while time.monotonic() < stop_at:
            try:
                signed = api.signed_draft()
            except Transient as exc:  # a request of the preparation died with app1: start again
                with lock:
                    interrupted.append(repr(exc))
                continue
            except Exception as exc:  # noqa: BLE001 — reported below
                with lock:
                    errors.append(f"draft: {exc!r}")
                return
            try:
                application, tries = api.submit(signed, deadline=stop_at + 60)
            except Exception as exc:  # noqa: BLE001 — reported below
                with lock:
                    errors.append(f"submit: {exc!r}")
                return
            with lock:
                acknowledged.append((time.monotonic(), application))
                if tries > 1:
                    retried.append(application["id"])

    def signer_in():
        browser = Resident(port, cards / "taro", journal)
        while time.monotonic() < stop_at:
            try:
                browser.sign_in("login")
            except Transient as exc:
                with lock:
                    interrupted.append(repr(exc))
                continue
            except Exception as exc:  # noqa: BLE001 — reported below
                with lock:
                    errors.append(f"sign-in: {exc!r}")
                return
            with lock:
                signins.append(time.monotonic())

    threads = [threading.Thread(target=submitter) for _ in range(2)] + [threading.Thread(target=signer_in)
                                                                         for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(KILL_AFTER)
    topology.script("kill", "app1")
    topology.script("kill", "worker1")
    killed_at[0] = time.monotonic()
    for thread in threads:
        thread.join(timeout=LOAD_SECONDS + 120)
    assert not errors, f"{errors[:5]}\n{topology.logs()}"
    killed = killed_at[0]
    after_kill = [a for t, a in acknowledged if t > killed + 3]
    assert after_kill, "no submission was acknowledged after the kill"
    assert [t for t in signins if t > killed + 3], "no sign-in after the kill"
    assert [t for t in signins if t < killed], "no sign-in before the kill"
    # Once the balancer saw app1 down (2 failed checks a second apart), only app2 answers.
    assert {s for t, s in journal.servers if t > killed + 5} == {"app2"}
    assert {s for t, s in journal.servers if t < killed} == {"app1", "app2"}

    # Sessions made before the kill go on; the ceremony app1 opened is finished on app2.
    for browser in browsers:
        answer = browser.signed_in()
        assert (answer.status, answer.server) == (200, "app2")
    completed = pending.card_answers(pending_id)
    assert (completed.status, completed.server) == (200, "app2"), completed.body[:300]
    finished = pending.finish(pending_id)
    assert finished.status == 302 and "/login/" not in finished.location, finished.location
    answer = pending.signed_in()
    assert (answer.status, answer.server) == (200, "app2")

    # ---- every acknowledged submission exists exactly once -------------------------------
    import psycopg

    applications = [a for _, a in acknowledged]
    keys = [a["idempotency_key"] for a in applications]
    assert len(set(keys)) == len(keys) and len({a["id"] for a in applications}) == len(applications)
    with psycopg.connect(topology.database_url) as conn:
        rows = conn.execute("SELECT public_id::text, idempotency_key, receipt_number FROM applications_application "
                            "WHERE status <> 'draft'").fetchall()
    assert sorted(r[1] for r in rows) == sorted(keys)  # nothing lost, nothing twice, nothing unacknowledged
    assert {r[0].replace("-", "") for r in rows} == {a["id"].replace("-", "") for a in applications}
    assert len({r[2] for r in rows}) == len(rows)  # one 受付番号 each

    # ---- an export, requested now, is made by the surviving worker -----------------------
    secret = re.search(r"demo-admin\?secret=([A-Z2-7]+)", (topology.dir / "demo.txt").read_text()).group(1)
    staff = Staff(port, journal)
    staff.sign_in("demo-admin", "madoguchi-demo-password", totp_code(secret))
    export_id = staff.request_export("juminhyo-copy")
    deadline = time.monotonic() + 90
    state = staff.export_state(export_id)
    while state in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(1)
        state = staff.export_state(export_id)
    assert state == "done", f"export {state}\n{topology.logs()}"
    exported = list(csv.DictReader(io.StringIO(staff.download(export_id).decode("utf-8-sig"))))
    assert sorted(row["受付番号"] for row in exported) == sorted(a["receipt_number"] for a in applications)

    # The audit chains, written by four processes (one SIGKILLed), still verify.
    assert "BROKEN" not in topology.madoguchi("audit", "verify")

    print(f"\ntopology: {len(applications)} submissions acknowledged ({len(after_kill)} after the kill, "
          f"{len(retried)} on a retry with the same key), {len(signins)} sign-ins, {len(interrupted)} flows "
          f"interrupted by the kill and started again, {len(journal.transient)} transient answers; "
          f"CRL used by both servers {seen_at:.1f} s after the import on app1; "
          f"{time.monotonic() - started:.0f} s after the topology was up")
