"""The desk's resident-facing screen (書かない窓口): the staff member asks for the PIN, the
resident types it on their own screen (to the agent only), the server verifies what the agent
read and opens the visit for that staff member; both pages follow the visit. Refused without a
request, after it ran out, for another staff member's request, forged, without CSRF."""

import base64
import datetime as dt

import pytest
from django.test import Client

from madoguchi.audit.models import AuditEvent
from madoguchi.counter import services
from madoguchi.counter.models import Desk, Visit
from madoguchi.municipalities.tenancy import tenant
from madoguchi.staff.models import Membership
from madoguchi.staff.services import enrol_staff
from tests.conftest import PASSWORD, sign_in

from .conftest import HOLDER, agent_read, agent_read_pin


@pytest.fixture
def reviewer_a(muni_a):
    user, _membership, device, _ = enrol_staff(muni_a, "reviewer-a", Membership.Role.REVIEWER, None, password=PASSWORD)
    return user, device


def staff(municipality, user_device, csrf=False):
    client = Client()
    assert sign_in(client, municipality, *user_device).status_code == 302
    if not csrf:
        return client
    strict = Client(enforce_csrf_checks=True)  # the same signed-in session, CSRF checked
    strict.cookies = client.cookies
    return strict


def test_the_pin_typed_on_the_desk_screen_opens_the_visit_for_its_staff_member(muni_a, admin_a, counter_setup, card):
    card_dir, _code = card
    client = staff(muni_a, admin_a)
    base = f"/{muni_a.code}/staff/counter/"
    assert client.get(base + "desk/state/").json() == {"state": "idle"}
    desk = client.get(base + "desk/")
    assert desk.status_code == 200 and 'id="desk-idle"' in desk.content.decode()
    pin_input = desk.content.decode().split('id="desk-pin-input"')[1].split(">")[0]
    assert "name=" not in pin_input  # the PIN goes to the agent only
    csp = dict(d.strip().split(" ", 1) for d in desk["Content-Security-Policy"].split(";"))
    assert csp["connect-src"] == "'self' http://127.0.0.1:8765"

    assert client.post(base + "desk/pin/").status_code == 302
    assert client.get(base + "desk/state/").json() == {"state": "pin"}
    assert 'id="desk-waiting"' in client.get(base).content.decode()  # the staff page waits
    with tenant(muni_a):
        assert AuditEvent.objects.filter(action="counter.pin_requested").count() == 1

    opened = client.post(base + "desk/read/", agent_read_pin(card_dir))
    assert opened.status_code == 201, opened.content.decode()
    with tenant(muni_a):
        visit = Visit.objects.get()
    assert visit.served_by == admin_a[0] and visit.facts["method"] == "pin" and visit.facts["name"] == HOLDER.name
    assert opened.json() == {"screen": f"{base}{visit.public_id}/screen/"}
    assert client.get(base + "desk/state/").json() == {
        "state": "visit", "visit": str(visit.public_id), "screen": f"{base}{visit.public_id}/screen/",
        "page": f"{base}{visit.public_id}/"}
    again = client.post(base + "desk/read/", agent_read_pin(card_dir))  # the request was used
    assert again.status_code == 409 and again.json()["code"] == "not_requested"

    assert client.post(f"{base}{visit.public_id}/close/").status_code == 302
    assert client.get(base + "desk/state/").json() == {"state": "idle"}  # the screen goes back to standby


def test_refused_without_a_request_after_it_ran_out_forged_or_for_another_desk(
        muni_a, admin_a, counter_setup, card):
    card_dir, _code = card
    client = staff(muni_a, admin_a)
    base = f"/{muni_a.code}/staff/counter/"
    raw = agent_read_pin(card_dir)
    unasked = client.post(base + "desk/read/", raw)
    assert unasked.status_code == 409 and "お願いしていない" in unasked.json()["error"]

    client.post(base + "desk/pin/")
    forged = dict(raw, text_record=base64.b64encode(
        base64.b64decode(raw["text_record"]).replace("花子".encode(), "花男".encode())).decode())
    refused = client.post(base + "desk/read/", forged)
    assert refused.status_code == 409 and "偽造" in refused.json()["error"]
    assert client.post(base + "desk/read/", {}).status_code == 409  # nothing read
    assert client.get(base + "desk/state/").json() == {"state": "pin"}  # still waiting: may try again

    with tenant(muni_a):
        Desk.objects.update(pin_requested_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=6))
    assert client.get(base + "desk/state/").json() == {"state": "idle"}
    late = client.post(base + "desk/read/", raw)
    assert late.status_code == 409 and late.json()["code"] == "not_requested"

    client.post(base + "desk/pin/")
    client.post(base + "desk/pin/cancel/")
    assert client.get(base + "desk/state/").json() == {"state": "idle"}
    with tenant(muni_a):
        assert not Visit.objects.exists()


def test_another_staff_members_request_is_not_this_desks(muni_a, admin_a, reviewer_a, counter_setup, card):
    card_dir, _code = card
    first, second = staff(muni_a, admin_a), staff(muni_a, reviewer_a)
    base = f"/{muni_a.code}/staff/counter/"
    first.post(base + "desk/pin/")
    assert second.get(base + "desk/state/").json() == {"state": "idle"}
    assert second.post(base + "desk/read/", agent_read_pin(card_dir)).status_code == 409
    with tenant(muni_a):
        assert not Visit.objects.exists()


def test_csrf_and_roles(muni_a, admin_a, viewer_a, counter_setup, card):
    card_dir, _code = card
    base = f"/{muni_a.code}/staff/counter/"
    strict = staff(muni_a, admin_a, csrf=True)
    assert strict.post(base + "desk/pin/").status_code == 403
    assert strict.post(base + "desk/read/", agent_read_pin(card_dir)).status_code == 403
    viewer = staff(muni_a, viewer_a)
    assert viewer.get(base + "desk/").status_code == 403
    assert viewer.post(base + "desk/pin/").status_code == 403
    assert Client().get(base + "desk/state/").status_code in (302, 403)  # not signed in


def test_a_card_read_at_the_staff_page_is_shown_on_the_desk_screen(muni_a, admin_a, counter_setup, card):
    card_dir, code = card
    client = staff(muni_a, admin_a)
    base = f"/{muni_a.code}/staff/counter/"
    response = client.post(base, {"code_b": code, **agent_read(card_dir, code)})
    assert response.status_code == 201
    with tenant(muni_a):
        visit = Visit.objects.get()
    assert client.get(base + "desk/state/").json()["visit"] == str(visit.public_id)
    with tenant(muni_a):
        services.close(visit, admin_a[0])
    assert client.get(base + "desk/state/").json() == {"state": "idle"}
