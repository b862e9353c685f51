"""The resident shell (issue 17): the header knows who is signed in, the top page shows a
signed-in resident what needs them first, /notices/ lists their notices, and the sign-in
page says why it is shown and sends the resident back where they were — never elsewhere."""

from types import SimpleNamespace

import pytest

from madoguchi.applications.models import Application, Notice
from madoguchi.ceremonies import callers
from madoguchi.municipalities.tenancy import tenant
from tests.applications.conftest import app_settings, catalog_a, hanako, taro, version_of  # noqa: F401
from tests.applications.test_pages import signed_in
from tests.ceremonies.conftest import dev_pki, pki  # noqa: F401
from tests.payments.conftest import submit_sodai


def request_for(municipality, host="testserver", secure=False):
    return SimpleNamespace(municipality=municipality, get_host=lambda: host, is_secure=lambda: secure)


@pytest.mark.django_db
@pytest.mark.parametrize("value", [
    "https://evil.example/", "//evil.example/", "/279994/account/", "javascript:alert(1)",
    "{code}/../279994/account/", "/{code}/../279994/account/", "/{code}/%2e%2e/279994/", "/{code}/..%2f279994/",
    "/{code}//evil.example/", "/{code}/\\evil.example/", "/{code}/\r\nSet-Cookie: x=1", "/{code}/\x00",
    "https://evil.example/{code}/", "/{code}/" + "a" * 1200, "", None,
])
def test_hostile_continuations_are_refused(muni_a, value):
    value = value.format(code=muni_a.code) if value else value
    request = request_for(muni_a)
    assert callers.continuation(request, value) is None
    assert callers.safe_next(request, value) == f"/{muni_a.code}/"


@pytest.mark.django_db
def test_own_paths_are_kept(muni_a):
    request = request_for(muni_a)
    for value in (f"/{muni_a.code}/procedures/juminhyo-copy/apply/", f"/{muni_a.code}/notices/?page=2"):
        assert callers.continuation(request, value) == value


@pytest.mark.django_db
def test_apply_sends_to_sign_in_with_the_reason_and_back(client, catalog_a):
    code = catalog_a.code
    apply = f"/{code}/procedures/sodai-gomi/apply/"
    response = client.get(apply)
    assert response.status_code == 302 and response["Location"] == f"/{code}/login/?next=%2F{code}%2Fprocedures%2Fsodai-gomi%2Fapply%2F"
    page = client.get(response["Location"]).content.decode()
    assert "申請をはじめるには、ログインが必要です。" in page
    assert page.count(f'name="next" value="{apply}"') == 2  # both the login and the first-time forms


@pytest.mark.django_db
def test_sign_in_page_ignores_a_hostile_next(client, muni_a):
    page = client.get(f"/{muni_a.code}/login/", {"next": "https://evil.example/"}).content.decode()
    assert 'name="next" value="https://evil.example/"' not in page and "ログインが必要です" not in page
    assert page.count('name="purpose"') == 2 and page.count('<input type="hidden" name="next"') == 1  # the language switch's only


@pytest.mark.django_db
def test_top_page_of_a_signed_in_resident_shows_what_needs_them(client, catalog_a, taro):
    owed = submit_sodai(catalog_a, taro)
    signed_in(client, catalog_a, taro)
    page = client.get(f"/{catalog_a.code}/").content.decode()
    assert "窓口　太郎 さん" in page and "ログアウト" in page
    assert "マイナンバーカードでログイン" not in page and "現在、お知らせはありません" not in page
    assert "対応が必要な申請" in page and "手数料 1,600円のお支払いをお待ちしています。" in page
    assert f"/{catalog_a.code}/applications/{owed.public_id}/" in page
    with tenant(catalog_a):
        unread = Notice.objects.filter(person=taro, read_at__isnull=True).count()
    assert unread >= 1 and f"未読のお知らせ（{unread}件）" in page
    for link in ("procedures/", "applications/", "notices/", "account/"):
        assert f'href="/{catalog_a.code}/{link}"' in page


@pytest.mark.django_db
def test_notices_page_lists_the_residents_notices_and_marks_them_read(client, catalog_a, taro):
    submit_sodai(catalog_a, taro)
    anonymous = client.get(f"/{catalog_a.code}/notices/").content.decode()
    assert "ログインすると表示されます" in anonymous
    assert f'href="/{catalog_a.code}/login/?next=%2F{catalog_a.code}%2Fnotices%2F"' in anonymous  # the header's
    login_page = client.get(f"/{catalog_a.code}/login/").content.decode()
    assert f'href="/{catalog_a.code}/login/">' in login_page  # the header's link on the sign-in page: no next to itself
    signed_in(client, catalog_a, taro)
    page = client.get(f"/{catalog_a.code}/notices/").content.decode()
    assert "ログインすると" not in page and "未読" in page and "手数料 1,600円のお支払いをお待ちしています" in page
    response = client.post(f"/{catalog_a.code}/notices/read/")
    assert response.status_code == 302
    with tenant(catalog_a):
        assert not Notice.objects.filter(person=taro, read_at__isnull=True).exists()
        assert Application.objects.filter(person=taro).exists()


@pytest.mark.django_db
def test_the_english_pages_are_complete_and_mark_japanese_content(client, catalog_a, taro):
    submit_sodai(catalog_a, taro)
    catalog_a.welcome_message, catalog_a.office_hours = "ようこそ", "平日 8:30〜17:15"
    catalog_a.save()
    signed_in(client, catalog_a, taro)
    page = client.get(f"/{catalog_a.code}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Applications that need you" in page and "Waiting for the fee of ¥1,600." in page
    assert '<p class="lead" lang="ja">ようこそ</p>' in page and '<dd lang="ja">平日 8:30〜17:15</dd>' in page
    assert ">日本語</option>" in page and ">English</option>" in page
    # Where staff wrote the English, the English reader gets it (and the Japanese reader not).
    catalog_a.welcome_message_en, catalog_a.office_hours_en = "Welcome", "Weekdays 8:30–17:15"
    catalog_a.save()
    page = client.get(f"/{catalog_a.code}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<p class="lead">Welcome</p>' in page and "<dd>Weekdays 8:30–17:15</dd>" in page and "ようこそ" not in page
    page = client.get(f"/{catalog_a.code}/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert '<p class="lead">ようこそ</p>' in page and "Welcome" not in page
    assert "Sign in to start the application." in client.get(
        f"/{catalog_a.code}/login/", {"next": f"/{catalog_a.code}/procedures/sodai-gomi/apply/"},
        HTTP_ACCEPT_LANGUAGE="en").content.decode()
