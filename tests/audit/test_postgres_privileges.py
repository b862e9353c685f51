"""On PostgreSQL the application's own role cannot change audit rows (privileges), and
even a superuser is stopped by the trigger."""

import os

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction

from madoguchi.audit.models import AuditEvent
from madoguchi.audit.services import record

pytestmark = pytest.mark.postgres


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL-only: this run is on SQLite (the PostgreSQL run covers it)")


@pytest.mark.django_db
def test_the_application_role_is_not_a_superuser(postgres):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
        user, is_super = cursor.fetchone()
    assert user == "madoguchi_app" and is_super is False


@pytest.mark.django_db
def test_the_application_role_lacks_update_and_delete(postgres, muni_a):
    event = record("test.one", municipality=muni_a)
    with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
        AuditEvent.unscoped.filter(pk=event.pk).update(action="tampered")
    with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
        AuditEvent.unscoped.filter(pk=event.pk).delete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT has_table_privilege('audit_auditevent', 'UPDATE'), "
                       "has_table_privilege('audit_auditevent', 'DELETE'), "
                       "has_table_privilege('audit_auditevent', 'TRUNCATE'), "
                       "has_table_privilege('audit_auditevent', 'INSERT')")
        assert cursor.fetchone() == (False, False, False, True)


@pytest.mark.django_db
def test_even_a_superuser_is_stopped_by_the_trigger(postgres):
    admin_url = os.environ.get("MADOGUCHI_TEST_ADMIN_DATABASE_URL")
    if not admin_url:
        pytest.fail("MADOGUCHI_TEST_ADMIN_DATABASE_URL is not set: run the suite through scripts/test")
    dbname = connection.settings_dict["NAME"]
    with psycopg.connect(admin_url, dbname=dbname) as conn:  # a transaction, rolled back below
        conn.execute(
            "INSERT INTO audit_auditevent (seq, occurred_at, actor_type, actor_id, action, object_type, object_id,"
            " request_id, data, prev_hash, hash) VALUES (999999, now(), 'system', '', 'probe', '', '', '', '{}', '', '')"
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("UPDATE audit_auditevent SET action = 'x' WHERE seq = 999999")
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("TRUNCATE audit_auditevent")
        conn.rollback()
