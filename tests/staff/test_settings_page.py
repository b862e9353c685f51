import pytest

from madoguchi.audit.models import AuditEvent
from madoguchi.municipalities.models import Municipality
from tests.conftest import sign_in


@pytest.mark.django_db
def test_administrator_changes_settings_and_it_is_audited(client_admin_a, muni_a):
    url = f"/{muni_a.code}/staff/settings/"
    assert client_admin_a.get(url).status_code == 200
    response = client_admin_a.post(url, {"name": "窓口市", "name_kana": "まどぐちし", "contact_phone": "03-1234-5678",
                                         "contact_email": "", "website_url": "", "office_hours": "平日",
                                         "welcome_message": "ようこそ", "welcome_message_en": "Welcome"})
    assert response.status_code == 302
    muni_a.refresh_from_db()
    assert muni_a.contact_phone == "03-1234-5678" and muni_a.welcome_message_en == "Welcome"
    event = AuditEvent.unscoped.get(municipality=muni_a, action="municipality.settings_changed")
    assert "contact_phone" in event.data["fields"]
    # The resident top page shows the change.
    assert "ようこそ" in client_admin_a.get(f"/{muni_a.code}/").content.decode()


@pytest.mark.django_db
def test_invalid_settings_are_refused_with_a_message(client_admin_a, muni_a):
    response = client_admin_a.post(f"/{muni_a.code}/staff/settings/",
                                   {"name": "", "name_kana": "x", "contact_email": "not-an-email"})
    assert response.status_code == 400
    assert Municipality.objects.get(pk=muni_a.pk).name == "窓口市"


@pytest.mark.django_db
def test_viewer_sees_but_cannot_change_settings(client, muni_a, viewer_a):
    assert sign_in(client, muni_a, *viewer_a).status_code == 302
    url = f"/{muni_a.code}/staff/settings/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"name": "乗っ取り市", "name_kana": "x"})
    assert response.status_code == 403
    assert Municipality.objects.get(pk=muni_a.pk).name == "窓口市"


@pytest.mark.django_db
def test_settings_of_another_municipality_stay_closed(client_admin_b, muni_a):
    response = client_admin_b.post(f"/{muni_a.code}/staff/settings/", {"name": "乗っ取り市", "name_kana": "x"})
    assert response.status_code == 302
    assert Municipality.objects.get(pk=muni_a.pk).name == "窓口市"
