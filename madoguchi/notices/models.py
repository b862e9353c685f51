import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned


class Category(models.TextChoices):
    """What a notice is about; the resident chooses per category (EMERGENCY cannot be silenced)."""

    APPLICATIONS = "applications", _("申請の状況")
    BENEFITS = "benefits", _("給付・お支払い")
    ANNOUNCEMENTS = "announcements", _("市からのお知らせ")
    EMERGENCY = "emergency", _("防災・緊急")


class Delivery(TenantOwned):
    """One notice to one resident through one channel. References only: the message (a
    title, the category, a link) is rendered from `kind` when sent, never a name, an
    application's data or an individual number."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("送信待ち")
        SENDING = "sending", _("送信中")  # engine: claimed by a worker (claimed_at)
        SENT = "sent", _("送信済み")
        FAILED = "failed", _("送信失敗")

    public_id = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    person = models.ForeignKey("identity.Person", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=20)
    category = models.CharField(max_length=20, choices=Category.choices)
    kind = models.CharField(max_length=40)  # the message's key (messages.TITLES), or "broadcast"
    broadcast = models.ForeignKey("notices.Broadcast", on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="deliveries")
    link = models.CharField(max_length=200)  # a path in the portal, read after sign-in
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Engine (batched fan-out): when a worker claimed the row for sending; a row left SENDING
    # longer than NOTICES_CLAIM_STALE_SECONDS is queued again by the sweep.
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["municipality", "person", "created_at"], name="delivery_by_person"),
            models.Index(fields=["municipality", "status", "channel"], name="delivery_by_status"),
        ]


class EmailAddress(TenantOwned):
    """The resident's e-mail address for notices in one municipality: used only once
    verified by a link, and never again once a permanent SMTP failure marked it invalid or
    the resident unsubscribed (a new address starts over)."""

    person = models.ForeignKey("identity.Person", on_delete=models.CASCADE, related_name="+")
    address = models.EmailField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    invalid_at = models.DateTimeField(null=True, blank=True)
    invalid_reason = models.CharField(max_length=200, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "person"], name="email_one_per_person")]

    @property
    def usable(self) -> bool:
        return bool(self.verified_at and not self.invalid_at and not self.unsubscribed_at)


USABLE_EMAIL = Q(verified_at__isnull=False, invalid_at__isnull=True, unsubscribed_at__isnull=True)


class PushSubscription(TenantOwned):
    """One device's Web Push subscription (RFC 8030 endpoint, RFC 8291 keys) for notices.
    Removed by the resident on the account page, or when the push service answers 404/410."""

    person = models.ForeignKey("identity.Person", on_delete=models.CASCADE, related_name="+")
    endpoint = models.URLField(max_length=1000)
    p256dh = models.CharField(max_length=100)  # the device's P-256 public key, base64url
    auth = models.CharField(max_length=40)  # the 16-byte authentication secret, base64url
    label = models.CharField(max_length=60, blank=True)  # a device name for the account page
    created_at = models.DateTimeField(auto_now_add=True)
    # Engine (VAPID rotation): the applicationServerKey the device subscribed with; it is
    # pushed with that key until it subscribes again (blank: the key current when it was made,
    # stamped at the next rotation).
    vapid_key = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "endpoint"], name="push_endpoint_unique")]
        indexes = [models.Index(fields=["municipality", "person"], name="push_by_person")]


class Silenced(TenantOwned):
    """A category the resident does not want on their e-mail and devices (the inbox keeps
    everything). EMERGENCY is never silenced: the engine ignores such a row."""

    person = models.ForeignKey("identity.Person", on_delete=models.CASCADE, related_name="+")
    category = models.CharField(max_length=20, choices=Category.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "person", "category"],
                                               name="silenced_once")]


class Broadcast(TenantOwned):
    """お知らせ配信: a notice from the city hall to a segment of its residents. Its title is
    what every delivery carries (with the category and a link); the body (and the English
    version) is read in the portal's お知らせ, after sign-in. A municipality-wide or an
    emergency broadcast is sent only after a second member of staff approved it."""

    class Segment(models.TextChoices):
        ALL = "all", _("市内全域")
        DISTRICT = "district", _("町丁目")
        AGE = "age", _("年齢")
        CHILDREN = "children", _("子どものいる世帯")
        APPLICANTS = "applicants", _("手続きの申請者")

    class Status(models.TextChoices):
        DRAFT = "draft", _("下書き")
        APPROVED = "approved", _("承認済み")
        SCHEDULED = "scheduled", _("配信予約済み")
        SENT = "sent", _("配信済み")

    public_id = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    title = models.CharField(max_length=100)
    body = models.TextField(blank=True)
    title_en = models.CharField(max_length=100, blank=True)
    body_en = models.TextField(blank=True)
    category = models.CharField(max_length=20, choices=Category.choices)
    segment = models.CharField(max_length=10, choices=Segment.choices)
    district = models.CharField(max_length=100, blank=True)  # an address prefix (町丁目)
    # AGE: the legal age on `reference_date` within [age_min, age_max]; CHILDREN: households
    # with a child under `child_age_under` on `reference_date` (the send day when empty).
    age_min = models.PositiveSmallIntegerField(null=True, blank=True)
    age_max = models.PositiveSmallIntegerField(null=True, blank=True)
    child_age_under = models.PositiveSmallIntegerField(null=True, blank=True)
    reference_date = models.DateField(null=True, blank=True)
    # APPLICANTS: residents with an application of this procedure in this status.
    procedure_slug = models.CharField(max_length=63, blank=True)
    application_status = models.CharField(max_length=30, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    recipients = models.PositiveIntegerField(default=0)  # persons in the segment when sent

    class Meta:
        indexes = [models.Index(fields=["municipality", "status", "scheduled_at"], name="broadcast_due")]


class InboxEntry(TenantOwned):
    """A broadcast in one resident's お知らせ: written for every recipient when it is sent,
    whether or not an e-mail address or a device reaches them."""

    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="inbox")
    person = models.ForeignKey("identity.Person", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "broadcast", "person"], name="inbox_once")]
        indexes = [models.Index(fields=["municipality", "person", "created_at"], name="inbox_by_person")]


class QuietHours(TenantOwned):
    """Engine: the municipality's quiet hours (e.g. 21:00–08:00 Japan time), during which
    push deliveries that are not 防災・緊急 wait until the end. One row per municipality;
    none means no quiet hours. `start` after `end` spans midnight."""

    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality"], name="quiet_hours_once")]
