"""One writer process of tests/audit/test_concurrency.py: waits for the common start time,
then in one transaction records its events, goes on working, and commits; prints the time
its transaction ended. Run as `python -m tests.audit.concurrent_writers WRITER START WORK
[hold]` with MADOGUCHI_DATABASE_URL naming the test's own database."""

import json
import os
import sys
import time


def main() -> None:
    writer, start_at, work = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    hold = len(sys.argv) > 4 and sys.argv[4] == "hold"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")
    import django

    django.setup()
    from django.db import transaction

    from madoguchi.audit.services import record
    from madoguchi.municipalities.models import Municipality

    municipality = Municipality.objects.get(code=os.environ["WRITERS_MUNICIPALITY"])
    time.sleep(max(0.0, start_at - time.time()))
    began = time.time()
    with transaction.atomic():
        for k in range(2):
            event = record("test.concurrent", municipality=municipality, obj=("writer", writer), data={"k": k})
        pending = event.seq is None
        time.sleep(work)  # the business transaction goes on after recording
    print(json.dumps({"writer": writer, "began": began, "ended": time.time(), "pending": pending}), flush=True)


if __name__ == "__main__":
    main()
