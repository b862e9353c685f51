"""Attendance and entry (issue #21 part 5): an organiser's event, residents registered with
their card (pairwise ids), an attendance terminal getting the members' card keys and sending
taps over the signed terminal API (offline decisions, synced once), entries and exits paired,
the CSV export with names only where the event's legal basis allows them."""

import base64
import csv
import datetime as dt
import io
import re

import pytest
from django.test import Client

from madoguchi.attendance import services
from madoguchi.attendance.models import Member, Tap
from madoguchi.audit.models import AuditEvent
from madoguchi.citizencard import services as cards
from madoguchi.citizencard.models import TerminalEvent
from madoguchi.core.dates import today_in_japan
from madoguchi.municipalities.tenancy import tenant
from madoguchi.terminal import signing
from madoguchi.terminal.agent import Agent
from madoguchi.terminal.index import SortedKeys, card_key
from madoguchi.terminal.state import LocalState
from tests.ceremonies.conftest import HANAKO, TARO, dev_pki, pki  # noqa: F401  (fixtures)
from tests.citizencard.test_terminals import Gate, der, event, link_card, person_with_card, signed_in
from tests.conftest import sign_in

T0 = dt.datetime(2026, 12, 5, 1, 0, tzinfo=dt.timezone.utc)  # 10:00 in Tokyo


def tap(card, at, result="admitted"):
    return event(card, result, service="attendance", at=at.isoformat())


@pytest.fixture
def lecture(muni_a, admin_a, pki):
    with tenant(muni_a):
        cards.set_enabled(admin_a[0], "attendance", True)
        lecture = services.create_event(admin_a[0], title="市民大学 第1回", place="中央公民館",
                                        starts_on=today_in_japan(), ends_on=today_in_japan())
        taro = person_with_card(pki.taro.issued)
        hanako = person_with_card(pki.hanako.issued, HANAKO)
        member = services.register(taro, lecture.public_id)
    return lecture, taro, hanako, member


def terminal_for(muni_a, admin_a, lecture):
    key = signing.new_key()
    with tenant(muni_a):
        terminal = cards.register_terminal(admin_a[0], name="公民館入口", place="中央公民館", service_key="attendance",
                                           public_key=signing.public_pem(key))
        if lecture is not None:
            services.assign_terminal(admin_a[0], lecture, terminal.pk)
    return terminal, key


def test_lists_taps_paired_replay_and_strangers(client, muni_a, admin_a, lecture, pki):
    lecture, taro, hanako, member = lecture
    terminal, key = terminal_for(muni_a, admin_a, lecture)
    gate = Gate(client, muni_a.code, terminal.public_id, key)
    answer = gate.lists().json()
    allow = SortedKeys.from_bytes(base64.b64decode(answer["allow"]["attendance"]))
    taro_key, hanako_key = card_key(der(pki.taro.issued.auth_cert)), card_key(der(pki.hanako.issued.auth_cert))
    assert taro_key in allow and hanako_key not in allow and len(allow) == 1

    batch = [tap(taro_key, T0), tap(taro_key, T0 + dt.timedelta(seconds=30)),  # a double tap
             tap(taro_key, T0 + dt.timedelta(minutes=90)),  # exit
             tap(hanako_key, T0, "not_allowed"),  # refused offline
             tap(hanako_key, T0 + dt.timedelta(minutes=1))]  # "admitted" on old lists: not a member
    first = gate.events(batch)
    assert first.status_code == 200 and first.json()["acknowledged"] == [e["id"] for e in batch]
    again = gate.events(batch)  # the agent crashed before it saw the answer: resent
    assert again.status_code == 200 and len(again.json()["acknowledged"]) == 5
    with tenant(muni_a):
        assert Tap.objects.count() == 5 and TerminalEvent.objects.count() == 5
        assert Tap.objects.filter(counted=True).count() == 3
        assert sorted(TerminalEvent.objects.values_list("outcome", flat=True)) == [
            "admitted", "admitted", "admitted", "refused", "unknown"]
        [row] = services.attendance(lecture)
        assert row.member == member and row.name == "" and row.minutes == 90 and len(row.visits) == 1
        text = services.export_csv(admin_a[0], lecture)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["pairwise_id", "entry", "exit", "minutes", "visits"],
                    [member.pairwise_id, "2026-12-05 10:00:00", "2026-12-05 11:30:00", "90", "1"]]
    assert "窓口" not in text  # no name without a legal basis
    with tenant(muni_a):
        assert AuditEvent.objects.filter(action="attendance.exported").count() == 1


