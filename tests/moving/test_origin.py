"""The 転出 on one deployment, end to end through the services: staff accept a 転出届, the
package is signed and reaches the destination's 転入予定; the destination confirms the 転入,
the people become its residents with the same accounts, and the origin's records move out.
A 転出届 naming someone outside the household, an unknown destination, a bad 団体コード and a
second confirmation are refused with the reason, nothing half done."""

import datetime as dt

import pytest

from madoguchi.applications.services import transition
from madoguchi.applications.transitions import ListenerRefused
from madoguchi.audit.models import AuditEvent
from madoguchi.cli import main
from madoguchi.identity.models import ResidentLink
from madoguchi.moving import package, services
from madoguchi.moving.models import IncomingMove, OutgoingMove
from madoguchi.municipalities.tenancy import tenant
from madoguchi.residents.models import ResidentRecord
from madoguchi.staff.models import Department, Membership
from madoguchi.staff.services import enrol_staff
from tests.applications.conftest import app_settings, catalog_a, hanako, taro  # noqa: F401  (fixtures)
from tests.casework.helpers import TENSHUTSU_PROCEDURE, submit_signed, tenshutsu_data
from tests.ceremonies.conftest import dev_pki, pki  # noqa: F401  (fixtures)
from tests.moving.test_package import documents_settings  # noqa: F401  (autouse fixture)


@pytest.fixture
def staff_a(catalog_a):
    department = Department.unscoped.create(municipality=catalog_a, code="shimin", name="市民課")
    user, *_ = enrol_staff(catalog_a, "shimin-a", Membership.Role.REVIEWER, department, password="x" * 20)
    return user


@pytest.fixture
def staff_b(muni_b):
    user, *_ = enrol_staff(muni_b, "shimin-b", Membership.Role.REVIEWER, None, password="x" * 20)
    return user


def accepted(municipality, person, card, staff, **changes):
    data = {**tenshutsu_data(), **changes}
    application = submit_signed(municipality, TENSHUTSU_PROCEDURE, person, card, data)
    transition(application, "received", role="reviewer", actor=staff)
    transition(application, "approved", role="reviewer", actor=staff)
    return application


def produced(municipality):
    with tenant(municipality):
        return services.produce(OutgoingMove.objects.get())


def test_a_move_within_the_deployment(catalog_a, muni_b, pki, taro, hanako, staff_a, staff_b):
    from madoguchi.notices.models import Delivery, EmailAddress

    for municipality in (catalog_a, muni_b):  # taro is told by e-mail at both
        EmailAddress.unscoped.create(municipality=municipality, person=taro, address="taro@example.jp",
                                     verified_at=dt.datetime.now(dt.timezone.utc))
    application = accepted(catalog_a, taro, pki.taro, staff_a, new_municipality="大阪府見本町",
                           movers=["100001", "100002"])
    move = produced(catalog_a)
    assert move.status == "delivered" and move.destination_code == "279994"
    incoming = IncomingMove.unscoped.get(municipality=muni_b)
    assert incoming.application == application.receipt_number and incoming.status == "expected"
    assert [p["name"] for p in incoming.payload["persons"]] == [taro.verified_name, hanako.verified_name]
    assert "individual_number" not in str(incoming.payload)
    assert list(Delivery.unscoped.values_list("municipality__code", "person", "kind", "link")) == [
        ("139998", taro.pk, "moving.delivered", "/139998/moving/")]
    # Until the destination confirms, the origin's people are still its residents.
    assert set(ResidentRecord.unscoped.filter(municipality=catalog_a).values_list("status", flat=True)) == {"resident"}

    # taro signed in at the destination before moving (to book the visit): no record matched yet.
    from madoguchi.identity.models import LinkReview

    review = LinkReview.unscoped.create(municipality=muni_b, person=taro, reason="no_match")
    today = dt.date.today()
    ids = services.confirm(staff_b, incoming, moved_in_on=today)
    review.refresh_from_db()
    assert review.status == "linked" and review.evidence == {}
    records = ResidentRecord.unscoped.filter(pk__in=ids).order_by("pk")
    assert [r.name for r in records] == [taro.verified_name, hanako.verified_name]
    assert {r.municipality_id for r in records} == {muni_b.pk} and len({r.household_id for r in records}) == 1
    assert records[0].is_household_head and records[0].resident_since == today
    # The same accounts: each person is linked to their new record.
    assert ResidentLink.unscoped.get(municipality=muni_b, person=taro).record_id == ids[0]
    assert ResidentLink.unscoped.get(municipality=muni_b, person=hanako).record_id == ids[1]
    origin_records = ResidentRecord.unscoped.filter(municipality=catalog_a)
    assert {(r.status, r.left_on) for r in origin_records} == {("moved_out", today)}  # the 異動日
    move.refresh_from_db()
    assert move.status == "confirmed"
    assert list(Delivery.unscoped.filter(kind="moving.confirmed").values_list("municipality__code", "person", "link")) \
        == [("279994", taro.pk, "/279994/moving/")]  # hanako has no e-mail address: nothing, no error
    actions = set(AuditEvent.unscoped.filter(action__startswith="moving.").values_list("action", flat=True))
    assert actions == {"moving.prepared", "moving.delivered", "moving.received", "moving.confirmed", "moving.moved_out"}

    with pytest.raises(services.MoveError) as twice:
        services.confirm(staff_b, incoming, moved_in_on=today)
    assert twice.value.status == 409
    assert ResidentRecord.unscoped.filter(municipality=muni_b).count() == 2


