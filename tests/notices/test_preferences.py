"""Preferences per category: a silenced category reaches neither e-mail nor devices (the
inbox keeps everything); 防災・緊急 cannot be silenced."""

from madoguchi.applications.services import transition
from madoguchi.applications.statemachine import Role, Status
from madoguchi.audit.models import AuditEvent
from madoguchi.municipalities.tenancy import tenant
from madoguchi.notices import services
from madoguchi.notices.models import Category, Delivery, Silenced
from tests.applications.test_pages import signed_in
from tests.documents.conftest import kikikanri_reviewer, submit_risai  # noqa: F401  (fixture)

from .conftest import verified_address


def test_a_silenced_category_is_not_sent_but_emergency_always_is(client, catalog_a, taro, kikikanri_reviewer,
                                                                 settings, smtp, django_capture_on_commit_callbacks):
    settings.NOTICE_CHANNELS = ["inbox", "email"]
    verified_address(catalog_a, taro, "taro@example.jp")
    signed_in(client, catalog_a, taro)
    page = client.get(f"/{catalog_a.code}/account/").content.decode()
    assert 'value="emergency" id="cat-emergency" checked disabled>' in page
    # Everything unchecked (a hostile client also posts emergency unchecked): only emergency stays.
    response = client.post(f"/{catalog_a.code}/account/notices/", {"categories": []})
    assert response.status_code == 302
    with tenant(catalog_a):
        assert set(Silenced.objects.values_list("category", flat=True)) == {"applications", "benefits",
                                                                           "announcements"}
        assert AuditEvent.objects.filter(action="notices.preferences_changed").count() == 1
    page = client.get(f"/{catalog_a.code}/account/").content.decode()
    assert 'value="applications" id="cat-applications">' in page
    reviewer, _device = kikikanri_reviewer
    with django_capture_on_commit_callbacks(execute=True):
        application = submit_risai(catalog_a, taro)
        with tenant(catalog_a):
            transition(application, Status.RECEIVED, role=Role.REVIEWER, actor=reviewer)
            emergency = services.enqueue([taro.pk], channel_name="email", category=Category.EMERGENCY,
                                         kind="application.returned", link="/139998/notices/")
    with tenant(catalog_a):
        assert list(Delivery.objects.all()) == emergency and len(emergency) == 1
    # Wanted again: the status change goes out.
    client.post(f"/{catalog_a.code}/account/notices/", {"categories": ["applications"]})
    with django_capture_on_commit_callbacks(execute=True):
        with tenant(catalog_a):
            transition(application, Status.APPROVED, role=Role.REVIEWER, actor=reviewer)
    with tenant(catalog_a):
        assert Delivery.objects.filter(kind="application.approved").count() == 1


def test_an_unknown_category_is_refused_naming_the_field(client, muni_a, taro):
    signed_in(client, muni_a, taro)
    response = client.post(f"/{muni_a.code}/account/notices/", {"categories": ["applications", "spam"]})
    assert response.status_code == 400
    assert "categories: 知らない分類です（spam）。" in response.content.decode()
    with tenant(muni_a):
        assert not Silenced.objects.exists()