def test_another_service_unassigned_terminal_and_offline_agent(client, muni_a, admin_a, lecture, pki, tmp_path):
    lecture, taro, hanako, member = lecture
    taro_key = card_key(der(pki.taro.issued.auth_cert))
    # A ticket gate sending attendance taps: refused whole, nothing stored.
    tkey = signing.new_key()
    with tenant(muni_a):
        ticket_gate = cards.register_terminal(admin_a[0], name="ゲート", place="", service_key="tickets",
                                              public_key=signing.public_pem(tkey))
    assert Gate(client, muni_a.code, ticket_gate.public_id, tkey).events([tap(taro_key, T0)]).status_code == 400
    # An attendance terminal not assigned to an event: empty allow-list; its taps count nothing.
    loose, lkey = terminal_for(muni_a, admin_a, None)
    loose_gate = Gate(client, muni_a.code, loose.public_id, lkey)
    assert base64.b64decode(loose_gate.lists().json()["allow"]["attendance"]) == b""
    kiosk = client.get(f"/{muni_a.code}/kiosk/{loose.public_id}/").content.decode()
    assert "記録しました。" in kiosk and "参加登録されていません" in kiosk  # the kiosk page's attendance wording
    assert loose_gate.events([tap(taro_key, T0)]).status_code == 200
    with tenant(muni_a):
        assert Tap.objects.get().counted is False

    # The agent decides offline (the server unreachable), taps the member twice (entry, exit:
    # no `used` set for attendance), and syncs the queue once.
    terminal, key = terminal_for(muni_a, admin_a, lecture)
    gate = Gate(client, muni_a.code, terminal.public_id, key)
    lists = gate.lists().json()
    state = LocalState(tmp_path / "agent.sqlite3")
    state.install(lists["version"], SortedKeys.from_bytes(base64.b64decode(lists["revoked"])),
                  {s: SortedKeys.from_bytes(base64.b64decode(v)) for s, v in lists["allow"].items()},
                  lists["revoked_version"])
    agent = Agent("http://127.0.0.1:9", muni_a.code, str(terminal.public_id), key, state, service="attendance")
    agent.read_card = lambda transport=None: (taro_key, pki.taro.issued.auth_cert.serial_number)
    assert agent.tap().reason == "admitted" and agent.tap().reason == "admitted"
    hanako_key = card_key(der(pki.hanako.issued.auth_cert))
    assert state.decide("attendance", hanako_key, pki.hanako.issued.auth_cert.serial_number, once=False).reason \
        == "not_allowed"
    pending = state.pending()
    assert len(pending) == 3
    for n, e in enumerate(pending[:2]):  # an hour apart on the terminal clock
        e["at"] = (T0 + dt.timedelta(hours=n)).isoformat()
    assert gate.events(pending).status_code == 200 and gate.events(pending).status_code == 200
    state.acknowledge([e["id"] for e in pending])
    assert state.pending() == []
    with tenant(muni_a):
        [row] = services.attendance(lecture)
        assert row.minutes == 60
        assert Tap.objects.filter(terminal=terminal).count() == 3


