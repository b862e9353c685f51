import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from madoguchi.audit.chain import GENESIS
from madoguchi.audit.models import AuditChainHead, AuditEvent
from madoguchi.audit.services import record, verify_chain
from madoguchi.municipalities.tenancy import tenant


@pytest.mark.django_db
def test_events_chain_per_municipality(muni_a, muni_b):
    with tenant(muni_a):
        first = record("test.one", obj=("thing", "1"))
        second = record("test.two", data={"reason": "x"})
    other = record("test.other", municipality=muni_b)
    assert (first.seq, second.seq, other.seq) == (1, 2, 1)
    assert first.prev_hash == GENESIS and second.prev_hash == first.hash
    assert other.prev_hash == GENESIS
    assert verify_chain(muni_a).ok and verify_chain(muni_a).events == 2
    assert verify_chain(muni_b).events == 1


@pytest.mark.django_db
def test_request_id_and_actor_are_recorded(client_admin_a, muni_a, admin_a):
    event = AuditEvent.unscoped.filter(municipality=muni_a, action="staff.signed_in").get()
    assert event.actor_type == "staff" and event.actor_id == str(admin_a[0].pk)
    assert len(event.request_id) == 32


@pytest.mark.django_db
def test_personal_content_is_kept_out_by_size(muni_a):
    with pytest.raises(ValueError, match="references"):
        record("test.big", municipality=muni_a, data={"blob": "x" * 5000})


@pytest.mark.django_db
def test_update_and_delete_are_refused_by_the_database(muni_a):
    event = record("test.one", municipality=muni_a)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.unscoped.filter(pk=event.pk).update(action="tampered")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.unscoped.filter(pk=event.pk).delete()
    assert AuditEvent.unscoped.get(pk=event.pk).action == "test.one"


def _tamper(sql, params):
    """Changes audit rows behind the application's back, as an attacker with the
    table owner's rights would: lift the protections inside this test's transaction
    (rolled back afterwards), then run the change."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER audit_event_no_update")
            cursor.execute("DROP TRIGGER audit_event_no_delete")
        else:
            # Django's deferred foreign-key checks must fire before the table can be altered.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
            cursor.execute("GRANT UPDATE, DELETE ON audit_auditevent TO CURRENT_USER")
        cursor.execute(sql, params)


@pytest.mark.django_db
def test_verify_names_the_first_changed_event(muni_a, capsys):
    with tenant(muni_a):
        for i in range(5):
            record("test.step", data={"i": i})
    _tamper("UPDATE audit_auditevent SET action = %s WHERE municipality_id = %s AND seq = %s",
            ["test.forged", muni_a.pk, 3])
    report = verify_chain(muni_a)
    assert not report.ok and report.broken_at == 3 and "hash" in report.reason
    with pytest.raises(CommandError) as info:
        call_command("audit_verify", "--municipality", muni_a.code)
    assert info.value.returncode == 1
    assert "first broken link at seq 3" in capsys.readouterr().out


@pytest.mark.django_db
def test_verify_finds_a_deleted_event_and_a_truncated_tail(muni_a):
    with tenant(muni_a):
        for i in range(4):
            record("test.step", data={"i": i})
    _tamper("DELETE FROM audit_auditevent WHERE municipality_id = %s AND seq = %s", [muni_a.pk, 2])
    report = verify_chain(muni_a)
    assert report.broken_at == 2 and "missing" in report.reason

    _tamper_tail = "DELETE FROM audit_auditevent WHERE municipality_id = %s AND seq >= %s"
    with connection.cursor() as cursor:
        cursor.execute(_tamper_tail, [muni_a.pk, 2])
    report = verify_chain(muni_a)
    assert not report.ok and "head records 4" in report.reason


@pytest.mark.django_db
def test_verify_command_passes_on_an_intact_trail(muni_a, muni_b, capsys):
    record("test.a", municipality=muni_a)
    record("test.b", municipality=muni_b)
    record("operator.thing", municipality=None)
    call_command("audit_verify")
    out = capsys.readouterr().out
    assert "OK     139998: 1 events" in out and "OK     deployment: 1 events" in out


@pytest.mark.django_db
def test_verify_command_rejects_a_bad_code(muni_a):
    with pytest.raises(CommandError) as info:
        call_command("audit_verify", "--municipality", "12345x")
    assert info.value.returncode == 2


@pytest.mark.django_db
def test_chain_head_tracks_the_last_event(muni_a):
    last = None
    for i in range(3):
        last = record("test.step", municipality=muni_a)
    head = AuditChainHead.objects.get(chain=str(muni_a.pk))
    assert (head.last_seq, head.last_hash) == (3, last.hash)
