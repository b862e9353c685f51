from django.apps import AppConfig


class NoticesConfig(AppConfig):
    """通知配信: deliveries of notices to the resident's e-mail (and, later, devices)."""

    name = "madoguchi.notices"
    label = "notices"

    def ready(self):
        # notices sits above applications: it plugs its channels into the applications'
        # notice channel registry (applications/notices/base.py), which imports none of them.
        from madoguchi.applications.notices.base import CHANNELS

        from .channels import DELIVERY_CHANNELS, email, webpush  # noqa: F401  (registers e-mail, push)
        from .services import adapter_for

        from madoguchi.core.metrics import GAUGES

        if "deliveries" not in GAUGES:
            GAUGES.register("deliveries", "Notice deliveries not yet sent or failed, by status")(_deliveries)

        for entry in DELIVERY_CHANNELS.entries():
            if entry.name not in CHANNELS:
                CHANNELS.register(entry.name, entry.description)(adapter_for(entry.name))


def _deliveries() -> dict[str, float]:
    from django.db.models import Count

    from .models import Delivery

    rows = Delivery.unscoped.exclude(status=Delivery.Status.SENT).values("status").annotate(n=Count("id"))
    return {row["status"]: float(row["n"]) for row in rows}
