"""Staff sign-in: password (django-axes counts failures) then TOTP (django-otp)."""

import hashlib
import time

from django.contrib.auth import authenticate, login
from django.contrib.auth.signals import user_login_failed
from axes.handlers.proxy import AxesProxyHandler
from django_otp import login as otp_login
from django_otp import match_token

from madoguchi.audit.services import record
from madoguchi.municipalities.middleware import STAFF_MUNICIPALITY_SESSION_KEY

from .models import Membership


class SignInFailed(Exception):
    def __init__(self, reason: str, locked: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.locked = locked


def _username_ref(username: str) -> str:
    # A failed attempt's username may be a mistyped password: keep a short hash only.
    return hashlib.sha256(username.encode("utf-8")).hexdigest()[:16]


def _fail(request, municipality, reason: str, user=None, username: str = "", audited_reason: str = "") -> SignInFailed:
    locked = bool(getattr(request, "axes_locked_out", False))
    record(
        "staff.sign_in_failed",
        municipality=municipality,
        actor=("staff", str(user.pk)) if user is not None else ("anonymous", ""),
        data={"reason": "locked_out" if locked else (audited_reason or reason), "username_sha256": _username_ref(username)},
    )
    return SignInFailed(reason, locked=locked)


PENDING_KEY = "staff_sign_in_pending"
PENDING_SECONDS = 300


def password_step(request, municipality, username: str, password: str):
    """The first step: the password (django-axes counts failures), then the membership.
    Returns (user, membership) or raises SignInFailed ("bad_password", "not_a_member")."""
    user = authenticate(request, username=username, password=password)
    if user is None:
        raise _fail(request, municipality, "bad_password", username=username)
    membership = Membership.objects.filter(user=user).first()  # scoped to this municipality
    if membership is None or not user.is_active:
        user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
        raise _fail(request, municipality, "bad_password", user=user, username=username,
                    audited_reason="not_a_member")
    return user, membership


def code_step(request, municipality, user, membership, token: str):
    """The second step: the one-time code of the staff member's authenticator (django-otp).
    A wrong code counts toward the lockout like a wrong password; a device throttled after
    wrong codes refuses even the right one for a few seconds ("throttled")."""
    from django_otp import devices_for_user

    username = user.get_username()
    if AxesProxyHandler.is_locked(request, credentials={"username": username}):
        request.axes_locked_out = True
        request.axes_credentials = {"username": username}
        raise _fail(request, municipality, "bad_totp", user=user, username=username)
    devices = list(devices_for_user(user, confirmed=True))
    throttled = [d for d in devices if not d.verify_is_allowed()[0]]
    device = match_token(user, token)
    if device is None:
        user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
        raise _fail(request, municipality, "throttled" if throttled and len(throttled) == len(devices) else "bad_totp",
                    user=user, username=username)
    request.session.pop(PENDING_KEY, None)
    login(request, user, backend=getattr(user, "backend", None) or "django.contrib.auth.backends.ModelBackend")
    otp_login(request, device)
    request.session[STAFF_MUNICIPALITY_SESSION_KEY] = municipality.pk
    record("staff.signed_in", municipality=municipality, actor=user, obj=membership)
    return membership


def sign_in(request, municipality, username: str, password: str, token: str):
    """Signs a staff member in to one municipality, or raises SignInFailed naming the step
    that failed: "bad_password" (the password, or no membership here: the same to the
    person), "bad_totp" or "throttled" (the password was right; the one-time code was not).
    After a wrong code the password step is remembered in the session for a few minutes
    (`pending_user`), so the person types only a new code. Every failure counts toward
    the lockout of that username."""
    user, membership = password_step(request, municipality, username, password)
    try:
        return code_step(request, municipality, user, membership, token)
    except SignInFailed as exc:
        if exc.reason in ("bad_totp", "throttled") and not exc.locked:
            request.session[PENDING_KEY] = {"user": user.pk, "municipality": municipality.pk,
                                            "until": time.time() + PENDING_SECONDS}
        raise


def pending_user(request, municipality):
    """(user, membership) whose password was right a few minutes ago here, or None."""
    from django.contrib.auth import get_user_model

    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict) or pending.get("municipality") != municipality.pk \
            or not isinstance(pending.get("until"), (int, float)) or pending["until"] < time.time():
        request.session.pop(PENDING_KEY, None)
        return None
    user = get_user_model().objects.filter(pk=pending.get("user"), is_active=True).first()
    membership = Membership.objects.filter(user=user).first() if user else None
    if membership is None:
        request.session.pop(PENDING_KEY, None)
        return None
    return user, membership


def forget_pending(request) -> None:
    request.session.pop(PENDING_KEY, None)


def current_totp(device) -> str:
    """The code the staff member's authenticator shows now (for the demo's printout)."""
    from django_otp.oath import TOTP

    token = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token()
    return f"{token:0{device.digits}d}"


def enrol_staff(municipality, username: str, role: str, department=None, password: str | None = None,
                cashier: bool | None = None):
    """Creates or updates a staff account with its membership and one confirmed TOTP device.

    Returns (user, membership, device, created). An existing device keeps its secret, so
    running this again never invalidates an authenticator that is already set up.
    """
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django_otp.plugins.otp_totp.models import TOTPDevice

    User = get_user_model()
    with transaction.atomic():
        user, created = User.objects.get_or_create(username=username)
        if password is not None:
            user.set_password(password)
        elif created:
            user.set_unusable_password()
        # Admin-site access is decided per municipality (StaffAdminSite.has_permission).
        user.is_staff = True
        user.save()
        membership = Membership.unscoped.filter(municipality=municipality, user=user).first()
        if membership is None:
            membership = Membership(municipality=municipality, user=user)
        membership.role = role
        membership.department = department
        if cashier is not None:
            membership.cashier = cashier
        membership.save()
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
        record("staff.enrolled", municipality=municipality, actor=None, obj=membership,
               data={"role": role, "created": created, "cashier": membership.cashier})
    return user, membership, device, created


def is_cashier(municipality, user) -> bool:
    """会計担当: the user's membership in the municipality carries the cashier flag (who may
    record 窓口払い and refunds; payments checks it in its services)."""
    return Membership.unscoped.filter(municipality=municipality, user=user, cashier=True).exists()
