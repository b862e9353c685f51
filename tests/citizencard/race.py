"""Gates racing, for tests/citizencard/test_race.py: in a database of its own
(MADOGUCHI_DATABASE_URL, migrated), one ticket and GATES terminals; then GATES threads — each
with its own database connection — upload at once an admission of that ticket (each gate
admitted it offline), and GATES threads upload at once the same batch of one gate (resends
racing). Prints one JSON line: admissions kept, conflicts, events stored, the ticket's
state, acknowledgements, and any error.

    python -m tests.citizencard.race GATES
"""

import datetime as dt
import json
import os
import sys
import threading
import uuid


def main() -> None:
    gates = int(sys.argv[1])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")
    import django

    django.setup()
    from django.db import connection

    from madoguchi.citizencard import services
    from madoguchi.citizencard.models import TerminalEvent, Ticket, TicketType
    from madoguchi.core.dates import today_in_japan
    from madoguchi.identity.models import Person
    from madoguchi.municipalities.models import Municipality
    from madoguchi.municipalities.tenancy import tenant
    from madoguchi.staff.models import Membership
    from madoguchi.staff.services import enrol_staff
    from madoguchi.terminal import signing

    municipality = Municipality.objects.create(code="139998", name="窓口市", name_kana="まどぐちし")
    user = enrol_staff(municipality, "race-admin", Membership.Role.ADMINISTRATOR, None,
                       password="a-long-race-password")[0]
    card = "00000000000000ab"
    with tenant(municipality):
        kind = TicketType.objects.create(event="花火大会", day=today_in_japan(), admission="一般", created_by=user)
        person = Person.objects.create(verified_name="競争　太郎", verified_birth_date=dt.date(1990, 1, 1),
                                       verified_sex="1", verified_address="窓口市",
                                       verified_at=dt.datetime.now(dt.timezone.utc))
        Ticket.objects.create(ticket_type=kind, person=person, card_key=card, certificate_sha256="0" * 64)
        terminals = [services.register_terminal(user, name=f"ゲート{n}", place="", service_key="tickets",
                                                public_key=signing.public_pem(signing.new_key()))
                     for n in range(gates)]
    connection.close()
    now = dt.datetime.now(dt.timezone.utc).isoformat()
    resend = json.dumps({"events": [{"id": str(uuid.uuid4()), "service": "tickets", "card": "00000000000000cd",
                                     "result": "not_allowed", "at": now}]}).encode()
    errors, acknowledged, lock = [], [], threading.Lock()

    def run(jobs):
        barrier = threading.Barrier(len(jobs))

        def one(terminal, body):
            from django.db import connection as own

            barrier.wait()
            try:
                with tenant(municipality):
                    ids = services.receive_events(terminal, body)
                with lock:
                    acknowledged.append(ids)
            except Exception as exc:  # noqa: BLE001 — reported, the test fails on it
                with lock:
                    errors.append(f"{exc.__class__.__name__}: {exc}")
            finally:
                own.close()

        threads = [threading.Thread(target=one, args=job) for job in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    run([(t, json.dumps({"events": [{"id": str(uuid.uuid4()), "service": "tickets", "card": card,
                                     "result": "admitted", "at": now}]}).encode()) for t in terminals])
    run([(terminals[0], resend) for _ in range(gates)])
    with tenant(municipality):
        outcome = {
            "admitted": TerminalEvent.objects.filter(outcome="admitted").count(),
            "conflicts": TerminalEvent.objects.filter(outcome="conflict").count(),
            "refused": TerminalEvent.objects.filter(outcome="refused").count(),
            "ticket": Ticket.objects.get().status,
            "acknowledged": len(acknowledged), "errors": errors,
        }
    print(json.dumps(outcome), flush=True)


if __name__ == "__main__":
    main()
