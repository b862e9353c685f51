"""Staff sign-in: password (django-axes counts failures) then TOTP (django-otp)."""

import hashlib

from django.contrib.auth import authenticate, login
from django.contrib.auth.signals import user_login_failed
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


def _fail(request, municipality, reason: str, user=None, username: str = "") -> SignInFailed:
    locked = bool(getattr(request, "axes_locked_out", False))
    record(
        "staff.sign_in_failed",
        municipality=municipality,
        actor=("staff", str(user.pk)) if user is not None else ("anonymous", ""),
        data={"reason": "locked_out" if locked else reason, "username_sha256": _username_ref(username)},
    )
    return SignInFailed(reason, locked=locked)


def sign_in(request, municipality, username: str, password: str, token: str):
    """Signs a staff member in to one municipality, or raises SignInFailed.

    The three failures (password, membership, TOTP) look the same to the person signing
    in, and each counts toward the lockout of that username.
    """
    user = authenticate(request, username=username, password=password)
    if user is None:
        raise _fail(request, municipality, "bad_password", username=username)
    membership = Membership.objects.filter(user=user).first()  # scoped to this municipality
    if membership is None or not user.is_active:
        user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
        raise _fail(request, municipality, "not_a_member", user=user, username=username)
    device = match_token(user, token)
    if device is None:
        user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
        raise _fail(request, municipality, "bad_totp", user=user, username=username)
    login(request, user)
    otp_login(request, device)
    request.session[STAFF_MUNICIPALITY_SESSION_KEY] = municipality.pk
    record("staff.signed_in", municipality=municipality, actor=user, obj=membership)
    return membership


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
