"""The back office of moving, as staff use it: the 転入予定 list and page (the household, the
verified origin, 転入を確定する with its errors on the field), a 転出 waiting for its
destination's code (a wrong check digit is shown on the field), the package's download; another
municipality's staff see none of it."""

import datetime as dt

import pytest

from madoguchi.moving.models import IncomingMove, OutgoingMove
from madoguchi.residents.models import ResidentRecord
from madoguchi.staff.models import Department, Membership
from madoguchi.staff.services import enrol_staff
from tests.applications.conftest import app_settings, catalog_a, hanako, taro  # noqa: F401  (fixtures)
from tests.ceremonies.conftest import dev_pki, pki  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD, sign_in
from tests.moving.test_origin import accepted, produced
from tests.moving.test_package import documents_settings  # noqa: F401  (autouse fixture)


@pytest.fixture
def reviewer_a(catalog_a):
    department = Department.unscoped.create(municipality=catalog_a, code="shimin", name="市民課")
    user, _, device, _ = enrol_staff(catalog_a, "shimin-a", Membership.Role.REVIEWER, department, password=PASSWORD)
    return user, device


@pytest.fixture
def reviewer_b(muni_b):
    user, _, device, _ = enrol_staff(muni_b, "juumin-b", Membership.Role.REVIEWER, None, password=PASSWORD)
    return user, device


def test_the_destination_confirms_a_move_in_on_its_page(client, catalog_a, muni_b, pki, taro, hanako, reviewer_a,
                                                         reviewer_b, admin_a):
    accepted(catalog_a, taro, pki.taro, reviewer_a[0], new_municipality="見本町", movers=["100001", "100002"])
    produced(catalog_a)
    incoming = IncomingMove.unscoped.get()
    assert sign_in(client, muni_b, *reviewer_b).status_code == 302
    page = client.get(f"/{muni_b.code}/staff/moving/")
    assert page.status_code == 200 and incoming.application in page.content.decode()
    url = f"/{muni_b.code}/staff/moving/in/{incoming.pk}/"
    body = client.get(url).content.decode()
    assert "窓口市（139998）の署名を確かめました" in body and taro.verified_name in body and "転入を確定する" in body
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    refused = client.post(url, {"moved_in_on": tomorrow, "address": "大阪府見本町1番"})
    assert refused.status_code == 400 and "転入日に未来の日付は入れられません" in refused.content.decode()
    empty = client.post(url, {"moved_in_on": "", "address": ""})
    assert empty.status_code == 400 and 'href="#id_moved_in_on"' in empty.content.decode()
    assert not ResidentRecord.unscoped.filter(municipality=muni_b).exists()
    done = client.post(url, {"moved_in_on": dt.date.today().isoformat(), "address": "大阪府見本町1番"})
    assert done.status_code == 302
    assert set(ResidentRecord.unscoped.filter(municipality=muni_b).values_list("address", flat=True)) == {"大阪府見本町1番"}
    assert client.post(url, {"moved_in_on": dt.date.today().isoformat(), "address": "x"}).status_code == 409
    # Staff of the origin cannot open the destination's 転入予定 (it is not theirs).
    client.logout()
    assert sign_in(client, catalog_a, *admin_a).status_code == 302
    assert client.get(f"/{catalog_a.code}/staff/moving/in/{incoming.pk}/").status_code == 404


def test_a_move_out_waiting_for_its_destination(client, catalog_a, pki, taro, reviewer_a):
    accepted(catalog_a, taro, pki.taro, reviewer_a[0], new_municipality="千代田区")
    move = produced(catalog_a)
    assert sign_in(client, catalog_a, *reviewer_a).status_code == 302
    url = f"/{catalog_a.code}/staff/moving/out/{move.pk}/"
    assert "転入先の団体コードを入力すると" in client.get(url).content.decode()
    wrong = client.post(url, {"code": "131015"})
    assert wrong.status_code == 400 and "検査数字が正しくありません" in wrong.content.decode()
    assert client.post(f"{url}package/").status_code == 302  # nothing signed yet: back to the page
    assert client.post(url, {"code": "131016"}).status_code == 302
    move.refresh_from_db()
    assert move.status == "ready"
    download = client.post(f"{url}package/")
    assert download.status_code == 200 and b"madoguchi-moving/1" in download.content
    assert "attachment" in download["Content-Disposition"]
    assert client.get(f"{url}package/").status_code == 405
    assert OutgoingMove.unscoped.count() == 1


