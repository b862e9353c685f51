"""record_many(): several events under one lock of the chain head, linked and hashed exactly
as record() one by one would; the same refusals (cross-tenant writes, oversized data) and
nothing written when one is refused."""

import pytest

from madoguchi.audit.chain import event_hash
from madoguchi.audit.models import AuditChainHead, AuditEvent
from madoguchi.audit.services import record, record_many, verify_chain
from madoguchi.municipalities.tenancy import CrossTenantWrite, tenant


@pytest.mark.django_db
def test_several_events_link_as_one_by_one(muni_a):
    with tenant(muni_a):
        first = record("test.before")
        many = record_many([dict(action="test.one", obj=("thing", "1")),
                            dict(action="test.two", actor=("resident", "r-1"), data={"n": 2}),
                            dict(action="test.three")], request_id="req-1")
        after = record("test.after")
    assert [e.seq for e in [first, *many, after]] == [1, 2, 3, 4, 5]
    chain = [first, *many, after]
    assert all(b.prev_hash == a.hash for a, b in zip(chain, chain[1:]))
    stored = list(AuditEvent.unscoped.filter(municipality=muni_a).order_by("seq"))
    assert [e.action for e in stored] == ["test.before", "test.one", "test.two", "test.three", "test.after"]
    two = stored[2]
    assert (two.actor_type, two.actor_id, two.request_id, two.data) == ("resident", "r-1", "req-1", {"n": 2})
    # The hash is the documented one (audit/chain.py), recomputed from the stored row.
    assert two.hash == event_hash(stored[1].hash, chain=str(muni_a.pk), seq=3, occurred_at=two.occurred_at,
                                  actor_type="resident", actor_id="r-1", action="test.two", object_type="",
                                  object_id="", request_id="req-1", data={"n": 2})
    head = AuditChainHead.objects.get(chain=str(muni_a.pk))
    assert (head.last_seq, head.last_hash) == (5, after.hash)
    assert verify_chain(muni_a).ok and verify_chain(muni_a).events == 5


@pytest.mark.django_db
def test_refusals_write_nothing(muni_a, muni_b):
    with tenant(muni_a), pytest.raises(CrossTenantWrite):
        record_many([dict(action="test.one"), dict(action="test.two")], municipality=muni_b)
    with tenant(muni_a), pytest.raises(ValueError, match="references"):
        record_many([dict(action="test.one"), dict(action="test.big", data={"blob": "x" * 5000})])
    assert not AuditEvent.unscoped.filter(municipality__in=[muni_a, muni_b]).exists()
    assert record_many([], municipality=muni_a) == []
    assert not AuditChainHead.objects.filter(chain__in=[str(muni_a.pk), str(muni_b.pk)]).exists()
