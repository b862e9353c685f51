import pytest

from madoguchi.audit.models import AuditEvent
from tests.conftest import PASSWORD, sign_in, totp_now


def events(municipality, action):
    return list(AuditEvent.unscoped.filter(municipality=municipality, action=action).order_by("seq"))


@pytest.mark.django_db
def test_password_and_totp_sign_in(client, muni_a, admin_a):
    user, device = admin_a
    response = sign_in(client, muni_a, user, device)
    assert response.status_code == 302 and response["Location"] == f"/{muni_a.code}/staff/"
    dashboard = client.get(f"/{muni_a.code}/staff/")
    assert dashboard.status_code == 200
    assert "ダッシュボード" in dashboard.content.decode()
    assert len(events(muni_a, "staff.signed_in")) == 1


@pytest.mark.django_db
def test_password_alone_is_not_enough(client, muni_a, admin_a):
    user, device = admin_a
    response = client.post(f"/{muni_a.code}/staff/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 400
    assert "確認コード" in response.content.decode()
    assert client.get(f"/{muni_a.code}/staff/").status_code == 302


@pytest.mark.django_db
def test_wrong_totp_fails_and_is_audited(client, muni_a, admin_a):
    user, device = admin_a
    wrong = f"{(int(totp_now(device)) + 1) % 1000000:06d}"
    response = client.post(f"/{muni_a.code}/staff/login/",
                           {"username": user.username, "password": PASSWORD, "otp_token": wrong})
    assert response.status_code == 400
    assert "正しくありません" in response.content.decode()
    [event] = events(muni_a, "staff.sign_in_failed")
    assert event.data["reason"] == "bad_totp" and event.actor_id == str(user.pk)
    # The attempted username is not stored, only a short hash of it.
    assert user.username not in str(event.data)


@pytest.mark.django_db
def test_wrong_password_fails_and_is_audited(client, muni_a, admin_a):
    user, device = admin_a
    response = client.post(f"/{muni_a.code}/staff/login/",
                           {"username": user.username, "password": "wrong", "otp_token": totp_now(device)})
    assert response.status_code == 400
    [event] = events(muni_a, "staff.sign_in_failed")
    assert event.data["reason"] == "bad_password" and event.actor_type == "anonymous"


@pytest.mark.django_db
def test_staff_of_another_municipality_cannot_sign_in_here(client, muni_a, muni_b, admin_b):
    user, device = admin_b
    response = sign_in(client, muni_a, user, device)
    assert response.status_code == 400
    assert events(muni_a, "staff.sign_in_failed")[0].data["reason"] == "not_a_member"


@pytest.mark.django_db
def test_lockout_after_repeated_failures(client, muni_a, admin_a, settings):
    user, device = admin_a
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(f"/{muni_a.code}/staff/login/",
                               {"username": user.username, "password": "wrong", "otp_token": "000000"})
        assert response.status_code == 400
    response = client.post(f"/{muni_a.code}/staff/login/",
                           {"username": user.username, "password": "wrong", "otp_token": "000000"})
    assert response.status_code == 429
    # Locked: even the right password and code are refused now.
    response = sign_in(client, muni_a, user, device)
    assert response.status_code == 429
    assert "ログインが制限されています" in response.content.decode()
    assert client.get(f"/{muni_a.code}/staff/").status_code == 302
    assert events(muni_a, "staff.sign_in_failed")[-1].data["reason"] == "locked_out"


@pytest.mark.django_db
def test_totp_failures_count_toward_the_lockout(client, muni_a, admin_a, settings):
    user, device = admin_a
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(f"/{muni_a.code}/staff/login/",
                    {"username": user.username, "password": PASSWORD, "otp_token": "000000"})
    assert sign_in(client, muni_a, user, device).status_code == 429


@pytest.mark.django_db
def test_next_stays_inside_this_municipalitys_back_office(client, muni_a, admin_a):
    user, device = admin_a
    response = client.post(f"/{muni_a.code}/staff/login/?next=https://evil.example/",
                           {"username": user.username, "password": PASSWORD, "otp_token": totp_now(device)})
    assert response["Location"] == f"/{muni_a.code}/staff/"


@pytest.mark.django_db
def test_malformed_sign_in_input(client, muni_a):
    response = client.post(f"/{muni_a.code}/staff/login/", {"username": "", "password": "", "otp_token": "12ab"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "確認コードは6桁の数字で入力してください" in body


@pytest.mark.django_db
def test_sign_out(client_admin_a, muni_a):
    response = client_admin_a.post(f"/{muni_a.code}/staff/logout/")
    assert response.status_code == 302
    assert client_admin_a.get(f"/{muni_a.code}/staff/").status_code == 302
    assert len(events(muni_a, "staff.signed_out")) == 1


@pytest.mark.django_db
def test_a_session_from_another_municipality_does_not_open_this_one(client_admin_b, muni_a, muni_b):
    response = client_admin_b.get(f"/{muni_a.code}/staff/")
    assert response.status_code == 302
    assert response["Location"].startswith(f"/{muni_a.code}/staff/login/")


@pytest.mark.django_db
def test_a_wrong_code_says_so_and_asks_for_a_new_code_only(client, muni_a, admin_a):
    """The message names the step that failed; the wrong code is not sent back; the next
    right code (without the password again) signs in, even right after the wrong one."""
    import time

    user, device = admin_a
    right = totp_now(device)
    wrong = f"{(int(right) + 1) % 1000000:06d}"
    response = client.post(f"/{muni_a.code}/staff/login/",
                           {"username": user.username, "password": PASSWORD, "otp_token": wrong})
    body = response.content.decode()
    assert response.status_code == 400
    assert "パスワードは確認できました。確認コードが正しくありません。" in body
    assert "パスワードまたは" not in body and wrong not in body
    assert 'name="password"' not in body  # the second step asks for the code only
    time.sleep(1.1)  # django-otp throttles a device for 1 s after one wrong code
    response = client.post(f"/{muni_a.code}/staff/login/", {"step": "code", "otp_token": totp_now(device)})
    assert response.status_code == 302 and response["Location"] == f"/{muni_a.code}/staff/"
    assert len(events(muni_a, "staff.signed_in")) == 1


@pytest.mark.django_db
def test_a_code_right_away_after_a_wrong_one_is_explained(client, muni_a, admin_a):
    user, device = admin_a
    right = totp_now(device)
    wrong = f"{(int(right) + 1) % 1000000:06d}"
    client.post(f"/{muni_a.code}/staff/login/", {"username": user.username, "password": PASSWORD, "otp_token": wrong})
    response = client.post(f"/{muni_a.code}/staff/login/", {"step": "code", "otp_token": right})
    assert response.status_code == 400
    assert "確認コードの誤りが続いたため" in response.content.decode()
    assert [e.data["reason"] for e in events(muni_a, "staff.sign_in_failed")] == ["bad_totp", "throttled"]


@pytest.mark.django_db
def test_a_wrong_password_names_the_password(client, muni_a, admin_a):
    user, device = admin_a
    response = client.post(f"/{muni_a.code}/staff/login/",
                           {"username": user.username, "password": "wrong", "otp_token": totp_now(device)})
    body = response.content.decode()
    assert "ユーザー名またはパスワードが正しくありません。" in body and "確認コードが正しくありません" not in body


@pytest.mark.django_db
def test_the_code_step_needs_a_password_step_in_this_session(client, muni_a, admin_a):
    user, device = admin_a
    response = client.post(f"/{muni_a.code}/staff/login/", {"step": "code", "otp_token": totp_now(device)})
    assert response.status_code == 400  # the full form again: nothing pending
    assert client.get(f"/{muni_a.code}/staff/").status_code == 302
