"""来庁予約: a counter (窓口) with its opening hours and slots, the days it is closed, and the
residents' bookings. A slot's capacity is enforced by the database: each booked slot has a
row counting its bookings, with a check constraint that the count never passes the capacity
copied onto it — so however many residents race for the last place, exactly the capacity is
booked."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned


class Counter(TenantOwned):
    name = models.CharField(_("窓口の名前"), max_length=100)
    place = models.CharField(_("場所"), max_length=200, blank=True)
    # Opening hours on weekdays (Mon–Fri); Saturdays and Sundays closed, as are the holidays.
    opens_at = models.TimeField(_("受付開始"))
    closes_at = models.TimeField(_("受付終了"))
    slot_minutes = models.PositiveSmallIntegerField(_("1枠の長さ（分）"))
    capacity = models.PositiveSmallIntegerField(_("1枠の定員"))
    book_days_ahead = models.PositiveSmallIntegerField(_("何日先まで予約できるか"), default=30)
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "name"], name="booking_counter_name_once")]

    def __str__(self) -> str:
        return self.name


class Holiday(TenantOwned):
    """A day every counter of the municipality is closed (祝日, 年末年始)."""

    day = models.DateField(_("休日"))
    name = models.CharField(_("名前"), max_length=100, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "day"], name="booking_holiday_once")]


class Slot(TenantOwned):
    """A booked slot's count. Created by the first booking; the check constraint is the
    overbooking guard (the service also locks the row)."""

    counter = models.ForeignKey(Counter, on_delete=models.CASCADE, related_name="slots")
    starts_at = models.DateTimeField()
    capacity = models.PositiveSmallIntegerField()
    booked = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["municipality", "counter", "starts_at"], name="booking_slot_once"),
            models.CheckConstraint(condition=Q(booked__lte=F("capacity")), name="booking_slot_within_capacity"),
        ]


class Booking(TenantOwned):
    class Status(models.TextChoices):
        BOOKED = "booked", _("予約中")
        CANCELLED = "cancelled", _("取消")
        VISITED = "visited", _("来庁済み")
        NO_SHOW = "no_show", _("来庁なし")

    public_id = models.UUIDField(default=uuid.uuid4, editable=False)
    counter = models.ForeignKey(Counter, on_delete=models.PROTECT, related_name="bookings")
    starts_at = models.DateTimeField(_("予約日時"))
    person = models.ForeignKey("identity.Person", on_delete=models.PROTECT, related_name="+")
    purpose = models.CharField(_("用件"), max_length=100)
    status = models.CharField(_("状態"), max_length=12, choices=Status.choices, default=Status.BOOKED)
    reminded = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "public_id"], name="booking_public_id_once")]
        indexes = [models.Index(fields=["municipality", "counter", "starts_at"], name="booking_counter_time"),
                   models.Index(fields=["municipality", "person", "status"], name="booking_person_status")]
