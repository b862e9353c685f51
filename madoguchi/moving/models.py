"""The destination's 転入予定: a verified 転出 package received from the origin municipality
(same deployment or imported from a file). Owned by the destination municipality."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned


class IncomingMove(TenantOwned):
    class Status(models.TextChoices):
        EXPECTED = "expected", _("転入予定")
        CONFIRMED = "confirmed", _("転入済み")

    origin_code = models.CharField(_("転出元の団体コード"), max_length=6)
    application = models.CharField(_("転出届の受付番号"), max_length=40)
    move_out_on = models.CharField(_("転出予定日"), max_length=10)
    payload = models.JSONField()
    signer_sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.EXPECTED)
    received_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    moved_in_on = models.DateField(_("転入日"), null=True, blank=True)
    record_ids = models.JSONField(default=list, blank=True)  # the destination's new 住民記録, once confirmed
    # The 転入通知 for an origin on another deployment: the destination's signed word that the
    # 転入 is confirmed, for the origin's `moving import` (it marks its records moved out).
    notice = models.BinaryField(null=True, blank=True)
    notice_exported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "origin_code", "application"],
                                               name="moving_incoming_once")]


class OutgoingMove(TenantOwned):
    """The origin's side of a 転出: made when staff accept a 転出届, signed in the background,
    delivered to the destination when it is on this deployment or kept for export. The
    origin's residents stay residents (moving) until the destination confirms the 転入."""

    class Status(models.TextChoices):
        PREPARING = "preparing", _("作成中")
        NEEDS_DESTINATION = "needs_destination", _("転入先の確認待ち")
        READY = "ready", _("送付待ち（他の基盤）")
        DELIVERED = "delivered", _("転入先へ送付済み")
        CONFIRMED = "confirmed", _("転入済み（転出確定）")

    application = models.CharField(_("転出届の受付番号"), max_length=40)
    application_id = models.UUIDField()
    person_id = models.BigIntegerField(null=True)  # the notifier's account (identity.Person), for their page
    destination_code = models.CharField(_("転入先の団体コード"), max_length=6, blank=True)
    destination_name = models.CharField(_("転入先の市区町村"), max_length=60)
    move_out_on = models.DateField(_("転出予定日"))
    payload = models.JSONField()
    package = models.BinaryField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PREPARING)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    exported_at = models.DateTimeField(null=True, blank=True)  # first written for another deployment
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "application"], name="moving_outgoing_once")]


class FollowUp(TenantOwned):
    """A procedure that usually follows a move, as the municipality lists it (ライフイベント):
    the resident sees the ones that apply to their household after a 転出 or a 転入, with the
    state of their application where the procedure is online."""

    class Event(models.TextChoices):
        MOVED_IN = "moved_in", _("転入のあと")
        MOVED_OUT = "moved_out", _("転出のあと")

    class Applies(models.TextChoices):
        EVERYONE = "everyone", _("すべての世帯")
        CHILDREN = "children", _("18歳未満の子がいる世帯")
        SCHOOL = "school", _("小学生・中学生がいる世帯")
        SENIORS = "seniors", _("65歳以上の人がいる世帯")

    event = models.CharField(_("いつ"), max_length=12, choices=Event.choices)
    title = models.CharField(_("手続きの名前"), max_length=100)
    applies_to = models.CharField(_("対象"), max_length=12, choices=Applies.choices, default=Applies.EVERYONE)
    procedure_slug = models.SlugField(_("オンライン申請の手続き（あれば）"), max_length=80, blank=True)
    where = models.CharField(_("窓口（オンラインでないとき）"), max_length=100, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["event", "position", "id"]
