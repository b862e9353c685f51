"""The delivery engine: Delivery rows per recipient and channel, sent by the Tasks worker
in batches (docs/notices.md).

- `enqueue` writes the rows with bulk_create in batches of NOTICES_BATCH_SIZE and, when the
  caller's transaction commits (a rolled-back transition sends nothing), enqueues one
  `send_batch` task per batch of delivery ids.
- `send_batch` (the task) sends each delivery of its batch that it can **claim**: a
  conditional UPDATE from QUEUED to SENDING (`claim`), which one worker wins; a retried or
  duplicated batch finds the rows SENDING or SENT and sends nothing again (idempotent by
  delivery id, on every database and Tasks backend). The row is marked SENT after the
  channel took it. A crash between the send and that mark is the one window where a message
  may go twice: the sweep queues a row left SENDING past NOTICES_CLAIM_STALE_SECONDS again
  (at least once, never silently lost).
- A failure counts an attempt of that delivery only (a poison message fails alone; the
  batch goes on); a transient one is retried after BACKOFF[attempts] seconds, up to
  MAX_ATTEMPTS, the retries of a batch grouped in one task per delay; a permanent one (or
  the last attempt) marks it FAILED, and a permanent one makes the channel forget the address.
- Per channel and municipality, sending takes tokens from a rate limit (`ratelimit`), and a
  push that is not 防災・緊急 waits for the end of the municipality's quiet hours.
"""

import datetime as dt
import logging
import secrets
import time
from collections.abc import Iterable, Sequence
from itertools import islice

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from madoguchi.audit.services import record
from madoguchi.municipalities.tenancy import current_municipality

from . import preferences, quiet, ratelimit
from .channels import DELIVERY_CHANNELS, PermanentFailure
from .messages import message
from .models import Category, Delivery, Silenced

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
MARK_EVERY = 50  # sent rows marked per statement
BACKOFF = [0, 30, 120, 600, 1800]  # seconds before attempt n+1 (after n failures)


def channel(name: str):
    return DELIVERY_CHANNELS.get(name)()


def _chunks(items: Sequence, size: int):
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def enqueue(person_ids: Iterable[int], *, channel_name: str, category: str, kind: str, link: str,
            broadcast=None) -> list[Delivery]:
    """A delivery to each person the channel reaches and who has not silenced the category
    (others are skipped, not failed); the rows written, in person order."""
    rows: list[Delivery] = []
    fan_out(person_ids, channel_name=channel_name, category=category, kind=kind, link=link, broadcast=broadcast,
            collect=rows)
    return rows



def fan_out_everywhere(person_ids: Iterable[int], *, category: str, kind: str, link: str) -> int:
    """`fan_out` through every registered channel (a notice other apps send: a benefit's
    schedule, a booking's reminder); returns how many deliveries were queued."""
    person_ids = list(person_ids)
    if not person_ids:
        return 0
    return sum(fan_out(person_ids, channel_name=name, category=category, kind=kind, link=link)
               for name in DELIVERY_CHANNELS.names())

def reachable(person_ids: Iterable[int], *, channel_name: str, category: str) -> int:
    """How many of the persons a delivery through the channel would reach now: those it can
    reach who have not silenced the category (a broadcast's preview, before anything is sent)."""
    implementation = channel(channel_name)
    count = 0
    for persons in _chunks(sorted(set(person_ids)), 5000):
        persons = set(persons) - preferences.silenced_among(persons, category)
        count += len(implementation.recipients(persons)) if persons else 0
    return count


