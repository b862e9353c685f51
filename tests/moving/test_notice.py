"""The 転入通知 back to an origin on another deployment: when the destination confirms a 転入
whose package was imported, it signs a notice that its staff can download (and the nightly
`moving export --new` carries); at an origin, a notice for a 転出 it never sent, or signed by
someone other than the destination, is refused with the reason (tests/moving/test_round_trip.py
carries one between two deployments)."""

import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization

from madoguchi.audit.models import AuditEvent
from madoguchi.documents import services as documents
from madoguchi.moving import package, services
from madoguchi.moving.models import IncomingMove
from madoguchi.pki import lgpki
from madoguchi.staff.models import Membership
from madoguchi.staff.services import enrol_staff
from tests.conftest import PASSWORD, sign_in
from tests.moving.test_package import PAYLOAD, documents_settings  # noqa: F401  (autouse fixture)


@pytest.fixture
def imported(muni_b, settings, tmp_path):
    """A 転入予定 at 見本町 from 千代田区 (131016), a municipality of another deployment."""
    other = lgpki.DevLGPKI.open(tmp_path / "other-lgpki")
    roots = tmp_path / "roots.pem"
    roots.write_bytes(other.root.public_bytes(serialization.Encoding.PEM))
    settings.MOVING_TRUST_ROOTS = str(roots)
    documents.ensure_demo(muni_b)
    data = package.sign(other.organisation("131016", "千代田区"),
                        {**PAYLOAD, "origin": "131016", "origin_name": "千代田区", "destination": muni_b.code,
                         "persons": [{**PAYLOAD["persons"][0], "sex": "1", "origin_resident_number": "555"}]})
    return services.receive(data)


@pytest.fixture
def reviewer_b(muni_b):
    user, _, device, _ = enrol_staff(muni_b, "juumin-b", Membership.Role.REVIEWER, None, password=PASSWORD)
    return user, device


def test_a_confirmed_move_in_from_elsewhere_signs_a_notice_staff_can_download(client, muni_b, imported, reviewer_b):
    services.confirm(reviewer_b[0], imported, moved_in_on=dt.date.today(), address="大阪府見本町1番")
    assert not IncomingMove.unscoped.get().notice  # signed by the worker's task, not in the request
    incoming = services.produce_notice(IncomingMove.unscoped.get())
    payload, signer = package.verify(bytes(incoming.notice), documents.trust_roots(muni_b))
    assert payload["kind"] == "tennyu" and payload["origin"] == "131016" and payload["destination"] == muni_b.code
    assert payload["application"] == imported.application and payload["moved_in_on"] == dt.date.today().isoformat()
    assert signer == documents.identity(muni_b).certificate
    assert services.produce_notice(incoming).notice == incoming.notice  # once

    assert sign_in(client, muni_b, *reviewer_b).status_code == 302
    url = f"/{muni_b.code}/staff/moving/in/{incoming.pk}/"
    assert "次の送付（夜間の書き出し）を待っています" in client.get(url).content.decode()
    download = client.post(url + "notice/")
    assert download.status_code == 200 and download["Content-Type"] == "application/json"
    assert f'filename="tennyu-notice-{incoming.application}.json"' in download["Content-Disposition"]
    assert download.content == bytes(incoming.notice)
    assert IncomingMove.unscoped.get().notice_exported_at is not None
    assert AuditEvent.unscoped.filter(action="moving.notice_exported", municipality=muni_b).count() == 1
    assert "送付用に書き出しました" in client.get(url).content.decode()


def test_no_notice_before_the_move_in_is_confirmed(client, muni_b, imported, reviewer_b):
    assert not services.produce_notice(imported).notice
    assert sign_in(client, muni_b, *reviewer_b).status_code == 302
    refused = client.post(f"/{muni_b.code}/staff/moving/in/{imported.pk}/notice/", follow=True)
    assert "転入通知はまだ作成されていません" in refused.content.decode()


def notice(identity, **changes):
    return package.sign(identity, {"kind": "tennyu", "origin": "139998", "origin_name": "窓口市",
                                   "destination": "279994", "destination_name": "見本町", "application": "nope",
                                   "moved_in_on": dt.date.today().isoformat(), **changes})


def test_a_notice_for_a_move_never_sent_or_from_another_signer_is_refused(muni_a, muni_b):
    documents.ensure_demo(muni_a)
    with pytest.raises(package.PackageError, match="139998 has no 転出 nope to 279994"):
        services.receive(notice(documents.ensure_demo(muni_b)))
    with pytest.raises(package.PackageError, match="signer is not the municipality 279994"):
        services.receive(notice(documents.ensure_demo(muni_a), destination_name=""))
    with pytest.raises(package.PackageError, match="moved_in_on is not a date"):
        services.receive(notice(documents.ensure_demo(muni_b), moved_in_on="tomorrow"))
