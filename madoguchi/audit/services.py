"""record() appends an audit event; verify_chain() recomputes a chain."""

import json
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from madoguchi.core.request_context import current_request_id
from madoguchi.municipalities.tenancy import current_municipality

from .chain import GENESIS, event_hash
from .models import DEPLOYMENT_CHAIN, AuditChainHead, AuditEvent

_CURRENT = object()
MAX_DATA_BYTES = 4096


def chain_key(municipality) -> str:
    return DEPLOYMENT_CHAIN if municipality is None else str(municipality.pk)


def _actor(actor) -> tuple[str, str]:
    if actor is None:
        return AuditEvent.ActorType.SYSTEM, ""
    if isinstance(actor, tuple):
        return actor
    if getattr(actor, "is_authenticated", False):
        return AuditEvent.ActorType.STAFF, str(actor.pk)
    return AuditEvent.ActorType.ANONYMOUS, ""


def record(action: str, *, actor=None, obj=None, data: dict | None = None, municipality=_CURRENT,
           request_id: str | None = None) -> AuditEvent:
    """Append one event to the municipality's chain (the one in scope by default).

    `actor`: a user, None for the system, or an (actor_type, actor_id) pair.
    `obj`: a model instance or an (object_type, object_id) pair.
    `data`: references only (ids, codes, reasons) — never names, addresses or numbers.
    Runs in the caller's transaction, so the event commits or rolls back with the change
    it describes.
    """
    if municipality is _CURRENT:
        municipality = current_municipality()
    actor_type, actor_id = _actor(actor)
    if obj is None:
        object_type, object_id = "", ""
    elif isinstance(obj, tuple):
        object_type, object_id = obj
    else:
        object_type, object_id = obj._meta.label_lower, str(obj.pk)
    data = data or {}
    if len(json.dumps(data, ensure_ascii=False).encode()) > MAX_DATA_BYTES:
        raise ValueError(f"audit data over {MAX_DATA_BYTES} bytes: keep references, not content")
    request_id = request_id if request_id is not None else (current_request_id() or "")
    chain = chain_key(municipality)

    # No savepoint: if the event cannot be written, the change it describes must not be either.
    with transaction.atomic(savepoint=False):
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(
            chain=chain, defaults={"last_seq": 0, "last_hash": GENESIS}
        )
        seq = head.last_seq + 1
        occurred_at = timezone.now()
        digest = event_hash(
            head.last_hash, chain=chain, seq=seq, occurred_at=occurred_at, actor_type=str(actor_type),
            actor_id=actor_id, action=action, object_type=object_type, object_id=object_id,
            request_id=request_id, data=data,
        )
        event = AuditEvent(
            municipality=municipality, seq=seq, occurred_at=occurred_at, actor_type=actor_type,
            actor_id=actor_id, action=action, object_type=object_type, object_id=object_id,
            request_id=request_id, data=data, prev_hash=head.last_hash, hash=digest,
        )
        event.save()
        head.last_seq = seq
        head.last_hash = digest
        head.save(update_fields=["last_seq", "last_hash"])
    return event


@dataclass(frozen=True)
class ChainReport:
    chain: str
    events: int
    broken_at: int | None = None  # seq of the first bad link
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify_chain(municipality, progress=None) -> ChainReport:
    """Recompute one chain from its first event; name the first broken link."""
    chain = chain_key(municipality)
    # municipality=None selects the deployment chain (IS NULL).
    events = AuditEvent.unscoped.filter(municipality=municipality).order_by("seq")
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for event in events.iterator(chunk_size=2000):
        if event.seq != expected_seq:
            return ChainReport(chain, count, expected_seq, f"event {expected_seq} is missing (found {event.seq})")
        if event.prev_hash != prev_hash:
            return ChainReport(chain, count, event.seq, "prev_hash does not match the previous event")
        recomputed = event_hash(
            prev_hash, chain=chain, seq=event.seq, occurred_at=event.occurred_at, actor_type=event.actor_type,
            actor_id=event.actor_id, action=event.action, object_type=event.object_type,
            object_id=event.object_id, request_id=event.request_id, data=event.data,
        )
        if recomputed != event.hash:
            return ChainReport(chain, count, event.seq, "the event's content does not match its hash")
        prev_hash, expected_seq, count = event.hash, expected_seq + 1, count + 1
        if progress is not None:
            progress(1)
    head = AuditChainHead.objects.filter(chain=chain).first()
    if head is not None and (head.last_seq != count or head.last_hash != prev_hash):
        return ChainReport(chain, count, count + 1, f"events after {count} are missing (the head records {head.last_seq})")
    return ChainReport(chain, count)
