"""書かない窓口: the time from the card face read to eight procedures prefilled on screen,
beside a baseline in the same run.

- agent read: the local agent's `read_face` on the virtual card (in-process transport):
  VERIFY 照合番号B on the card face AP and the text AP, READ BINARY of the record, the CV
  certificate and the basic four facts — what `POST /face` answers.
- counter (the target, < 1 s): from the agent's answer to the page on screen — the staff
  page POSTs the raw bytes (server: CV certificate + record signature checked, text AP
  cross-checked, the JPEG 2000 photo converted to PNG, the resident record matched, the visit
  opened and audited, the page with the photo rendered), POSTs the eight procedures (each
  prefilled, household members included, audited), and GETs the visit page showing all
  eight prefilled forms. Through Django's test client, in-process (no network, no browser).
  The text AP's integrity record (EF 0003) is verified on this path too.
- the PIN path: the agent's `read_text` (VERIFY of the text PIN, the basic four facts, the
  integrity record and CV certificate), then the same pages with `method=pin` (no photo).
- baseline: `applications.prefill` of the same eight procedures for a Person — the bare
  prefill an online resident's eight form pages do, without the card or the pages.

Standalone: `.venv/bin/python bench/counter_prefill.py [--runs N]`. SQLite in a temporary
data directory (bench/_django.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _django  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    municipality, person, _drop = _django.setup(name_hint="counter")
    from django.conf import settings
    from django.test import Client
    from django_otp.oath import TOTP

    from madoguchi.applications import services as applications
    from madoguchi.card import face, virtual
    from madoguchi.card.transport import VirtualTransport
    from madoguchi.counter.models import Visit
    from madoguchi.municipalities.tenancy import tenant
    from madoguchi.pki.devca import DevCA
    from madoguchi.residents.models import ResidentRecord
    from madoguchi.staff.models import Membership
    from madoguchi.staff.services import enrol_staff
    from madoguchi.terminal.agent import Agent

    data = Path(settings.DATA_DIR)
    holder = virtual.Holder(name="窓口\u3000花子", address="東京都窓口市本町一丁目1番1号", birth=dt.date(1990, 1, 2), sex="2")
    virtual.issue(data / "card-template", DevCA.open(data), holder, "1234", "ABC123", "5678")
    text = json.loads((data / "card-template" / "card.json").read_text())["text"]
    code = face.code_b(holder.birth, int(text["card_expiry"][:4]), text["security_code"])
    with tenant(municipality):
        ResidentRecord.objects.create(resident_number="100001", name=holder.name, name_kana="まどぐち　はなこ",
                                      birth_date=holder.birth, sex="2", address=holder.address, household_id="H1",
                                      is_household_head=True)
        ResidentRecord.objects.create(resident_number="100002", name="窓口\u3000一郎", name_kana="まどぐち　いちろう",
                                      birth_date=dt.date(2020, 4, 1), sex="1", address=holder.address, household_id="H1")
        slugs = [v.procedure.slug for v in applications.catalog()][:8]
        versions = [applications.published(s) for s in slugs]
    user, _m, device, _ = enrol_staff(municipality, "counter-bench", Membership.Role.ADMINISTRATOR, None,
                                      password="bench-password-123")
    settings.ALLOWED_HOSTS = ["*"]  # the test client's host
    client = Client()
    token = f"{TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token():06d}"
    login = client.post(f"/{municipality.code}/staff/login/", {"username": user.username, "password": "bench-password-123",
                                                               "otp_token": token})
    assert login.status_code == 302, (login.status_code, login.content.decode()[:300])
    base = f"/{municipality.code}/staff/counter/"
    agent = Agent("http://127.0.0.1:1", municipality.code, "bench", None, None)

    reads, counter, baseline, pin_reads, pin_counter = [], [], [], [], []
    for run in range(args.runs):
        card_dir = data / f"card-{run}"
        shutil.copytree(data / "card-template", card_dir)
        t0 = time.perf_counter()
        raw = agent.read_face(code, transport=VirtualTransport(virtual.VirtualCard(card_dir)))
        t1 = time.perf_counter()
        first = client.post(base, {"code_b": code, **raw})
        assert first.status_code == 201, first.content.decode()[:500]
        with tenant(municipality):
            visit = Visit.objects.order_by("-pk").first()
        assert client.post(f"{base}{visit.public_id}/", {"procedures": slugs}).status_code == 302
        page = client.get(f"{base}{visit.public_id}/")
        t2 = time.perf_counter()
        assert page.status_code == 200 and page.content.decode().count('id="procedure-') == 8
        with tenant(municipality):
            t3 = time.perf_counter()
            for version in versions:
                applications.prefill(version, person)
            t4 = time.perf_counter()
        reads.append(t1 - t0)
        counter.append(t2 - t1)
        baseline.append(t4 - t3)
        # The PIN path: the text AP read with the resident's PIN, its integrity record verified.
        t5 = time.perf_counter()
        raw = agent.read_text("5678", transport=VirtualTransport(virtual.VirtualCard(card_dir)))
        t6 = time.perf_counter()
        second = client.post(base, {"method": "pin", **raw})
        assert second.status_code == 201, second.content.decode()[:500]
        with tenant(municipality):
            visit = Visit.objects.order_by("-pk").first()
        assert client.post(f"{base}{visit.public_id}/", {"procedures": slugs}).status_code == 302
        page = client.get(f"{base}{visit.public_id}/")
        t7 = time.perf_counter()
        assert page.status_code == 200 and page.content.decode().count('id="procedure-') == 8
        pin_reads.append(t6 - t5)
        pin_counter.append(t7 - t6)

    def ms(values):
        return f"median {statistics.median(values) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms"

    print(f"counter_prefill: {args.runs} runs, eight procedures ({', '.join(slugs)})")
    print(f"  agent read (virtual card, in-process)          {ms(reads)}")
    print(f"  read → eight prefilled procedures on screen    {ms(counter)}  (target < 1000 ms: "
          f"{'MET' if max(counter) < 1 else 'MISSED'})")
    print(f"  agent read with the text PIN (PIN path)        {ms(pin_reads)}")
    print(f"  PIN read → eight prefilled procedures          {ms(pin_counter)}  (target < 1000 ms: "
          f"{'MET' if max(pin_counter) < 1 else 'MISSED'})")
    print(f"  baseline: bare prefill of the eight            {ms(baseline)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
