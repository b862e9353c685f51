"""Prometheus metrics (/metrics; docs/operations.md "Metrics").

Counters and the request-latency histogram are prometheus-client's. Under `madoguchi serve`
every gunicorn worker writes them to files in the server's run directory
(PROMETHEUS_MULTIPROC_DIR, set by madoguchi/core/serving.py before any worker starts) and
/metrics sums the files of all workers (prometheus-client's multiprocess mode); without that
directory (runserver, tests, a shell) they live in the process.

What the database knows (the task queue's depth, notice deliveries that failed) is read when
/metrics is scraped, by *sources*: callables registered in `SOURCES` by the app that owns the
data (notices registers its own in its AppConfig.ready; core the task queue), each returning
prometheus-client metric families. Their answers are kept SOURCE_CACHE_SECONDS in the
process, so a scrape every few seconds costs the database a query per source at most that
often.
"""

import ipaddress
import logging
import os
import threading
import time

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST  # noqa: F401  (the view's content type)
from prometheus_client import REGISTRY as PROCESS_REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from madoguchi.registry import Registry

log = logging.getLogger(__name__)

disable_created_metrics()  # no `_created` series beside every counter: nothing reads them

# Request latency per view (the URL pattern's name: bounded, unlike paths), method and status
# class. Buckets from 5 ms (a /livez) to 10 s (a large upload).
REQUEST_SECONDS = Histogram(
    "madoguchi_request_duration_seconds", "Time from the first middleware to the response, per view",
    ["view", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
CEREMONIES_OPENED = Counter("madoguchi_ceremonies_opened_total", "Card ceremonies opened", ["purpose"])
CEREMONIES_FINISHED = Counter(
    "madoguchi_ceremonies_finished_total",
    "Card ceremonies answered by a card client: outcome `completed` or the failure's code", ["purpose", "outcome"],
)
SUBMISSIONS = Counter(
    "madoguchi_submissions_total",
    "Applications submitted (kind: submitted or resubmitted after a correction; signed: yes or no), counted at commit",
    ["kind", "signed"],
)

SOURCE_CACHE_SECONDS = 10.0

# Scrape-time sources: name → callable() returning an iterable of metric families.
SOURCES = Registry("metrics source")


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def observe_request(request, status: int, seconds: float) -> None:
    match = getattr(request, "resolver_match", None)
    view = (match.view_name or "unnamed") if match is not None else "unmatched"
    REQUEST_SECONDS.labels(view, request.method or "", status_class(status)).observe(seconds)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir") or None


class _Sources(Collector):
    """The registered sources, each answer cached for SOURCE_CACHE_SECONDS; a source that
    fails is logged and left out (the rest of the scrape still answers)."""

    _lock = threading.Lock()
    _cache: dict[str, tuple[float, list]] = {}

    def collect(self):
        now = time.monotonic()
        for entry in SOURCES.entries():
            with self._lock:
                cached = self._cache.get(entry.name)
            if cached is not None and now - cached[0] < SOURCE_CACHE_SECONDS:
                yield from cached[1]
                continue
            try:
                families = list(entry.implementation())
            except Exception:  # a metrics scrape must not fail on one source
                log.exception("metrics source %s failed", entry.name)
                families = []
            with self._lock:
                self._cache[entry.name] = (now, families)
            yield from families

    @classmethod
    def forget(cls) -> None:
        with cls._lock:
            cls._cache.clear()


def exposition() -> bytes:
    """The text format of every metric: this process's (or all workers', in multiprocess
    mode) and the sources'."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(_Sources())
        return generate_latest(registry)
    registry = CollectorRegistry()
    registry.register(_Sources())
    return generate_latest(PROCESS_REGISTRY) + generate_latest(registry)


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@SOURCES.register("tasks", "the Tasks backend's queue depth: tasks ready to run, per queue")
def task_queue_depth():
    from django.conf import settings

    family = GaugeMetricFamily("madoguchi_task_queue_depth", "Tasks waiting for a worker, per queue",
                               labels=["queue"])
    if settings.TASKS_BACKEND == "rq":
        import django_rq
        from django_tasks import task_backends

        for name in sorted(task_backends["default"].queues):
            queue = django_rq.get_queue(name)
            family.add_metric([name], queue.count)
        return [family]
    from django.db.models import Count
    from django_tasks_db.models import DBTaskResult

    counts = dict(DBTaskResult.objects.ready().values_list("queue_name").annotate(n=Count("id"))
                  .values_list("queue_name", "n"))
    from django_tasks import task_backends

    for name in sorted(set(task_backends["default"].queues) | set(counts)):
        family.add_metric([name], counts.get(name, 0))
    return [family]