def fan_out(person_ids: Iterable[int], *, channel_name: str, category: str, kind: str, link: str,
            broadcast=None, collect: list | None = None, now: dt.datetime | None = None) -> int:
    """`enqueue` for a million: writes the rows batch by batch without keeping them (unless
    `collect` is given) and returns how many were queued. One task per batch, on commit."""
    Category(category)  # an unknown category is a programming error: fail here
    implementation = channel(channel_name)
    municipality = current_municipality()
    size = settings.NOTICES_BATCH_SIZE
    person_ids = sorted(set(person_ids))
    after = quiet.deferred_until(municipality, channel_name, category, now)
    batches: list[list[int]] = []
    queued = 0
    # Preferences and reachability are read per slice of persons, rows written per batch. On
    # PostgreSQL, for a channel that can say whom it reaches as a query, a whole slice is one
    # INSERT that filters in the database (persons passed as one array), and the ids it
    # returns are cut into batches: statements and parameters, not rows, are what a
    # million-recipient fan-out pays for.
    reach = implementation.reachable() if collect is None and connection.vendor == "postgresql" else None
    for persons in _chunks(person_ids, 20000 if reach is not None else max(size, 5000)):
        if reach is not None:
            # The channel's query bounded to the slice's range of ids (persons are sorted): the
            # database reads that range through the person index instead of the whole table
            # once per slice.
            bounded = reach.filter(person_id__gte=persons[0], person_id__lte=persons[-1])
            ids = _insert_pg(municipality, persons, bounded, channel_name, category, kind, link, broadcast, after)
            batches.extend(_chunks(ids, size))
            queued += len(ids)
            continue
        persons = set(persons) - preferences.silenced_among(persons, category)
        reachable = sorted(implementation.recipients(persons)) if persons else []
        for chunk in _chunks(reachable, size):
            rows = Delivery.objects.bulk_create([
                Delivery(municipality=municipality, person_id=pid, channel=channel_name, category=category, kind=kind,
                         link=link, broadcast=broadcast, next_attempt_at=after) for pid in chunk])
            if rows and rows[0].pk is None:  # a database without RETURNING: read the ids back
                rows = list(Delivery.objects.filter(public_id__in=[r.public_id for r in rows]).order_by("person_id"))
            batches.append([r.pk for r in rows])
            queued += len(rows)
            if collect is not None:
                collect.extend(rows)
    if batches:
        code = municipality.code
        transaction.on_commit(lambda: _enqueue_batches(code, batches, after))
    return queued


def _insert_pg(municipality, person_ids, reach, channel_name, category, kind, link, broadcast, after) -> list[int]:
    """PostgreSQL: the deliveries of a slice of persons in one INSERT … SELECT FROM
    unnest(persons) RETURNING id — the persons the channel reaches (`reach`, its query of
    person ids) and who have not silenced the category; the same rows bulk_create writes,
    without a model instance or a query parameter per person."""
    meta = Delivery._meta
    column = {f.name: f.column for f in meta.concrete_fields}
    names = ["municipality", "public_id", "person", "channel", "category", "kind", "broadcast", "link", "status",
             "attempts", "last_error", "created_at", "next_attempt_at", "claimed_at", "sent_at"]
    reach_sql, reach_params = reach.query.sql_with_params()
    silenced = Silenced._meta
    silenced_sql = "" if category == Category.EMERGENCY else (
        f' AND NOT EXISTS (SELECT 1 FROM "{silenced.db_table}" s WHERE s."{silenced.get_field("person").column}" = p'
        f' AND s."{silenced.get_field("municipality").column}" = %s AND s."{silenced.get_field("category").column}" = %s)')
    sql = (f'INSERT INTO "{meta.db_table}" ({", ".join(chr(34) + column[n] + chr(34) for n in names)}) '
           "SELECT %s, gen_random_uuid(), p, %s, %s, %s, %s, %s, %s, 0, '', now(), %s, NULL, NULL "
           f"FROM unnest(%s::bigint[]) AS p WHERE p IN ({reach_sql}){silenced_sql} "
           f'ORDER BY p RETURNING "{column["id"]}"')
    params = [municipality.pk, channel_name, category, kind, broadcast.pk if broadcast else None, link,
              Delivery.Status.QUEUED, after, list(person_ids), *reach_params]
    if silenced_sql:
        params += [municipality.pk, category]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _enqueue_batches(code: str, batches: Sequence[Sequence[int]], after: dt.datetime | None = None) -> None:
    from .tasks import send_batch

    task = send_batch.using(run_after=after) if after else send_batch
    for ids in batches:
        task.enqueue(code, list(ids))


