"""`madoguchi worker`: django-tasks' database worker, plus the sweeps every worker runs at
start and then periodically in a thread of its own — so they run even while the worker is
busy with a long task, and a worker restarted after a crash repairs what the dead one left
(an export left "running" by a killed worker is failed within a minute: docs/exports.md)."""

import logging
import threading

from django.conf import settings
from django.db import close_old_connections
from django.utils.module_loading import import_string
from django_tasks_db.management.commands.db_worker import Command as DatabaseWorker

logger = logging.getLogger("madoguchi.worker")

SWEEPS = ("madoguchi.exports.services.sweep", "madoguchi.payments.services.sweep",
          "madoguchi.payments.reconciliation.sweep")


def sweep_interval() -> float:
    # A few sweeps within the stale bound: a dead worker's export is failed at most a
    # quarter of the bound after its heartbeat became stale.
    return max(1.0, settings.EXPORT_STALE_SECONDS / 4)


def sweep_once() -> None:
    for path in SWEEPS:
        try:
            import_string(path)()
        except Exception:  # one failed sweep (database briefly away) must not stop the next
            logger.exception("sweep %s failed", path)
    close_old_connections()


def sweeper(stop: threading.Event) -> None:
    interval = sweep_interval()
    while not stop.is_set():
        sweep_once()
        stop.wait(interval)


class Command(DatabaseWorker):
    help = "Run the background task worker (and the periodic sweeps)"

    def handle(self, *args, **options):
        stop = threading.Event()
        # A daemon thread: it ends with the worker, however the worker ends.
        threading.Thread(target=sweeper, args=(stop,), name="madoguchi-sweeper", daemon=True).start()
        try:
            return super().handle(*args, **options)
        finally:
            stop.set()
