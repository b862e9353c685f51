"""E-mail through Django's mail backend (SMTP in production): multipart text + HTML in
UTF-8 (the subject as an RFC 2047 encoded word), with List-Unsubscribe and RFC 8058
one-click List-Unsubscribe-Post. An SMTP 5xx answer is permanent: the address is marked
invalid and never used again; a 4xx answer or a connection failure is retried."""

import contextlib
import smtplib
import socket

from madoguchi.notices.channels.base import DELIVERY_CHANNELS, DeliveryChannel, Message, PermanentFailure, TransientFailure


def _smtp_code(exc: smtplib.SMTPException) -> int | None:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return max(codes) if codes else None
    return getattr(exc, "smtp_code", None)


@DELIVERY_CHANNELS.register("email", "e-mail to the resident's verified address through Django's mail backend")
class EmailChannel(DeliveryChannel):
    name = "email"
    connection = None  # the batch's connection (one SMTP session for the batch)
    addresses = None  # person id → usable address, read for the batch (prepare)
    rendered = None  # message → bodies rendered once for the batch (emails.notice_mail)

    def prepare(self, deliveries) -> None:
        from madoguchi.notices.models import USABLE_EMAIL, EmailAddress

        self.addresses = {a.person_id: a for a in EmailAddress.objects.filter(
            USABLE_EMAIL, person_id__in=[d.person_id for d in deliveries]).select_related("municipality")}

    @contextlib.contextmanager
    def batch(self):
        from django.core.mail import get_connection

        self.connection = get_connection()
        self.rendered = {}
        try:
            # Opened here, the connection is one SMTP session for the whole batch (Django's
            # backend otherwise connects and quits around every message). A server that is
            # down now fails each send of the batch as a transient failure instead.
            self.connection.open()
        except (smtplib.SMTPException, OSError):
            pass
        try:
            yield self
        finally:
            self.rendered = None
            try:
                self.connection.close()
            except Exception:  # noqa: BLE001  (a server gone at QUIT loses nothing sent)
                pass
            self.connection = None

    def recipients(self, person_ids):
        from madoguchi.notices.models import USABLE_EMAIL, EmailAddress

        return set(EmailAddress.objects.filter(USABLE_EMAIL, person_id__in=person_ids).values_list("person_id", flat=True))

    def reachable(self):
        from madoguchi.notices.models import USABLE_EMAIL, EmailAddress

        return EmailAddress.objects.filter(USABLE_EMAIL).values("person_id")

    def send(self, delivery, message: Message) -> None:
        from madoguchi.notices import emails
        from madoguchi.notices.models import USABLE_EMAIL, EmailAddress

        if self.addresses is not None:
            address = self.addresses.get(delivery.person_id)
        else:
            address = EmailAddress.objects.filter(USABLE_EMAIL, person_id=delivery.person_id).first()
        if address is None:
            raise PermanentFailure("no usable address")
        mail = emails.notice_mail(address, message, self.rendered)
        if self.connection is not None:
            mail.connection = self.connection
        try:
            mail.send()
        except smtplib.SMTPException as exc:
            if isinstance(exc, smtplib.SMTPServerDisconnected) and self.connection is not None:
                self.connection.close()  # the next send of the batch connects again
            code = _smtp_code(exc)
            if code is not None and 500 <= code < 600:
                raise PermanentFailure(f"SMTP {code}") from None
            raise TransientFailure(f"SMTP {code or type(exc).__name__}") from None
        except (OSError, socket.timeout) as exc:
            if self.connection is not None:
                self.connection.close()
            raise TransientFailure(type(exc).__name__) from None

    def forget(self, delivery, reason: str) -> None:
        from madoguchi.notices import emails

        emails.mark_invalid(delivery.person_id, reason)
