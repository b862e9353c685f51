import pytest

from madoguchi.audit.models import AuditEvent
from tests.conftest import A_SECRET_DEPARTMENT, PASSWORD, sign_in


@pytest.mark.django_db
def test_admin_needs_the_otp_sign_in(client, muni_a, admin_a):
    user, _ = admin_a
    # A password-only Django session (no OTP verification) does not open the admin.
    client.force_login(user)
    response = client.get("/admin/")
    assert response.status_code == 302 and "login" in response["Location"]


@pytest.mark.django_db
def test_admin_shows_only_the_signed_in_municipality(client_admin_a, muni_a, muni_b, dept_a):
    from madoguchi.staff.models import Department

    Department.unscoped.create(municipality=muni_b, code="bdept", name="よその課")
    page = client_admin_a.get("/admin/staff/department/").content.decode()
    assert A_SECRET_DEPARTMENT in page and "よその課" not in page
    munis = client_admin_a.get("/admin/municipalities/municipality/").content.decode()
    assert "窓口市" in munis and "見本町" not in munis


@pytest.mark.django_db
def test_admin_changes_are_audited(client_admin_a, muni_a, dept_a):
    response = client_admin_a.post(f"/admin/staff/department/{dept_a.pk}/change/",
                                   {"code": "secret", "name": "改名課"})
    assert response.status_code == 302
    assert AuditEvent.unscoped.filter(municipality=muni_a, action="admin.department.changed").exists()


@pytest.mark.django_db
def test_foreign_department_is_not_reachable_by_id(client_admin_b, dept_a):
    # Another municipality's department answers exactly as one that does not exist: the
    # admin's "not found" redirect to its index (not a sign-in redirect), with its message.
    response = client_admin_b.get(f"/admin/staff/department/{dept_a.pk}/change/", follow=True)
    missing = client_admin_b.get("/admin/staff/department/999999/change/", follow=True)
    assert response.redirect_chain == [("/admin/", 302)] == missing.redirect_chain
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == [f"ID “{dept_a.pk}” の課は見つかりませんでした。削除された可能性があります。"]
    assert A_SECRET_DEPARTMENT not in response.content.decode()


@pytest.mark.django_db
def test_non_administrators_are_kept_out(client, muni_a, viewer_a):
    assert sign_in(client, muni_a, *viewer_a).status_code == 302
    response = client.get("/admin/")
    assert response.status_code == 302


@pytest.mark.django_db
def test_audit_events_are_read_only_in_the_admin(client_admin_a, muni_a):
    event = AuditEvent.unscoped.filter(municipality=muni_a).first()
    assert client_admin_a.get(f"/admin/audit/auditevent/{event.pk}/delete/").status_code == 403
    assert PASSWORD not in client_admin_a.get("/admin/audit/auditevent/").content.decode()
