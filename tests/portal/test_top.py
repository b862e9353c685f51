import pytest


@pytest.mark.django_db
def test_top_page_in_japanese_by_default(client, muni_a):
    body = client.get(f"/{muni_a.code}/").content.decode()
    assert '<html lang="ja">' in body
    assert "窓口市 オンライン窓口" in body
    assert "マイナンバーカードでログイン" in body
    assert "手続き一覧" in body and "お知らせ" in body


@pytest.mark.django_db
def test_top_page_in_english_through_the_language_switch(client, muni_a):
    response = client.post("/i18n/setlang/", {"language": "en", "next": f"/{muni_a.code}/"})
    assert response.status_code == 302 and response["Location"] == f"/{muni_a.code}/"
    body = client.get(f"/{muni_a.code}/").content.decode()
    assert '<html lang="en">' in body
    assert "Sign in with your My Number Card" in body
    assert "Procedures" in body


@pytest.mark.django_db
def test_english_through_accept_language(client, muni_a):
    body = client.get(f"/{muni_a.code}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Sign in with your My Number Card" in body


@pytest.mark.django_db
def test_card_login_offers_login_and_identity_verification(client, muni_a):
    response = client.get(f"/{muni_a.code}/login/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="purpose" value="login"' in body and 'name="purpose" value="identify"' in body
    assert "署名用電子証明書のパスワード" in body


@pytest.mark.django_db
def test_directory_lists_municipalities(client, muni_a, muni_b):
    body = client.get("/").content.decode()
    assert "窓口市" in body and "見本町" in body


@pytest.mark.django_db
def test_inactive_municipality_is_not_served(client, muni_a):
    muni_a.is_active = False
    muni_a.save()
    assert client.get(f"/{muni_a.code}/").status_code == 404
