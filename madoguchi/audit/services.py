"""record() appends an audit event; verify_chain() recomputes a chain."""

import json
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from madoguchi.core import metrics
from madoguchi.core.request_context import current_request_id
from madoguchi.municipalities.tenancy import CrossTenantWrite, current_municipality

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
    return record_many([dict(action=action, actor=actor, obj=obj, data=data)], municipality=municipality,
                       request_id=request_id)[0]


def _fields(action: str, actor, obj, data) -> dict:
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
    return dict(actor_type=actor_type, actor_id=actor_id, action=action, object_type=object_type,
                object_id=object_id, data=data)


def record_many(events: list[dict], *, municipality=_CURRENT, request_id: str | None = None) -> list[AuditEvent]:
    """Appends several events (dicts of record()'s action, actor, obj, data) to one chain, in
    order, under one lock of its head: the same events, links and hashes as record() for each
    in turn, in three statements (the head locked, one INSERT, the head moved) however many.

    The head (a row lock held to commit, which serialises every writer of the chain) is
    taken here, so a caller that records last keeps the serialised part of its transaction
    short.
    """
    if municipality is _CURRENT:
        municipality = current_municipality()
    prepared = [_fields(e["action"], e.get("actor"), e.get("obj"), e.get("data")) for e in events]
    if not prepared:
        return []
    request_id = request_id if request_id is not None else (current_request_id() or "")
    chain = chain_key(municipality)
    scope = current_municipality()
    if municipality is not None and scope is not None and scope.pk != municipality.pk:
        # What TenantOwned.save refuses (the INSERT below does not go through save()).
        raise CrossTenantWrite(f"audit event of municipality {municipality.pk} saved in the scope of {scope.pk}")

    # No savepoint: if the events cannot be written, the change they describe must not be either.
    with transaction.atomic(savepoint=False):
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(
            chain=chain, defaults={"last_seq": 0, "last_hash": GENESIS}
        )
        out, seq, last_hash = [], head.last_seq, head.last_hash
        for fields in prepared:
            seq += 1
            occurred_at = timezone.now()
            digest = event_hash(last_hash, chain=chain, seq=seq, occurred_at=occurred_at,
                                actor_type=str(fields["actor_type"]), request_id=request_id,
                                **{k: v for k, v in fields.items() if k != "actor_type"})
            out.append(AuditEvent(municipality=municipality, seq=seq, occurred_at=occurred_at,
                                  request_id=request_id, prev_hash=last_hash, hash=digest, **fields))
            last_hash = digest
        if len(out) == 1:
            out[0].save()
        else:
            AuditEvent.unscoped.bulk_create(out)
        head.last_seq = seq
        head.last_hash = last_hash
        head.save(update_fields=["last_seq", "last_hash"])
    actions = [fields["action"] for fields in prepared]
    transaction.on_commit(lambda: metrics.count_events(actions))  # a rolled-back change counts nothing
    return out


@dataclass(frozen=True)
class ChainReport:
    chain: str
    events: int
    broken_at: int | None = None  # seq of the first bad link
    reason: str = ""
    checkpoint: object = None  # the checkpoint the chain was checked against (audit.checkpoints.Checkpoint)
    checkpoint_problems: tuple[str, ...] = ()  # bad lines of the sink that concern this chain
    warning: str = ""  # e.g. no checkpoint yet: said, but not a failure

    @property
    def ok(self) -> bool:
        return self.broken_at is None and not self.checkpoint_problems


def verify_chain(municipality, progress=None, index=None) -> ChainReport:
    """Recompute one chain from its first event; name the first broken link. Then check it
    against the newest signed checkpoint outside the database (`index`: a loaded
    audit.checkpoints.CheckpointIndex; read from the sink when not given): the chain must
    still hold the checkpoint's seq with the checkpoint's hash."""
    from .checkpoints import check_marks, load_index

    chain = chain_key(municipality)
    if index is None:
        index = load_index()
        check_marks(index, [chain])
    anchor = index.latest.get(chain)
    extra = dict(checkpoint=anchor, checkpoint_problems=tuple(index.problems_for(chain)))
    # municipality=None selects the deployment chain (IS NULL).
    events = AuditEvent.unscoped.filter(municipality=municipality).order_by("seq")
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for event in events.iterator(chunk_size=2000):
        if event.seq != expected_seq:
            return ChainReport(chain, count, expected_seq, f"event {expected_seq} is missing (found {event.seq})",
                               **extra)
        if event.prev_hash != prev_hash:
            return ChainReport(chain, count, event.seq, "prev_hash does not match the previous event", **extra)
        recomputed = event_hash(
            prev_hash, chain=chain, seq=event.seq, occurred_at=event.occurred_at, actor_type=event.actor_type,
            actor_id=event.actor_id, action=event.action, object_type=event.object_type,
            object_id=event.object_id, request_id=event.request_id, data=event.data,
        )
        if recomputed != event.hash:
            return ChainReport(chain, count, event.seq, "the event's content does not match its hash", **extra)
        if anchor is not None and event.seq == anchor.seq and event.hash != anchor.hash:
            return ChainReport(chain, count, event.seq, f"event {event.seq} is not the one checkpoint {anchor.where} "
                                                        f"of {anchor.at} recorded: the chain was rewritten", **extra)
        prev_hash, expected_seq, count = event.hash, expected_seq + 1, count + 1
        if progress is not None:
            progress(1)
    if anchor is not None and count < anchor.seq:
        missing = f"event {anchor.seq}" if count + 1 == anchor.seq else f"events {count + 1}-{anchor.seq}"
        return ChainReport(chain, count, count + 1,
                           f"{missing} missing: checkpoint {anchor.where} of {anchor.at} records seq {anchor.seq}, "
                           f"the database ends at {count}", **extra)
    head = AuditChainHead.objects.filter(chain=chain).first()
    if head is not None and (head.last_seq != count or head.last_hash != prev_hash):
        return ChainReport(chain, count, count + 1, f"events after {count} are missing (the head records {head.last_seq})",
                           **extra)
    warning = "no checkpoint of this chain yet (madoguchi audit checkpoint)" if anchor is None and count else ""
    return ChainReport(chain, count, warning=warning, **extra)
