import pytest
from django.test import RequestFactory

from madoguchi.core.views import server_error


@pytest.mark.django_db
def test_unknown_municipality_gives_the_japanese_404(client):
    response = client.get("/999999/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "ページが見つかりません" in body and "Page not found" in body
    assert '<html lang="ja">' in body


@pytest.mark.django_db
def test_malformed_path_is_404(client):
    assert client.get("/12345/").status_code == 404
    assert client.get("/1399980/").status_code == 404


@pytest.mark.django_db
def test_500_page_is_bilingual_and_has_no_trace():
    request = RequestFactory().get("/")
    request.request_id = "abc123abc123"
    response = server_error(request)
    body = response.content.decode()
    assert response.status_code == 500
    assert "エラーが発生しました" in body and "Server error" in body
    assert "Traceback" not in body and "abc123abc123" in body


@pytest.mark.django_db
def test_csrf_failure_page(client, muni_a):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(f"/{muni_a.code}/staff/login/", {"username": "x"})
    assert response.status_code == 403
    assert "送信できませんでした" in response.content.decode()


@pytest.mark.django_db
def test_wrong_method_is_refused(client, muni_a):
    assert client.post(f"/{muni_a.code}/").status_code == 405
