"""The library's self-checkout page (library/views.self_checkout): opened without a session by
the kiosk browser, it holds no personal data and may call only its local agent. Its work with a
real agent and card is in tests/browser/test_self_checkout.py."""

import pytest
from django.test import Client

from madoguchi.citizencard import services as citizencard
from madoguchi.library.models import Library
from madoguchi.municipalities.tenancy import tenant
from tests.ceremonies.conftest import dev_pki, pki  # noqa: F401  (fixtures)
from tests.library.test_library import chuo  # noqa: F401  (fixture)


def page(code, library="chuo", query=""):
    return Client().get(f"/{code}/library/{library}/self-checkout/{query}")


def test_the_page_opens_without_a_session_and_may_call_only_its_agent(muni_a, chuo):
    response = page(muni_a.code, query="?agent=9123")
    assert response.status_code == 200
    body = response.content.decode()
    assert "自動貸出機" in body and "中央図書館" in body and 'data-agent="http://127.0.0.1:9123"' in body
    directives = dict(d.strip().split(" ", 1) for d in response["Content-Security-Policy"].split(";"))
    assert directives["connect-src"] == "'self' http://127.0.0.1:9123"
    assert directives["script-src"] == "'self'"
    assert "no-store" in response["Cache-Control"]
    # the link page the resident is sent to when the card has no number yet, as a whole address
    assert f"http://testserver/{muni_a.code}/card-services/library/" in body
    assert "8765" in page(muni_a.code).content.decode()  # the agent's default port


@pytest.mark.parametrize("agent", ["80", "65536", "x", "-1", "1023"])
def test_an_agent_port_that_cannot_be_is_refused_with_what_to_give(muni_a, chuo, agent):
    response = page(muni_a.code, query=f"?agent={agent}")
    assert response.status_code == 400
    assert "1024〜65535" in response.content.decode()


def test_no_page_for_a_library_that_is_unknown_closed_or_not_offered(muni_a, muni_b, admin_a, chuo):
    assert page(muni_a.code, "nishi").status_code == 404
    assert page(muni_b.code).status_code == 404  # another municipality's library of the same name: none there
    with tenant(muni_a):
        citizencard.set_enabled(admin_a[0], "library", False)
    assert page(muni_a.code).status_code == 404
    with tenant(muni_a):
        citizencard.set_enabled(admin_a[0], "library", True)
        Library.objects.filter(code="chuo").update(active=False)
    assert page(muni_a.code).status_code == 404


def test_only_get_and_head(muni_a, chuo):
    assert Client().post(f"/{muni_a.code}/library/chuo/self-checkout/").status_code == 405
    assert Client().head(f"/{muni_a.code}/library/chuo/self-checkout/").status_code == 200


def test_staff_find_the_page_on_the_library_page(client_admin_a, muni_a, chuo):
    library, _credential = chuo
    body = client_admin_a.get(f"/{muni_a.code}/staff/library/{library.pk}/").content.decode()
    assert f"http://testserver/{muni_a.code}/library/chuo/self-checkout/" in body
    assert "madoguchi terminal run --service library --library chuo" in body
