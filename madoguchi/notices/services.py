"""The delivery engine: Delivery rows per recipient and channel, sent by the Tasks worker.

- `enqueue` writes the rows and enqueues one task per delivery when the caller's
  transaction commits (a rolled-back transition sends nothing).
- `attempt` (the task) locks the row, sends only a QUEUED one and marks it SENT in the
  same transaction: a retried or duplicated task finds it SENT and sends nothing again
  (idempotent by delivery id). A crash between the send and the commit is the one window
  where a message may go twice (at least once, never silently lost).
- A failure counts an attempt; a transient one is retried after BACKOFF[attempts]
  seconds, up to MAX_ATTEMPTS; a permanent one (or the last attempt) marks it FAILED and a
  permanent one makes the channel forget the address. One task per delivery: a poison
  message fails alone and blocks nobody.
"""

import datetime as dt
import logging
from collections.abc import Iterable, Sequence

from django.db import transaction
from django.utils import timezone

from madoguchi.audit.services import record
from madoguchi.municipalities.tenancy import current_municipality

from . import preferences
from .channels import DELIVERY_CHANNELS, PermanentFailure
from .messages import message
from .models import Category, Delivery

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF = [0, 30, 120, 600, 1800]  # seconds before attempt n+1 (after n failures)


def channel(name: str):
    return DELIVERY_CHANNELS.get(name)()


def enqueue(person_ids: Iterable[int], *, channel_name: str, category: str, kind: str, link: str,
            broadcast=None) -> list[Delivery]:
    """A delivery to each person the channel reaches and who has not silenced the category
    (others are skipped, not failed)."""
    Category(category)  # an unknown category is a programming error: fail here
    person_ids = set(person_ids)
    person_ids -= preferences.silenced_among(person_ids, category)
    reachable = channel(channel_name).recipients(person_ids) if person_ids else set()
    municipality = current_municipality()
    rows = Delivery.objects.bulk_create([
        Delivery(municipality=municipality, person_id=pid, channel=channel_name, category=category, kind=kind,
                 link=link, broadcast=broadcast) for pid in sorted(reachable)])
    ids = [str(d.public_id) for d in rows]
    if ids:
        code = municipality.code
        transaction.on_commit(lambda: _enqueue_tasks(code, ids))
    return rows


def _enqueue_tasks(code: str, ids: Sequence[str], delay: int = 0) -> None:
    from .tasks import send_delivery

    task = send_delivery.using(run_after=timezone.now() + dt.timedelta(seconds=delay)) if delay else send_delivery
    for public_id in ids:
        task.enqueue(code, public_id)


def attempt(public_id: str) -> str:
    """Sends one delivery if it is still queued; returns its status afterwards."""
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().filter(public_id=public_id).first()
        if delivery is None or delivery.status != Delivery.Status.QUEUED:
            return delivery.status if delivery else "missing"
        implementation = channel(delivery.channel)
        delivery.attempts += 1
        try:
            implementation.send(delivery, message(delivery))
        except PermanentFailure as exc:
            _fail(delivery, implementation, f"permanent: {exc}"[:200], permanent=True)
        except Exception as exc:  # noqa: BLE001  (any failure is one attempt; the queue goes on)
            log.warning("delivery %s attempt %s failed: %s", delivery.public_id, delivery.attempts,
                        type(exc).__name__)
            error = f"{type(exc).__name__}: {exc}"[:200]
            if delivery.attempts >= MAX_ATTEMPTS:
                _fail(delivery, implementation, error, permanent=False)
            else:
                delay = BACKOFF[delivery.attempts]
                delivery.last_error = error
                delivery.next_attempt_at = timezone.now() + dt.timedelta(seconds=delay)
                delivery.save(update_fields=["attempts", "last_error", "next_attempt_at"])
                code, ids = delivery.municipality.code, [str(delivery.public_id)]
                transaction.on_commit(lambda: _enqueue_tasks(code, ids, delay))
        else:
            delivery.status, delivery.sent_at, delivery.next_attempt_at = Delivery.Status.SENT, timezone.now(), None
            delivery.save(update_fields=["status", "sent_at", "attempts", "next_attempt_at"])
        return delivery.status


def _fail(delivery, implementation, error: str, *, permanent: bool) -> None:
    delivery.status, delivery.last_error, delivery.next_attempt_at = Delivery.Status.FAILED, error, None
    delivery.save(update_fields=["status", "attempts", "last_error", "next_attempt_at"])
    if permanent:
        implementation.forget(delivery, error)
    record("notices.delivery_failed", obj=delivery,
           data={"channel": delivery.channel, "attempts": delivery.attempts, "permanent": permanent})


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
