"""`madoguchi worker`: the Tasks backend's worker — django-tasks' database worker, or an RQ
worker when MADOGUCHI_TASKS_BACKEND=rq (docs/notices.md) — plus the sweeps every worker runs at
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

SWEEPS = ("madoguchi.audit.services.sweep", "madoguchi.exports.services.sweep", "madoguchi.payments.services.sweep",
          "madoguchi.payments.reconciliation.sweep", "madoguchi.notices.services.sweep",
          "madoguchi.notices.broadcasts.sweep", "madoguchi.bookings.services.sweep",
          "madoguchi.counter.services.sweep")


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


def rq_worker(burst: bool = False):
    """An RQ worker on the Tasks backend's queues (django-tasks-rq's Job class), in this
    process (SimpleWorker: no fork per job; a task is a batch of deliveries, and the
    sweeps thread stays with it), with RQ's scheduler for tasks that run later (retries
    with backoff, quiet hours). Several `madoguchi worker` processes share the queues."""
    import django_rq
    from django_tasks import task_backends
    from django_tasks_rq.backend import Job
    from rq import SimpleWorker

    queues = [django_rq.get_queue(name, job_class=Job) for name in sorted(task_backends["default"].queues)]
    return SimpleWorker(queues, connection=queues[0].connection, job_class=Job)


class Command(DatabaseWorker):
    help = "Run the background task worker (and the periodic sweeps)"

    def add_arguments(self, parser):
        if settings.TASKS_BACKEND != "rq":
            return super().add_arguments(parser)
        # RQ: the database worker's options are accepted (the CLI passes them) and the
        # queues are the Tasks backend's; --batch stops when the queues are empty.
        parser.add_argument("--queue-name", default="*")
        parser.add_argument("--no-reload", action="store_true")
        parser.add_argument("--batch", action="store_true")

    def handle(self, *args, **options):
        stop = threading.Event()
        # A daemon thread: it ends with the worker, however the worker ends.
        threading.Thread(target=sweeper, args=(stop,), name="madoguchi-sweeper", daemon=True).start()
        try:
            if settings.TASKS_BACKEND == "rq":
                rq_worker().work(with_scheduler=True, logging_level="WARNING",
                                 burst=bool(options.get("batch")))
                return None
            return super().handle(*args, **options)
        finally:
            stop.set()
