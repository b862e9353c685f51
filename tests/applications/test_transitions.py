"""Transition listeners (applications/transitions.py): every write of the state machine is
published inside its transaction; a listener that raises rolls the transition back."""

import pytest
from django.db import connection

from madoguchi.applications.models import Application, ApplicationEvent, Notice
from madoguchi.applications.services import Upload, submit, transition
from madoguchi.applications.transitions import LISTENERS
from madoguchi.audit.models import AuditEvent
from madoguchi.municipalities.tenancy import tenant
from madoguchi.registry import Entry
from madoguchi.staff.models import Department, Membership
from madoguchi.staff.services import enrol_staff

from .conftest import version_of
from .helpers import PNG, RISAI, key


@pytest.fixture
def reviewer(muni_a):
    """A reviewer of 危機管理課, the department of 罹災証明 (risai-shoumei)."""
    department = Department.unscoped.create(municipality=muni_a, code="kikikanri", name="危機管理課")
    user, *_ = enrol_staff(muni_a, "rev-kikikanri", Membership.Role.REVIEWER, department, password="x" * 20)
    return user


def listen(monkeypatch, listener) -> None:
    # "~" sorts after the listeners the apps register: they have run when this one runs.
    monkeypatch.setitem(LISTENERS._entries, "~test", Entry("~test", listener, "a test's listener"))


def test_the_apps_register_their_listeners():
    assert {"documents", "notices"} <= set(LISTENERS.names())


def test_a_listener_hears_each_transition_inside_its_transaction(catalog_a, taro, reviewer, monkeypatch):
    heard = []

    def listener(transitions):
        for t in transitions:
            with tenant(catalog_a):
                written = ApplicationEvent.objects.filter(application=t.application, to_status=t.target).exists()
            heard.append((t.source, t.target, t.role, t.actor, t.is_submission, t.application.status,
                          written, len(connection.savepoint_ids) > outside))

    listen(monkeypatch, listener)
    # The test runs in a transaction of its own: the transition's atomic block is a savepoint
    # inside it, open while the listener runs (and a listener that raises rolls it back, below).
    outside = len(connection.savepoint_ids)
    application, _ = submit(version_of(catalog_a, "risai-shoumei"), taro, RISAI, idempotency_key=key(),
                            uploads=[Upload("photo.png", PNG)])
    transition(application, "received", role="reviewer", actor=reviewer, comment="審査します")
    assert heard == [("draft", "submitted", "resident", taro, True, "submitted", True, True),
                     ("submitted", "received", "reviewer", reviewer, False, "received", True, True)]


def test_a_listener_that_raises_rolls_the_transition_back(catalog_a, taro, reviewer, monkeypatch):
    application, _ = submit(version_of(catalog_a, "risai-shoumei"), taro, RISAI, idempotency_key=key(),
                            uploads=[Upload("photo.png", PNG)])

    def listener(transitions):
        if any(t.target == "received" for t in transitions):
            raise RuntimeError("the payment service is down")

    listen(monkeypatch, listener)
    with pytest.raises(RuntimeError, match="payment service"):
        transition(application, "received", role="reviewer", actor=reviewer)
    with tenant(catalog_a):
        assert Application.objects.get(pk=application.pk).status == "submitted"
        assert not ApplicationEvent.objects.filter(application=application, to_status="received").exists()
        assert not Notice.objects.filter(application=application, kind="received").exists()  # the notices listener's
        assert not AuditEvent.objects.filter(action="applications.received").exists()