def test_a_mover_outside_the_household_is_refused(catalog_a, muni_b, pki, taro, hanako, staff_a):
    from madoguchi.applications.services import ApplicationError

    # At submission: someone of another household cannot be named.
    ResidentRecord.unscoped.create(municipality=catalog_a, resident_number="200001", name="他人　一郎",
                                   birth_date=dt.date(1970, 1, 1), sex="1", address="東京都窓口市", household_id="H9")
    with pytest.raises(ApplicationError):
        submit_signed(catalog_a, TENSHUTSU_PROCEDURE, taro, pki.taro,
                      {**tenshutsu_data(), "movers": ["100001", "200001"], "new_municipality": "見本町"})
    # At acceptance: hanako left the household after the 転出届 was filed.
    data = {**tenshutsu_data(), "movers": ["100001", "100002"], "new_municipality": "見本町"}
    application = submit_signed(catalog_a, TENSHUTSU_PROCEDURE, taro, pki.taro, data)
    ResidentRecord.unscoped.filter(resident_number="100002").update(household_id="H2")
    transition(application, "received", role="reviewer", actor=staff_a)
    with pytest.raises(ListenerRefused) as refused:
        transition(application, "approved", role="reviewer", actor=staff_a)
    assert "100002" in str(refused.value)
    application.refresh_from_db()
    assert application.status == "received" and not OutgoingMove.unscoped.exists()


def test_a_destination_elsewhere_needs_its_code_then_exports(catalog_a, pki, taro, staff_a, tmp_path, capsys):
    application = accepted(catalog_a, taro, pki.taro, staff_a, new_municipality="千代田区")
    move = produced(catalog_a)
    assert move.status == "needs_destination" and not move.package
    with pytest.raises(services.MoveError) as no_package:
        services.export(move)
    assert no_package.value.status == 409
    for bad, message in [("131015", "検査数字"), ("13101", "6桁"), ("990001", "都道府県"), ("139998", "自分")]:
        with pytest.raises(services.MoveError) as refused:
            services.set_destination(staff_a, move, bad)
        assert message in refused.value.message, bad
    move.refresh_from_db()
    assert move.status == "needs_destination" and move.destination_code == ""

    move = services.set_destination(staff_a, move, "131016")  # 千代田区, not on this deployment
    assert move.status == "ready" and move.package
    out = tmp_path / "move.json"
    assert main(["moving", "export", "--municipality", catalog_a.code, application.receipt_number, str(out)]) == 0
    payload, _ = package.verify(out.read_bytes(), services.documents.trust_roots(catalog_a))
    assert payload["destination"] == "131016" and len(payload["persons"]) == 1
    capsys.readouterr()
    assert main(["moving", "export", "--municipality", catalog_a.code, "nope", str(out)]) == 2
    assert "nope" in capsys.readouterr().err


def test_a_package_signed_by_another_municipality_is_refused(catalog_a, muni_b, pki, taro, staff_a):
    # 見本町's key signs a package claiming to come from 窓口市.
    forged = package.sign(services.documents.ensure_demo(muni_b), {
        **{"kind": "tenshutsu", "origin": "139998", "origin_name": "窓口市", "destination": "279994",
           "application": "2026-000999", "move_out_on": "2026-12-20", "persons": []}})
    with pytest.raises(package.PackageError) as refused:
        services.receive(forged)
    assert "signer is not the municipality 139998" in str(refused.value)
    assert not IncomingMove.unscoped.exists()
