"""The resident's devices for Web Push: a subscription checked field by field before it is
stored (the endpoint https, outside the test configuration; the keys a P-256 point and a
16-byte secret), listed and removable on the account page."""

import base64
import binascii
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from madoguchi.audit.services import record
from madoguchi.municipalities.tenancy import current_municipality

from .models import PushSubscription

MAX_DEVICES = 10


class SubscriptionError(ValueError):
    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def _b64url(value, field: str, length: int | None = None) -> bytes:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise SubscriptionError(field, _("%(field)s: base64url の値がありません。") % {"field": field})
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise SubscriptionError(field, _("%(field)s: base64url として読めません。") % {"field": field}) from None
    if length is not None and len(raw) != length:
        raise SubscriptionError(field, _("%(field)s: 長さが正しくありません。") % {"field": field})
    return raw


def check(data) -> tuple[str, str, str]:
    """(endpoint, p256dh, auth) of a PushSubscription.toJSON(), or SubscriptionError naming the field."""
    if not isinstance(data, dict):
        raise SubscriptionError("subscription", _("subscription: JSON のオブジェクトではありません。"))
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > 1000:
        raise SubscriptionError("endpoint", _("endpoint: URL がないか、長すぎます。"))
    parts = urlsplit(endpoint)
    allowed = ("https", "http") if settings.NOTICES_PUSH_INSECURE_ENDPOINTS else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        raise SubscriptionError("endpoint", _("endpoint: https の URL ではありません。"))
    keys = data.get("keys")
    if not isinstance(keys, dict):
        raise SubscriptionError("keys", _("keys: p256dh と auth がありません。"))
    p256dh = _b64url(keys.get("p256dh"), "keys.p256dh", 65)
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
    except ValueError:
        raise SubscriptionError("keys.p256dh", _("keys.p256dh: P-256 の公開鍵ではありません。")) from None
    _b64url(keys.get("auth"), "keys.auth", 16)
    return endpoint, keys["p256dh"], keys["auth"]


def subscription_key(data) -> str:
    """The applicationServerKey the page subscribed with (it sends it beside the
    subscription): the current key or a kept previous one; none named means the current one."""
    from . import vapid

    code = current_municipality().code
    known = vapid.known_public_keys(code)
    named = data.get("applicationServerKey") if isinstance(data, dict) else None
    if named is None:
        return known[0] if known else ""
    if not isinstance(named, str) or named not in known:
        raise SubscriptionError("applicationServerKey",
                                _("applicationServerKey: この自治体の鍵ではありません。ページを開き直してください。"))
    return named


def subscribe(person, data, label: str = "") -> PushSubscription:
    endpoint, p256dh, auth = check(data)
    key = subscription_key(data)
    with transaction.atomic():
        if PushSubscription.objects.filter(person=person).exclude(endpoint=endpoint).count() >= MAX_DEVICES:
            raise SubscriptionError("endpoint", _("endpoint: 登録できる端末は10台までです。"))
        existing = PushSubscription.objects.filter(endpoint=endpoint).first()
        if existing is not None and existing.person_id != person.pk:
            existing.delete()  # the device changed hands: the old owner's subscription goes
        row, _created = PushSubscription.objects.update_or_create(
            endpoint=endpoint, defaults={"person": person, "p256dh": p256dh, "auth": auth, "label": label[:60], "vapid_key": key,
                                         "municipality": current_municipality()})
        record("notices.push_subscribed", actor=("resident", str(person.public_id)), obj=row)
    return row


def devices_of(person) -> list[PushSubscription]:
    return list(PushSubscription.objects.filter(person=person).order_by("created_at"))


def unsubscribe(person, pk: int) -> bool:
    with transaction.atomic():
        row = PushSubscription.objects.filter(person=person, pk=pk).first()
        if row is None:
            return False
        record("notices.push_removed", actor=("resident", str(person.public_id)), obj=row, data={"by": "resident"})
        row.delete()
    return True


def gone(row, status: int) -> None:
    """The push service says the subscription no longer exists (404/410): remove it."""
    record("notices.push_removed", obj=row, data={"by": "push service", "status": status})
    row.delete()
