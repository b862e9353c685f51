"""Events left pending (their chain's head was held by another transaction; the append after
their commit never ran because the process stopped) are appended by the worker's sweep, in
order, after what the chain already holds; until then verification says they wait.
The concurrent path itself: test_concurrency.py (PostgreSQL, several processes)."""

import pytest
from django.utils import timezone

from madoguchi.audit.models import AuditEvent, AuditPending
from madoguchi.audit.services import append_pending, chain_key, record, sweep, verify_chain


def pending(municipality, action: str) -> AuditPending:
    # As record_many writes them when the head is held.
    return AuditPending.objects.create(municipality=municipality, chain=chain_key(municipality),
                                       occurred_at=timezone.now(), actor_type="system", action=action,
                                       request_id="r1", data={"n": 1})


@pytest.mark.django_db
def test_the_sweep_appends_what_a_stopped_process_left(muni_a, muni_b):
    record("test.first", municipality=muni_a)
    pending(muni_a, "test.one")
    pending(muni_a, "test.two")
    pending(None, "test.deployment")
    report = verify_chain(muni_a)
    assert report.ok and "2 event(s) waiting to be appended" in report.warning
    sweep()
    assert not AuditPending.objects.exists()
    assert list(AuditEvent.unscoped.filter(municipality=muni_a).order_by("seq").values_list("seq", "action")) == [
        (1, "test.first"), (2, "test.one"), (3, "test.two")]
    assert AuditEvent.unscoped.filter(municipality=None, action="test.deployment").exists()
    assert verify_chain(muni_a).ok and "waiting" not in verify_chain(muni_a).warning
    assert verify_chain(None).ok
    assert append_pending(chain_key(muni_a)) == 0  # nothing left: a no-op
    record("test.after", municipality=muni_a)  # the chain goes on from the appended head
    assert verify_chain(muni_a).events == 4
    assert not AuditEvent.unscoped.filter(municipality=muni_b).exists()


@pytest.mark.django_db
def test_an_event_committed_late_with_a_lower_id_is_not_dropped(muni_a, monkeypatch):
    """Two transactions leave events pending; the one with the lower id commits after the
    append has read the other. Its row must stay pending for the next append — not be deleted
    unappended by a DELETE of "every id up to the last one read" (an event lost under load)."""
    from madoguchi.audit import services

    record("test.first", municipality=muni_a)
    late = pending(muni_a, "test.late")  # lower id, its transaction still open when the append reads
    early = pending(muni_a, "test.early")
    real = services._pending_of

    class Visible:  # the append's read sees only what had committed then
        def __init__(self, chain):
            self.rows = real(chain)

        def order_by(self, *fields):
            return self.rows.exclude(pk=late.pk).order_by(*fields)

        def filter(self, *args, **kwargs):
            return self.rows.filter(*args, **kwargs)

    monkeypatch.setattr(services, "_pending_of", Visible)
    assert append_pending(chain_key(muni_a)) == 1
    monkeypatch.undo()
    assert list(AuditPending.objects.values_list("action", flat=True)) == ["test.late"]
    assert append_pending(chain_key(muni_a)) == 1
    assert list(AuditEvent.unscoped.filter(municipality=muni_a).order_by("seq").values_list("action", flat=True)) \
        == ["test.first", "test.early", "test.late"]
    assert verify_chain(muni_a).ok and early.pk > late.pk
