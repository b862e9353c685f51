"""An organiser's event or room, its members (registered by residents with their card, known
to the organiser by a pairwise id), the terminals that record it, and each tap they sent."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned


class Event(TenantOwned):
    """An event (a lecture, a health check) or a room. `names_allowed`: the organiser may see
    the members' names, only with the legal basis written in `legal_basis`; otherwise the
    organiser sees pairwise ids only."""

    public_id = models.UUIDField(default=uuid.uuid4, editable=False)
    title = models.CharField(_("催し・部屋の名前"), max_length=100)
    place = models.CharField(_("場所"), max_length=200, blank=True)
    starts_on = models.DateField(_("開始日"))
    ends_on = models.DateField(_("終了日"))
    open = models.BooleanField(_("参加登録を受け付ける"), default=True)
    names_allowed = models.BooleanField(_("参加者の氏名を主催者に示す"), default=False)
    legal_basis = models.TextField(_("氏名を示す根拠"), blank=True)
    organiser = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "public_id"], name="attendance_event_once")]

    def __str__(self) -> str:
        return self.title


class Member(TenantOwned):
    """A resident registered for an event with their card (the card key of their current
    authentication certificate). `pairwise_id` is what the organiser sees: different for each
    event, it links nothing across events."""

    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="members")
    person = models.ForeignKey("identity.Person", on_delete=models.PROTECT, related_name="+")
    pairwise_id = models.CharField(max_length=26)
    card_key = models.CharField(max_length=16)
    registered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["municipality", "event", "person"], name="attendance_member_once"),
            models.UniqueConstraint(fields=["municipality", "event", "card_key"], name="attendance_member_card_once"),
            models.UniqueConstraint(fields=["municipality", "event", "pairwise_id"], name="attendance_member_pairwise"),
        ]


class Gate(TenantOwned):
    """Which event an attendance terminal (citizencard.Terminal of the service `attendance`)
    records: one event per terminal at a time."""

    terminal = models.ForeignKey("citizencard.Terminal", on_delete=models.PROTECT, related_name="+")
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="gates")
    assigned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "terminal"], name="attendance_gate_once")]


class Tap(TenantOwned):
    """One card tap a terminal sent (stored once: the terminal event is unique per terminal and
    id in citizencard). `counted`: a member's tap the terminal admitted; entries and exits are
    the counted taps of a member in the order of the terminal clocks (services.attendance)."""

    event = models.ForeignKey(Event, on_delete=models.PROTECT, null=True, blank=True, related_name="taps")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, null=True, blank=True, related_name="taps")
    terminal = models.ForeignKey("citizencard.Terminal", on_delete=models.PROTECT, related_name="+")
    tap_id = models.CharField(max_length=64)  # the terminal event id
    card_key = models.CharField(max_length=16)
    result = models.CharField(max_length=16)  # the terminal's decision
    counted = models.BooleanField(default=False)
    at = models.DateTimeField()  # the terminal's clock
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "terminal", "tap_id"],
                                               name="attendance_tap_once")]
