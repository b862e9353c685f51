from django.db import models
from django.db.models import Q

from madoguchi.municipalities.tenancy import TenantOwned

DEPLOYMENT_CHAIN = "deployment"


class AppendOnly(RuntimeError):
    pass


class AuditEvent(TenantOwned):
    """One append-only event. The body holds references, never personal data.

    Events of one municipality form a chain: `seq` counts from 1 and `hash` covers the
    event and the previous event's hash. Deployment-level events (no municipality) form a
    chain of their own. UPDATE and DELETE are refused by triggers (migration 0002) and,
    on PostgreSQL, by the privileges of the application's role.
    """

    class ActorType(models.TextChoices):
        STAFF = "staff", "staff"
        RESIDENT = "resident", "resident"
        SYSTEM = "system", "system"
        ANONYMOUS = "anonymous", "anonymous"

    municipality = models.ForeignKey(
        "municipalities.Municipality", on_delete=models.PROTECT, related_name="+", null=True, editable=False
    )
    seq = models.PositiveBigIntegerField()
    occurred_at = models.DateTimeField()
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "seq"], name="audit_event_unique_seq_per_municipality",
                condition=Q(municipality__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["seq"], name="audit_event_unique_seq_deployment",
                condition=Q(municipality__isnull=True),
            ),
        ]
        indexes = [
            models.Index(fields=["municipality", "occurred_at"], name="audit_event_muni_time"),
            models.Index(fields=["municipality", "action", "occurred_at"], name="audit_event_muni_action"),
            models.Index(fields=["municipality", "object_type", "object_id"], name="audit_event_muni_object"),
        ]
        ordering = ["municipality_id", "seq"]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnly("audit events are append-only")
        # Deployment events have no municipality; TenantOwned.save would demand one.
        if self.municipality_id is None:
            return models.Model.save(self, *args, **kwargs)
        return super().save(*args, **kwargs)


class AuditChainHead(models.Model):
    """The last link of each chain, locked while the next event is appended.

    A separate row because PostgreSQL's SELECT … FOR UPDATE needs UPDATE rights, which the
    application's role does not have on audit events. `audit verify` checks it against
    the last event, so a truncated chain is found too.
    """

    chain = models.CharField(max_length=32, primary_key=True)  # municipality id or "deployment"
    last_seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"{self.chain}@{self.last_seq}"


class AuditPending(models.Model):
    """An event recorded while its chain's head was held by another transaction: written in
    the recording transaction (it commits or rolls back with the change it describes) and
    moved onto the chain, in id order, by a short transaction of its own right after that
    commit (audit.services.append_pending; the worker's sweep for any a stopped process
    left). Not yet hashed: until then it is a row like any other.
    """

    municipality = models.ForeignKey(
        "municipalities.Municipality", on_delete=models.PROTECT, related_name="+", null=True, editable=False
    )
    chain = models.CharField(max_length=32)  # as AuditChainHead.chain
    occurred_at = models.DateTimeField()
    actor_type = models.CharField(max_length=16)
    actor_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["municipality", "chain", "id"], name="audit_pending_chain")]

    def __str__(self) -> str:
        return f"{self.chain}: {self.action} (pending)"


class AuditCheckpointMark(models.Model):
    """The last checkpoint written for each chain, kept beside the events.

    The checkpoint sink is the anchor; this row only lets `audit verify` notice a sink that
    lost its newest lines (a truncated or replaced file): the database then records a
    checkpoint the sink no longer has.
    """

    chain = models.CharField(max_length=32, primary_key=True)  # as AuditChainHead.chain
    seq = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)
    written_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.chain}@{self.seq}"