def claim(ids: Sequence[int], now: dt.datetime) -> list[int]:
    """Claims the queued, due deliveries among `ids` for this worker (QUEUED → SENDING), in
    one transaction: on PostgreSQL the rows are locked with SELECT … FOR UPDATE SKIP LOCKED
    (a row another worker holds is skipped, never waited for); elsewhere one conditional
    UPDATE marks them with a claim time of this call and the rows bearing it are read back.
    Either way exactly one worker wins a row."""
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    queued = Delivery.objects.filter(due, pk__in=list(ids), status=Delivery.Status.QUEUED)
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            won = list(queued.select_for_update(skip_locked=True).values_list("pk", flat=True))
            Delivery.objects.filter(pk__in=won).update(status=Delivery.Status.SENDING, claimed_at=now)
            return sorted(won)
        # SQLite: writes are serialised; the claim time (microseconds, unique to this call in
        # this process; a second process would need the same microsecond) names the winner.
        token = now.replace(microsecond=secrets.randbelow(1_000_000))
        queued.update(status=Delivery.Status.SENDING, claimed_at=token)
        return sorted(Delivery.objects.filter(pk__in=list(ids), status=Delivery.Status.SENDING,
                                              claimed_at=token).values_list("pk", flat=True))


def send_batch(ids: Sequence[int], now: dt.datetime | None = None) -> dict[str, int]:
    """Sends the deliveries of one batch that this worker claims; returns counts by outcome
    (`now`: the clock, for quiet hours and what is due)."""
    outcome = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0, "deferred": 0}
    municipality = current_municipality()
    rows = list(Delivery.objects.filter(pk__in=ids).select_related("broadcast").order_by("pk"))
    # Quiet hours: a push that is not an emergency waits, untouched (no attempt counted).
    deferred: dict[dt.datetime, list[int]] = {}
    now = now or timezone.now()
    hours = quiet.hours_of(municipality)  # read once for the batch
    for row in rows:
        until = quiet.deferred_until(municipality, row.channel, row.category, now, hours=hours)
        if until is not None and row.status == Delivery.Status.QUEUED:
            deferred.setdefault(until, []).append(row.pk)
    if deferred:
        for until, pks in deferred.items():
            Delivery.objects.filter(pk__in=pks, status=Delivery.Status.QUEUED).update(next_attempt_at=until)
            outcome["deferred"] += len(pks)
            code = municipality.code
            transaction.on_commit(lambda pks=pks, until=until: _enqueue_batches(code, [pks], until))
        skip = {pk for pks in deferred.values() for pk in pks}
        rows = [r for r in rows if r.pk not in skip]
    claimed = set(claim([r.pk for r in rows], now))
    outcome["skipped"] = len(ids) - len(claimed) - outcome["deferred"]
    retries: dict[int, list[int]] = {}
    by_channel: dict[str, list[Delivery]] = {}
    for row in rows:
        if row.pk in claimed:
            by_channel.setdefault(row.channel, []).append(row)
    sent: list[int] = []

    def mark_sent():
        # Sent rows are marked together (one statement per MARK_EVERY sends or second): a crash
        # before the mark is the at-least-once window the sweep closes.
        if sent:
            Delivery.objects.filter(pk__in=sent, status=Delivery.Status.SENDING).update(
                status=Delivery.Status.SENT, sent_at=timezone.now(), attempts=F("attempts") + 1, next_attempt_at=None)
            sent.clear()

    marked = time.monotonic()
    for channel_name, deliveries in by_channel.items():
        implementation = channel(channel_name)
        limiter = ratelimit.for_channel(municipality.code, channel_name)
        implementation.prepare(deliveries)
        with implementation.batch():
            for delivery in deliveries:
                limiter.wait()
                status = _attempt_claimed(delivery, implementation, defer_mark=True)
                if status == Delivery.Status.SENT:
                    sent.append(delivery.pk)
                    if len(sent) >= MARK_EVERY or time.monotonic() - marked > 1:
                        mark_sent()
                        marked = time.monotonic()
                elif status == Delivery.Status.QUEUED:
                    retries.setdefault(BACKOFF[delivery.attempts], []).append(delivery.pk)
                outcome[{"sent": "sent", "failed": "failed"}.get(status, "retry")] += 1
    mark_sent()
    if retries:
        code = municipality.code
        for delay, pks in retries.items():
            after = timezone.now() + dt.timedelta(seconds=delay)
            transaction.on_commit(lambda pks=pks, after=after: _enqueue_batches(code, [pks], after))
    return outcome