def test_the_resident_sees_the_move_and_what_follows(client, catalog_a, muni_b, pki, taro, hanako, reviewer_a,
                                                     reviewer_b):
    from django.test import Client

    from madoguchi.moving import services
    from tests.applications.test_pages import signed_in

    services.ensure_demo(catalog_a)
    services.ensure_demo(muni_b)
    accepted(catalog_a, taro, pki.taro, reviewer_a[0], new_municipality="見本町", movers=["100001", "100002"])
    produced(catalog_a)
    resident = signed_in(client, catalog_a, taro)
    body = resident.get(f"/{catalog_a.code}/moving/").content.decode()
    assert "見本町への転出" in body and "転入先へ送付済み" in body
    assert f'href="/{muni_b.code}/bookings/new/?purpose=%E8%BB%A2%E5%85%A5%E5%B1%8A"' in body
    assert "国民健康保険の資格喪失" in body and "児童手当の受給事由消滅" not in body  # no child in the household
    # hanako filed nothing: her page offers the 転出届.
    other = signed_in(Client(), catalog_a, hanako).get(f"/{catalog_a.code}/moving/").content.decode()
    assert "転出届をオンラインで出す" in other and "見本町への転出" not in other

    services.confirm(reviewer_b[0], IncomingMove.unscoped.get(), moved_in_on=dt.date.today())
    page = signed_in(Client(), muni_b, taro)
    body = page.get(f"/{muni_b.code}/moving/").content.decode()
    # 見本町 offers no procedure online yet: the 印鑑登録 is pointed to the counter, not to a 404.
    assert "印鑑登録" in body and "/procedures/inkan-touroku/" not in body and "窓口でお問い合わせください" in body
    from madoguchi.procedures.services import install_catalog

    install_catalog(muni_b)
    body = page.get(f"/{muni_b.code}/moving/").content.decode()
    assert "転入のあとの手続き" in body and "国民健康保険の加入" in body and "印鑑登録" in body
    assert "児童手当の認定請求" not in body and "小学校・中学校の転入学" not in body
    assert f'href="/{muni_b.code}/procedures/inkan-touroku/">オンラインで申請する' in body
    assert "窓口で手続きしてください（保険年金課（本庁舎1階））" in body


def test_staff_keep_the_follow_up_list(client, muni_a, admin_a):
    from madoguchi.moving.models import FollowUp

    assert sign_in(client, muni_a, *admin_a).status_code == 302
    url = f"/{muni_a.code}/staff/moving/follow-ups/"
    assert "まだ手続きがありません" in client.get(url).content.decode()
    bad = client.post(url, {"event": "moved_in", "title": "国民年金", "applies_to": "everyone", "position": "1"})
    assert bad.status_code == 400 and "オンライン申請の手続きか窓口のどちらかを入力してください" in bad.content.decode()
    assert client.post(url, {"event": "nope", "title": "x", "applies_to": "everyone", "where": "a",
                             "position": "1"}).status_code == 400
    assert client.post(url, {"event": "moved_in", "title": "国民年金", "applies_to": "everyone",
                             "where": "保険年金課", "position": "1"}).status_code == 302
    row = FollowUp.unscoped.get()
    assert "国民年金" in client.get(url).content.decode()
    assert client.post(f"{url}{row.pk}/remove/").status_code == 302
    assert not FollowUp.unscoped.exists()
