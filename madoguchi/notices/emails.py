"""The resident's e-mail address: registered on the account page, verified by a signed
link, unsubscribed by a signed one-click link (RFC 8058), marked invalid by a permanent
SMTP failure. The mails themselves (text + HTML)."""

import hashlib

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from madoguchi.audit.services import record
from madoguchi.municipalities.tenancy import current_municipality

from .channels import Message
from .models import EmailAddress

VERIFY_SALT = "madoguchi.notices.email-verify"
UNSUBSCRIBE_SALT = "madoguchi.notices.email-unsubscribe"
VERIFY_MAX_AGE = 24 * 3600


class AddressError(ValueError):
    """A refused address; `field` names the form field."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def address_of(person) -> EmailAddress | None:
    return EmailAddress.objects.filter(person=person).first()


def register(person, address: str) -> EmailAddress:
    """Sets the person's address (unverified) and sends the verification mail by the worker."""
    address = (address or "").strip()
    try:
        if not address or len(address) > 254:
            raise ValidationError("length")
        validate_email(address)
    except ValidationError:
        raise AddressError("email", _("メールアドレスの形式が正しくありません。")) from None
    with transaction.atomic():
        row, _created = EmailAddress.objects.update_or_create(person=person, defaults={
            "address": address, "verified_at": None, "invalid_at": None, "invalid_reason": "",
            "unsubscribed_at": None})
        record("notices.email_registered", actor=("resident", str(person.public_id)), obj=row)
        from .tasks import send_verification

        code, pk = current_municipality().code, row.pk
        transaction.on_commit(lambda: send_verification.enqueue(code, pk))
    return row


def remove(person) -> bool:
    with transaction.atomic():
        row = address_of(person)
        if row is None:
            return False
        record("notices.email_removed", actor=("resident", str(person.public_id)), obj=row)
        row.delete()
    return True


def _address_hash(address: str) -> str:
    # The token is signed, not encrypted: it carries a digest, so a URL in a log shows no address.
    return hashlib.sha256(address.encode()).hexdigest()[:16]


def _token(row, salt: str) -> str:
    return signing.dumps({"m": row.municipality.code, "a": row.pk, "e": _address_hash(row.address)}, salt=salt)


def _row_of(token: str, salt: str, max_age=None) -> EmailAddress | None:
    try:
        payload = signing.loads(token, salt=salt, max_age=max_age)
    except signing.BadSignature:  # includes SignatureExpired
        return None
    if payload.get("m") != current_municipality().code:
        return None
    # The address is part of the token: a link for an earlier address does nothing.
    row = EmailAddress.objects.filter(pk=payload.get("a")).first()
    return row if row is not None and _address_hash(row.address) == payload.get("e") else None


def verify(token: str) -> EmailAddress | None:
    with transaction.atomic():
        row = _row_of(token, VERIFY_SALT, VERIFY_MAX_AGE)
        if row is None:
            return None
        if row.verified_at is None:
            row.verified_at = timezone.now()
            row.save(update_fields=["verified_at"])
            record("notices.email_verified", actor=("resident", str(row.person.public_id)), obj=row)
    return row


def unsubscribe(token: str) -> EmailAddress | None:
    with transaction.atomic():
        row = _row_of(token, UNSUBSCRIBE_SALT)
        if row is None:
            return None
        if row.unsubscribed_at is None:
            row.unsubscribed_at = timezone.now()
            row.save(update_fields=["unsubscribed_at"])
            record("notices.email_unsubscribed", obj=row)
    return row


def mark_invalid(person_id: int, reason: str) -> None:
    row = EmailAddress.objects.filter(person_id=person_id).first()
    if row is not None and row.invalid_at is None:
        row.invalid_at, row.invalid_reason = timezone.now(), reason[:200]
        row.save(update_fields=["invalid_at", "invalid_reason"])
        record("notices.email_invalid", obj=row, data={"reason": reason[:200]})


def _mail(row, subject: str, template: str, context: dict, headers: dict | None = None) -> EmailMultiAlternatives:
    context = {**context, "municipality": current_municipality()}
    text = render_to_string(f"notices/{template}.txt", context)
    html = render_to_string(f"notices/{template}.html", context)
    mail = EmailMultiAlternatives(subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL,
                                  to=[row.address], headers=headers or {})
    mail.attach_alternative(html, "text/html")
    return mail


# Stands for the recipient's unsubscribe link in a body rendered once for a whole batch
# (tokens are URL-safe: [A-Za-z0-9_:-], unchanged by HTML escaping).
_UNSUBSCRIBE_MARK = "\x00unsubscribe\x00"


def notice_mail(row, message: Message, rendered: dict | None = None) -> EmailMultiAlternatives:
    """The notice mail to one address. `rendered` (a dict the caller keeps for a batch)
    holds the bodies already rendered for a message: a broadcast's million mails differ only
    in the address and the unsubscribe link, so the templates run once per message and
    language, not once per recipient."""
    unsubscribe_url = settings.SITE_URL + reverse(
        "notices:email_unsubscribe", kwargs={"code": current_municipality().code,
                                            "token": _token(row, UNSUBSCRIBE_SALT)})
    subject = f"[{message.category_label}] {message.title}"
    headers = {"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    if rendered is None:
        return _mail(row, subject, "notice_mail", {"message": message, "unsubscribe_url": unsubscribe_url},
                     headers=headers)
    key = (message, translation.get_language())
    if key not in rendered:
        context = {"message": message, "unsubscribe_url": _UNSUBSCRIBE_MARK, "municipality": current_municipality()}
        rendered[key] = (render_to_string("notices/notice_mail.txt", context),
                         render_to_string("notices/notice_mail.html", context))
    text, html = (body.replace(_UNSUBSCRIBE_MARK, unsubscribe_url) for body in rendered[key])
    mail = EmailMultiAlternatives(subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL,
                                  to=[row.address], headers=headers)
    mail.attach_alternative(html, "text/html")
    return mail


def send_verification(address_id: int) -> None:
    row = EmailAddress.objects.filter(pk=address_id, verified_at__isnull=True).first()
    if row is None:
        return
    url = settings.SITE_URL + reverse("notices:email_verify", kwargs={"code": current_municipality().code,
                                                                     "token": _token(row, VERIFY_SALT)})
    _mail(row, _("メールアドレスの確認"), "verify_mail", {"url": url}).send()