def _attempt_claimed(delivery: Delivery, implementation, defer_mark: bool = False) -> str:
    """One attempt of a claimed (SENDING) delivery; its status afterwards (with defer_mark,
    a sent row is left for the caller to mark)."""
    delivery.attempts += 1
    try:
        implementation.send(delivery, message(delivery))
    except PermanentFailure as exc:
        with transaction.atomic():
            _fail(delivery, implementation, f"permanent: {exc}"[:200], permanent=True)
    except Exception as exc:  # noqa: BLE001  (any failure is one attempt; the queue goes on)
        log.warning("delivery %s attempt %s failed: %s", delivery.public_id, delivery.attempts, type(exc).__name__)
        error = f"{type(exc).__name__}: {exc}"[:200]
        if delivery.attempts >= MAX_ATTEMPTS:
            with transaction.atomic():
                _fail(delivery, implementation, error, permanent=False)
        else:
            delay = BACKOFF[delivery.attempts]
            delivery.status, delivery.last_error, delivery.claimed_at = Delivery.Status.QUEUED, error, None
            delivery.next_attempt_at = timezone.now() + dt.timedelta(seconds=delay)
            delivery.save(update_fields=["status", "attempts", "last_error", "next_attempt_at", "claimed_at"])
    else:
        delivery.status, delivery.sent_at, delivery.next_attempt_at = Delivery.Status.SENT, timezone.now(), None
        if not defer_mark:
            delivery.save(update_fields=["status", "sent_at", "attempts", "next_attempt_at"])
    return delivery.status


def attempt(public_id: str) -> str:
    """Sends one delivery if it is still queued (and due or not: an explicit attempt);
    returns its status afterwards. A retry is enqueued as a batch of one."""
    delivery = Delivery.objects.filter(public_id=public_id).first()
    if delivery is None:
        return "missing"
    if not Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.QUEUED).update(
            status=Delivery.Status.SENDING, claimed_at=timezone.now()):
        delivery.refresh_from_db()
        return delivery.status
    delivery.refresh_from_db()
    status = _attempt_claimed(delivery, channel(delivery.channel))
    if status == Delivery.Status.QUEUED:
        code, after = current_municipality().code, delivery.next_attempt_at
        transaction.on_commit(lambda: _enqueue_batches(code, [[delivery.pk]], after))
    return status


def _fail(delivery, implementation, error: str, *, permanent: bool) -> None:
    delivery.status, delivery.last_error, delivery.next_attempt_at = Delivery.Status.FAILED, error, None
    delivery.save(update_fields=["status", "attempts", "last_error", "next_attempt_at"])
    if permanent:
        implementation.forget(delivery, error)
    record("notices.delivery_failed", obj=delivery,
           data={"channel": delivery.channel, "attempts": delivery.attempts, "permanent": permanent})


def sweep() -> int:
    """Every worker's sweep: a delivery left SENDING by a killed worker (claimed longer ago
    than NOTICES_CLAIM_STALE_SECONDS) is queued again, one task per municipality and batch."""
    from madoguchi.municipalities.models import Municipality

    stale = timezone.now() - dt.timedelta(seconds=settings.NOTICES_CLAIM_STALE_SECONDS)
    requeued = 0
    rows = Delivery.unscoped
    by_municipality: dict[int, list[int]] = {}
    for pk, municipality_id in rows.filter(status=Delivery.Status.SENDING, claimed_at__lt=stale).values_list(
            "pk", "municipality_id")[:50000]:
        by_municipality.setdefault(municipality_id, []).append(pk)
    for municipality_id, pks in by_municipality.items():
        code = Municipality.objects.get(pk=municipality_id).code
        with transaction.atomic():
            n = rows.filter(pk__in=pks, status=Delivery.Status.SENDING, claimed_at__lt=stale).update(
                status=Delivery.Status.QUEUED, claimed_at=None, next_attempt_at=None)
            transaction.on_commit(lambda code=code, pks=pks: _enqueue_batches(
                code, list(_chunks(pks, settings.NOTICES_BATCH_SIZE))))
        requeued += n
        log.warning("requeued %s deliveries left sending by a stopped worker (%s)", n, code)
    return requeued


# The applications' notice channels: a transition's notice through the engine.

def adapter_for(channel_name: str):
    from madoguchi.applications.notices.base import Channel

    class EngineChannel(Channel):
        """Hands each transition to the delivery engine as a notice of 申請の状況."""

        def deliver(self, transitions) -> None:
            for t in transitions:
                application = t.application
                enqueue([application.person_id], channel_name=channel_name, category=Category.APPLICATIONS,
                        kind=f"application.{t.target}", link=f"/{current_municipality().code}/notices/")

    EngineChannel.__name__ = f"EngineChannel_{channel_name}"
    return EngineChannel
