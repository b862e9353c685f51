from django import template

from ..models import Payment

register = template.Library()


@register.inclusion_tag("payments/_resident_payments.html", takes_context=True)
def resident_payments(context, application):
    """The application's payments and, while it waits for one, 「お支払い」 (on its page)."""
    payments = list(Payment.objects.filter(application=application).prefetch_related("refunds").order_by("created_at"))
    return {"payments": payments, "municipality": context.get("municipality"), "a": application,
            "payable": application.status == "payment_required"}
