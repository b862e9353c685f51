"""Which card services a municipality offers; its terminals (counters, gates) with their own
keys; ticket types, tickets bound to a resident's card, and the events the terminals send."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned


class EnabledService(TenantOwned):
    key = models.CharField(_("サービス"), max_length=40)
    enabled_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "key"], name="citizencard_service_once")]

    def __str__(self) -> str:
        return self.key


class TicketType(TenantOwned):
    """What the municipality (the issuer) admits: an event on a day, an admission kind.
    `single_entry`: a ticket admits once (the gate keeps it in its `used` set)."""

    public_id = models.UUIDField(default=uuid.uuid4, editable=False)
    event = models.CharField(_("イベント"), max_length=100)
    day = models.DateField(_("開催日"))
    admission = models.CharField(_("入場の種類"), max_length=50)
    single_entry = models.BooleanField(_("1回だけ入場できる"), default=True)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "public_id"], name="citizencard_tickettype_once")]

    def __str__(self) -> str:
        return f"{self.event} {self.day} {self.admission}"


class Terminal(TenantOwned):
    """A counter terminal or gate, registered by staff with the Ed25519 public key it made
    itself (`madoguchi terminal keygen`). Requests are signed with that key; a revoked
    terminal is refused."""

    public_id = models.UUIDField(default=uuid.uuid4, editable=False)
    name = models.CharField(_("端末の名前"), max_length=100)
    place = models.CharField(_("設置場所"), max_length=200, blank=True)
    service = models.CharField(_("サービス"), max_length=40)
    ticket_type = models.ForeignKey(TicketType, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    public_key = models.TextField()  # PEM SubjectPublicKeyInfo
    key_sha256 = models.CharField(max_length=64)
    active = models.BooleanField(default=True)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    registered_at = models.DateTimeField(auto_now_add=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=200, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["municipality", "public_id"], name="citizencard_terminal_once"),
            models.UniqueConstraint(fields=["municipality", "key_sha256"], name="citizencard_terminal_key_once"),
        ]

    def __str__(self) -> str:
        return self.name


class Ticket(TenantOwned):
    """A ticket bound to one resident's card: the card key (madoguchi.terminal.index.card_key)
    of their authentication certificate. Only the issuer (staff) moves it to another card."""

    class Status(models.TextChoices):
        VALID = "valid", _("未使用")
        USED = "used", _("入場済み")
        CANCELLED = "cancelled", _("取消")

    public_id = models.UUIDField(default=uuid.uuid4, editable=False)
    ticket_type = models.ForeignKey(TicketType, on_delete=models.PROTECT, related_name="tickets")
    person = models.ForeignKey("identity.Person", on_delete=models.PROTECT, related_name="+")
    card_key = models.CharField(max_length=16)  # 16 hex digits, as the terminal's events carry it
    certificate_sha256 = models.CharField(max_length=64)
    status = models.CharField(_("状態"), max_length=12, choices=Status.choices, default=Status.VALID)
    bound_at = models.DateTimeField(auto_now_add=True)
    admitted_at = models.DateTimeField(null=True, blank=True)
    admitted_by = models.ForeignKey(Terminal, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["municipality", "public_id"], name="citizencard_ticket_once"),
            models.UniqueConstraint(fields=["municipality", "ticket_type", "person"],
                                    name="citizencard_ticket_one_per_person"),
            models.UniqueConstraint(fields=["municipality", "ticket_type", "card_key"],
                                    name="citizencard_ticket_one_per_card"),
        ]


class TerminalEvent(TenantOwned):
    """One decision a terminal made (offline), as it sent it; unique by its id per terminal,
    so a resend is acknowledged without a duplicate. `outcome` is the server's settlement:
    for tickets, the first admission received wins and a later one is a conflict."""

    class Outcome(models.TextChoices):
        ADMITTED = "admitted", _("入場")
        CONFLICT = "conflict", _("重複入場（別の入場口で入場済み）")
        CANCELLED = "cancelled", _("取消済みのチケットで入場（取消を同期する前の入場口）")
        REFUSED = "refused", _("入場を断った")
        UNKNOWN = "unknown", _("対応するチケットなし")

    terminal = models.ForeignKey(Terminal, on_delete=models.PROTECT, related_name="events")
    event_id = models.CharField(max_length=64)
    service = models.CharField(max_length=40)
    card_key = models.CharField(max_length=16)
    result = models.CharField(max_length=16)  # the terminal's decision
    at = models.DateTimeField()  # the terminal's clock
    received_at = models.DateTimeField(auto_now_add=True)
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, null=True, blank=True, related_name="events")
    outcome = models.CharField(max_length=12, choices=Outcome.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "terminal", "event_id"],
                                               name="citizencard_event_once")]


class SealCard(TenantOwned):
    """A resident's choice to use their My Number Card as their 印鑑登録証 (seal registration
    card). Bound to the Person, not to a certificate: it survives a card renewal (the card's
    current authentication certificate is linked to the same Person). Revocable by the
    resident and by staff; a revoked choice stays as the record of it."""

    person = models.ForeignKey("identity.Person", on_delete=models.PROTECT, related_name="+")
    chosen_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")  # None with revoked_at: the resident revoked it
    revoked_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "person"], condition=models.Q(revoked_at=None),
                                               name="citizencard_sealcard_one_active")]
