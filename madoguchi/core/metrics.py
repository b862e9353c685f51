"""Prometheus metrics for operators (/metrics; docs/operations.md).

- `madoguchi_http_request_duration_seconds{method,view,status}`: every request, by the
  route's name (never the path: it carries ids), from RequestIdMiddleware.
- `madoguchi_events_total{action}`: every state change the audit trail records, counted when
  its transaction commits — ceremonies, submissions, decisions, deliveries that failed,
  payments: one counter for all, labelled with the audit action.
- Gauges read at scrape time from providers other apps register (`GAUGES`: the Tasks
  queue's depth here, notices registers deliveries by status): they are the database's
  numbers, whichever process answers.

Under gunicorn (several processes) `madoguchi serve` sets PROMETHEUS_MULTIPROC_DIR, and a
scrape aggregates every worker's counters (prometheus_client's multiprocess mode).
"""

import hmac
import os
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from madoguchi.registry import Registry

REQUEST_SECONDS = Histogram(
    "madoguchi_http_request_duration_seconds", "Time to answer a request, by route", ["method", "view", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
EVENTS = Counter("madoguchi_events_total", "State changes recorded in the audit trail, by action", ["action"])

# name → a function returning {label value: number} for a gauge labelled `status`
GAUGES: Registry[Callable[[], dict[str, float]]] = Registry("metrics gauge")


def observe_request(method: str, view: str, status: int, seconds: float) -> None:
    REQUEST_SECONDS.labels(method, view, f"{status // 100}xx").observe(seconds)


def count_events(actions: list[str]) -> None:
    for action in actions:
        EVENTS.labels(action).inc()


class _Gauges:
    def collect(self):
        for entry in GAUGES.entries():
            family = GaugeMetricFamily(f"madoguchi_{entry.name}", entry.description, labels=["status"])
            try:
                values = GAUGES.get(entry.name)()
            except Exception:  # noqa: BLE001  (a scrape never fails for one gauge)
                continue
            for label, value in sorted(values.items()):
                family.add_metric([label], value)
            yield family


def scrape() -> bytes:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUEST_SECONDS)
        registry.register(EVENTS)
    registry.register(_Gauges())
    return generate_latest(registry)


def allowed(request) -> bool:
    """From this machine, or with the operator's token (MADOGUCHI_METRICS_TOKEN) as a bearer."""
    from django.conf import settings

    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    return request.META.get("REMOTE_ADDR", "") in ("127.0.0.1", "::1")


@GAUGES.register("tasks_waiting", "Background tasks waiting to run (the Tasks queue's depth)")
def _tasks_waiting() -> dict[str, float]:
    from django.conf import settings

    if settings.TASKS_BACKEND == "rq":
        import django_rq

        return {"queued": float(django_rq.get_queue("default").count)}
    from django_tasks_db.models import DBTaskResult

    return {"ready": float(DBTaskResult.objects.ready().count())}
