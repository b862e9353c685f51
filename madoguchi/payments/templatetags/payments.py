from django import template

from ..models import Payment

register = template.Library()


@register.inclusion_tag("payments/_resident_payments.html", takes_context=True)
def resident_payments(context, application):
    """The application's payments and, while it waits for one, 「お支払い」 (on its page)."""
    payments = list(Payment.objects.filter(application=application).prefetch_related("refunds").order_by("created_at"))
    return {"payments": payments, "municipality": context.get("municipality"), "a": application,
            "payable": application.status == "payment_required"}


@register.simple_tag
def payment_statuses(rows):
    """The latest payment's status of each application in "my applications" (one query):
    {application id: status label}. `rows` are the list's {"a": application, …}."""
    ids = [r["a"].pk for r in rows if r["a"].fee_yen]
    latest = {}
    for p in Payment.objects.filter(application_id__in=ids).order_by("created_at", "id"):
        latest[p.application_id] = p.get_status_display()
    return latest


@register.filter
def payment_of(statuses: dict, application_id):
    return statuses.get(application_id, "")


@register.filter
def provider_label(name: str) -> str:
    """A provider's name as the back office shows it (窓口払い for `counter`)."""
    from ..reconciliation import PROVIDER_LABELS

    return PROVIDER_LABELS.get(name, name)
