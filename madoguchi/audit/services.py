"""record() appends an audit event; verify_chain() recomputes a chain."""

import json
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from madoguchi.core import metrics
from madoguchi.core.request_context import current_request_id
from madoguchi.municipalities.tenancy import CrossTenantWrite, current_municipality

from .chain import GENESIS, event_hash
from .models import DEPLOYMENT_CHAIN, AuditChainHead, AuditEvent, AuditPending

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
    order: the same events, links and hashes as record() for each in turn.

    The chain's head is a row lock. When no other transaction holds it, the events are
    appended here, in three statements (the head locked, one INSERT, the head moved), and the
    lock is held to this transaction's commit — so a caller that records last keeps that
    short. When another transaction holds it, this one does not wait: the events are written
    as AuditPending rows (one INSERT, in this transaction: they commit or roll back with the
    change they describe) and appended right after the commit by a short transaction of
    their own (append_pending), which takes every pending event of the chain, in order — so
    under load one append carries the events of many requests. A transaction that has pending
    events on a chain sends its later events there too, so its events keep their order.

    Returns the appended events; an event left pending is returned unsaved, without its seq
    and hashes (those are given when it is appended).
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
    now = timezone.now()
    actions = [fields["action"] for fields in prepared]
    # No savepoint: if the events cannot be written, the change they describe must not be either.
    with transaction.atomic(savepoint=False):
        head = None if _pending_in_this_transaction(chain) else _lock_head_unless_held(chain)
        if head is None:
            AuditPending.objects.bulk_create([
                AuditPending(municipality=municipality, chain=chain, occurred_at=now, request_id=request_id, **fields)
                for fields in prepared])
            if not _pending_in_this_transaction(chain):
                transaction.on_commit(_AppendAfterCommit(chain), robust=True)
            transaction.on_commit(lambda: metrics.count_events(actions))  # a rolled-back change counts nothing
            return [AuditEvent(municipality=municipality, occurred_at=now, request_id=request_id, **fields)
                    for fields in prepared]
        out = _link(head, [dict(municipality_id=None if municipality is None else municipality.pk, occurred_at=now,
                                request_id=request_id, **fields) for fields in prepared])
        if len(out) == 1:
            out[0].municipality = municipality
            out[0].save()
        else:
            AuditEvent.unscoped.bulk_create(out)
        head.save(update_fields=["last_seq", "last_hash"])
    transaction.on_commit(lambda: metrics.count_events(actions))  # a rolled-back change counts nothing
    return out


def _link(head: AuditChainHead, rows: list[dict]) -> list[AuditEvent]:
    """The events of `rows` chained after `head` (moved to the last of them; saved by the caller)."""
    out, seq, last_hash = [], head.last_seq, head.last_hash
    for row in rows:
        seq += 1
        digest = event_hash(last_hash, chain=head.chain, seq=seq, occurred_at=row["occurred_at"],
                            actor_type=str(row["actor_type"]), actor_id=row["actor_id"], action=row["action"],
                            object_type=row["object_type"], object_id=row["object_id"],
                            request_id=row["request_id"], data=row["data"])
        out.append(AuditEvent(seq=seq, prev_hash=last_hash, hash=digest, **row))
        last_hash = digest
    head.last_seq, head.last_hash = seq, last_hash
    return out


def _lock_head_unless_held(chain: str) -> AuditChainHead | None:
    """The chain's head, locked by this transaction; None when another transaction holds it
    (SKIP LOCKED: PostgreSQL. SQLite has one writer at a time: never held by another)."""
    head = AuditChainHead.objects.select_for_update(skip_locked=True).filter(chain=chain).first()
    if head is not None:
        return head
    if AuditChainHead.objects.filter(chain=chain).exists():
        return None  # held
    # The chain's first event: create its head (two creators wait on the unique key).
    head, _ = AuditChainHead.objects.select_for_update().get_or_create(
        chain=chain, defaults={"last_seq": 0, "last_hash": GENESIS})
    return head


class _AppendAfterCommit:
    """The on-commit hook of a transaction that left events pending on `chain`."""

    def __init__(self, chain: str):
        self.chain = chain

    def __call__(self):
        append_pending(self.chain)


def _pending_in_this_transaction(chain: str) -> bool:
    connection = transaction.get_connection()
    return any(isinstance(hook, _AppendAfterCommit) and hook.chain == chain
               for _, hook, _ in connection.run_on_commit)


def append_pending(chain: str) -> int:
    """Appends the pending events of `chain` in id order, in a transaction of its own that
    waits for the head; returns how many. Run right after the commit that left them (and by
    the worker's sweep, for events a stopped process left)."""
    with transaction.atomic():
        head = AuditChainHead.objects.select_for_update().filter(chain=chain).first()
        if head is None:
            head, _ = AuditChainHead.objects.select_for_update().get_or_create(
                chain=chain, defaults={"last_seq": 0, "last_hash": GENESIS})
        pending = list(_pending_of(chain).order_by("id"))
        if not pending:
            return 0
        AuditEvent.unscoped.bulk_create(_link(head, [dict(
            municipality_id=p.municipality_id, occurred_at=p.occurred_at, actor_type=p.actor_type,
            actor_id=p.actor_id, action=p.action, object_type=p.object_type, object_id=p.object_id,
            request_id=p.request_id, data=p.data) for p in pending]))
        # Exactly the rows read, never "up to the last id": a row with a lower id whose
        # transaction committed after the read above is visible to this DELETE (read committed)
        # and would go without being appended (lost, found by the concurrent-writers test).
        ids = [p.id for p in pending]
        for start in range(0, len(ids), 5000):
            AuditPending.objects.filter(id__in=ids[start:start + 5000]).delete()
        head.save(update_fields=["last_seq", "last_hash"])
    return len(pending)


def _pending_of(chain: str):
    # The municipality first, as the index leads with it.
    return AuditPending.objects.filter(municipality_id=None if chain == DEPLOYMENT_CHAIN else int(chain), chain=chain)


def sweep() -> None:
    """The worker's sweep: events left pending by a process that stopped between its commit
    and their append (normally none: each is appended within milliseconds)."""
    for chain in AuditPending.objects.values_list("chain", flat=True).distinct().order_by("chain"):
        append_pending(chain)


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
    waiting = _pending_of(chain).count()
    if waiting:
        warning = "; ".join(filter(None, [warning, f"{waiting} event(s) waiting to be appended (the worker's sweep "
                                                   "appends any a stopped server left)"]))
    return ChainReport(chain, count, warning=warning, **extra)