def test_register_refusals_renewal_and_names_with_legal_basis(muni_a, admin_a, lecture, pki):
    lecture, taro, hanako, member = lecture
    with tenant(muni_a):
        with pytest.raises(services.AttendanceError):
            services.register(taro, lecture.public_id)  # twice
        with pytest.raises(services.AttendanceError):
            services.register(taro, "not-an-id")
        renewed = pki.ca.issue_card(TARO)
        link_card(taro, renewed)
        moved = services.register(taro, lecture.public_id)  # after a renewal: the new card
        assert moved.pk == member.pk and moved.card_key == format(card_key(der(renewed.auth_cert)), "016x")
        with pytest.raises(services.AttendanceError) as refused:
            services.create_event(admin_a[0], title="健診", place="", starts_on=today_in_japan(),
                                  ends_on=today_in_japan(), names_allowed=True)
        assert refused.value.field == "legal_basis"
        named = services.create_event(admin_a[0], title="健診", place="", starts_on=today_in_japan(),
                                      ends_on=today_in_japan(), names_allowed=True,
                                      legal_basis="健康増進法に基づく健診の受診記録")
        services.register(hanako, named.public_id)
        text = services.export_csv(admin_a[0], named)
        other = services.register(taro, named.public_id)
        assert other.pairwise_id != moved.pairwise_id  # pairwise: unlinkable across events
    assert text.splitlines()[0] == "pairwise_id,name,entry,exit,minutes,visits" and "見本　花子" in text
    with tenant(muni_a):
        cards.set_enabled(admin_a[0], "attendance", False)
        with pytest.raises(services.AttendanceError):
            services.register(hanako, lecture.public_id)


def test_pages_field_errors_csrf_isolation_and_csv(muni_a, admin_a, muni_b, admin_b, viewer_a, lecture, pki):
    lecture, taro, hanako, member = lecture
    staff = Client()
    assert sign_in(staff, muni_a, *admin_a).status_code == 302
    url = f"/{muni_a.code}/staff/attendance/"
    assert "市民大学 第1回" in staff.get(url).content.decode()
    day = today_in_japan().isoformat()
    bad = staff.post(url, {"title": "講座", "starts_on": day, "ends_on": "2000-01-01"})
    assert bad.status_code == 400 and "終了日は開始日と同じか" in bad.content.decode()
    bad = staff.post(url, {"title": "講座", "starts_on": day, "ends_on": day, "names_allowed": "on"})
    assert bad.status_code == 400 and "根拠" in bad.content.decode()
    assert staff.post(url, {"title": "講座", "starts_on": day, "ends_on": day}).status_code == 302
    page = f"/{muni_a.code}/staff/attendance/{lecture.pk}/"
    assert member.pairwise_id in staff.get(page).content.decode()
    assert "窓口　太郎" not in staff.get(page).content.decode()
    assert staff.post(f"{page}terminal/", {"terminal": "999"}).status_code == 400
    export = staff.get(f"{page}attendance.csv")
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    assert member.pairwise_id in export.content.decode()

    viewer = Client()
    assert sign_in(viewer, muni_a, *viewer_a).status_code == 302
    assert viewer.get(page).status_code == 403
    other = Client()
    assert sign_in(other, muni_b, *admin_b).status_code == 302
    assert other.get(f"/{muni_b.code}/staff/attendance/{lecture.pk}/").status_code == 404
    assert other.get(f"/{muni_b.code}/staff/attendance/{lecture.pk}/attendance.csv").status_code == 404

    resident = Client(enforce_csrf_checks=True)
    signed_in(resident, muni_a, hanako)
    portal = f"/{muni_a.code}/attendance/"
    shown = resident.get(portal).content.decode()
    assert "市民大学 第1回" in shown
    assert resident.post(portal, {"event": str(lecture.public_id)}).status_code == 403  # no CSRF token
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', shown).group(1)
    assert resident.post(portal, {"event": "x", "csrfmiddlewaretoken": token}).status_code == 400
    assert resident.post(portal, {"event": str(lecture.public_id), "csrfmiddlewaretoken": token}).status_code == 302
    with tenant(muni_a):
        assert Member.objects.filter(event=lecture).count() == 2
