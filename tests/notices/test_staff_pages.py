"""The back-office pages of broadcasts: an administrator composes a municipality-wide
broadcast and sees the recipient count; sending before a second administrator approved it is
refused (409, the reason shown); after approval it is sent and the statistics show; a bad
draft is a 400 naming the field; a viewer gets 403."""

from madoguchi.municipalities.tenancy import tenant
from madoguchi.notices.models import Broadcast
from madoguchi.staff.models import Membership
from madoguchi.staff.services import enrol_staff
from tests.conftest import PASSWORD, sign_in

from .conftest import verified_address


def test_compose_approve_send_on_the_back_office_pages(client, muni_a, admin_a, taro, hanako, smtp,
                                                      django_capture_on_commit_callbacks):
    verified_address(muni_a, taro, "taro@example.jp")
    assert sign_in(client, muni_a, *admin_a).status_code == 302
    base = f"/{muni_a.code}/staff/broadcasts/"
    assert "お知らせ配信" in client.get(f"/{muni_a.code}/staff/").content.decode()
    bad = client.post(base, {"title": "", "category": "emergency", "segment": "all"})
    assert bad.status_code == 400 and 'id="id_title-error"' in bad.content.decode()
    response = client.post(base, {"title": "避難所を開設しました", "category": "emergency", "segment": "all"})
    assert response.status_code == 302
    detail = response["Location"]
    page = client.get(detail).content.decode()
    assert "[防災・緊急] 避難所を開設しました" in page and "<dd>2</dd>" in page  # taro and hanako are linked
    refused = client.post(detail + "send/")
    assert refused.status_code == 409 and "別の職員の承認が必要です" in refused.content.decode()
    own = client.post(detail + "approve/")
    assert own.status_code == 409 and "作成した職員とは別の職員" in own.content.decode()

    second = client.__class__()
    user, _m, device, _ = enrol_staff(muni_a, "koho-second", Membership.Role.ADMINISTRATOR, None, password=PASSWORD)
    assert sign_in(second, muni_a, user, device).status_code == 302
    assert second.post(detail + "approve/").status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(detail + "send/").status_code == 302
    page = client.get(detail).content.decode()
    assert "配信の状況" in page and "<td>email</td><td>1</td>" in page
    with tenant(muni_a):
        assert Broadcast.objects.get().status == "sent"
    assert client.post(detail + "send/").status_code == 409  # never twice


def test_a_viewer_cannot_open_broadcasts(client, muni_a, viewer_a):
    assert sign_in(client, muni_a, *viewer_a).status_code == 302
    assert client.get(f"/{muni_a.code}/staff/broadcasts/").status_code == 403
