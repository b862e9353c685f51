"""Residents racing for the last places of a slot, for tests/bookings/test_race.py and
bench/bookings_race.py: in a database of its own (MADOGUCHI_DATABASE_URL, migrated), makes a
counter of CAPACITY places and RESIDENTS persons, then THREADS threads — each with its own
database connection — book the same slot for them at once. Prints one JSON line: how many
were booked, how many were told the slot is full, any other error, the slot's count and the
bookings in the database, and the seconds the race took.

    python -m tests.bookings.race RESIDENTS CAPACITY THREADS
"""

import datetime as dt
import json
import os
import sys
import threading
import time


def main() -> None:
    residents, capacity, threads = (int(a) for a in sys.argv[1:4])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")
    import django

    django.setup()
    from django.db import connection

    from madoguchi.bookings import services
    from madoguchi.bookings.models import Booking, Counter, Slot
    from madoguchi.core.dates import JST
    from madoguchi.identity.models import Person
    from madoguchi.municipalities.models import Municipality
    from madoguchi.municipalities.tenancy import tenant

    municipality, _ = Municipality.objects.get_or_create(code="139998", defaults={"name": "窓口市",
                                                                                 "name_kana": "まどぐちし"})
    with tenant(municipality):
        counter = Counter.objects.create(municipality=municipality, name=f"市民課 {time.time()}",
                                         opens_at=dt.time(9), closes_at=dt.time(17), slot_minutes=30,
                                         capacity=capacity)
    people = [Person.objects.create(verified_name=f"予約　{n}", verified_birth_date=dt.date(1990, 1, 1),
                                    verified_sex="1", verified_address="窓口市", verified_at=dt.datetime.now(dt.timezone.utc))
              for n in range(residents)]
    day = dt.date.today() + dt.timedelta(days=7)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    slot = dt.datetime.combine(day, dt.time(10), tzinfo=JST)
    connection.close()

    outcomes = {"booked": 0, "full": 0, "other": []}
    lock = threading.Lock()
    barrier = threading.Barrier(threads)
    queue = list(people)

    def racer():
        from django.db import connection as own

        barrier.wait()
        with tenant(municipality):
            while True:
                with lock:
                    if not queue:
                        break
                    person = queue.pop()
                try:
                    services.book(person, counter.pk, slot, "転入の手続き")
                    key = "booked"
                except services.BookingError as exc:
                    key = "full" if exc.status == 409 else None
                    if key is None:
                        with lock:
                            outcomes["other"].append(str(exc))
                        continue
                except Exception as exc:  # noqa: BLE001 — reported, the test fails on it
                    with lock:
                        outcomes["other"].append(f"{exc.__class__.__name__}: {exc}")
                    continue
                with lock:
                    outcomes[key] += 1
        own.close()

    started = time.monotonic()
    workers = [threading.Thread(target=racer) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    with tenant(municipality):
        counted = Slot.objects.get(counter=counter, starts_at=slot).booked
        in_db = Booking.objects.filter(counter=counter, starts_at=slot, status="booked").count()
    print(json.dumps({**outcomes, "slot_count": counted, "bookings": in_db, "seconds": round(elapsed, 3)}), flush=True)


if __name__ == "__main__":
    main()
