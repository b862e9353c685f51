"""The notices' figures on /metrics (core/metrics.py SOURCES): deliveries by channel and state,
read from the database at scrape time (the worker that sends them may run on another machine)."""

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from .models import Delivery

# Sent deliveries are left out: the bulk of the table, and nothing for an operator to act on.
STATES = (Delivery.Status.QUEUED, Delivery.Status.SENDING, Delivery.Status.FAILED)


def deliveries():
    family = GaugeMetricFamily(
        "madoguchi_notice_deliveries",
        "Notice deliveries waiting (queued), being sent (sending) or given up after their retries (failed), "
        "per channel", labels=["channel", "state"])
    rows = (Delivery.unscoped.filter(status__in=STATES).values_list("channel", "status")
            .annotate(n=Count("id")).order_by())
    counts = {(channel, state): n for channel, state, n in rows}
    from .channels import DELIVERY_CHANNELS

    for channel in sorted(set(DELIVERY_CHANNELS.names()) | {c for c, _ in counts}):
        for state in STATES:
            family.add_metric([channel, str(state)], counts.get((channel, str(state)), 0))
    return [family]
