"""The resident's payment pages, the demo provider's hosted page (DEMO ONLY) and the staff
page of an application's payments (窓口払い, refunds). Thin: they call services."""

from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from madoguchi.core.access import public_view

from madoguchi.applications import queries
from madoguchi.applications import services as applications
from madoguchi.identity.sessions import resident_required
from madoguchi.procedures import definition as definition_fees
from madoguchi.procedures import forms
from madoguchi.staff.decorators import staff_member_required

from . import services
from .models import DemoCheckout, Method, Payment, Status
from .providers import demo


def _own_application(request, public_id):
    try:
        return applications.own(request.resident, public_id, draft=False)
    except applications.ApplicationError:
        raise Http404 from None


def _own_payment(request, public_id):
    try:
        return services.own_payment(request.resident, public_id)
    except services.PaymentError:
        raise Http404 from None


def _breakdown(definition: dict, data: dict) -> list[dict]:
    """The fee's lines as the definition computes the amount (procedures.definition.fee_lines:
    per copy, postage), their labels in the resident's language."""
    return [{**line, "label": forms.text(line["label"]) if line["label"] else ""}
            for line in definition_fees.charged_lines(definition, data)]


@never_cache
@resident_required
def pay(request, code, public_id):
    """「お支払い」: the amount, then the hand-over to the provider (POST)."""
    application = _own_application(request, public_id)
    error, status = "", 200
    if request.method == "POST":
        try:
            payment = services.start(application, request.resident, return_url=lambda p: request.build_absolute_uri(
                reverse("payments:status", args=[code, p.public_id])))
        except services.PaymentError as exc:
            error, status = str(exc), exc.status
        except ImproperlyConfigured:
            error, status = _("オンラインでのお支払いは現在ご利用いただけません。窓口でお支払いください。"), 503
        else:
            return redirect(services.checkout_url(payment) or reverse("payments:status", args=[code, payment.public_id]))
    response = render(request, "payments/pay.html", {
        "a": application, "title": forms.text(application.version.definition["title"]),
        "lines": _breakdown(application.version.definition, application.data),
        "payable": application.status == services.PAYMENT_REQUIRED, "error": error}, status=status)
    origins = _form_action_origins(application.municipality)
    if origins:  # the form's POST is redirected to the provider's page: CSP form-action checks it
        response._csp_update = {"form-action": list(origins)}
    return response


def _form_action_origins(municipality) -> tuple[str, ...]:
    from .providers import base as providers

    try:
        return providers.get(providers.name_for(municipality)).form_action_origins
    except ImproperlyConfigured:
        return ()


@never_cache
@resident_required
def payment_status(request, code, public_id):
    """Where the provider sends the resident back: the result as the provider confirms it,
    asked from here (query parameters of the return are ignored)."""
    payment = _own_payment(request, public_id)
    try:
        payment = services.confirm(payment)
    except ImproperlyConfigured:
        pass  # the provider cannot be asked now: the payment stays as it is, payable later
    return render(request, "payments/status.html", {
        "p": payment, "a": payment.application, "checkout_url": services.checkout_url(payment),
        "waiting": payment.status in (Status.CREATED, Status.PENDING)})


def _demo_checkout(request, reference):
    if not demo.allowed():
        raise Http404
    checkout = DemoCheckout.objects.filter(reference=reference).first()
    payment = (Payment.objects.filter(provider="demo", provider_reference=reference,
                                      application__person=request.resident).select_related("application").first()
               if checkout is not None else None)
    if payment is None:
        raise Http404
    return checkout, payment


@never_cache
@resident_required
def demo_page(request, code, reference):
    """DEMO ONLY: the demo provider's hosted payment page. Nothing is charged."""
    checkout, payment = _demo_checkout(request, reference)
    if request.method == "POST" and checkout.state == DemoCheckout.State.OPEN and payment.status == Status.PENDING:
        action = request.POST.get("action")
        if action in ("pay", "cancel"):
            checkout.state = DemoCheckout.State.PAID if action == "pay" else DemoCheckout.State.CANCELLED
            checkout.save(update_fields=["state"])
            return redirect(checkout.return_url)
    return render(request, "payments/demo_page.html", {"checkout": checkout, "p": payment,
                                                        "open": checkout.state == DemoCheckout.State.OPEN
                                                        and payment.status == Status.PENDING})


def _department_application(request, public_id):
    department = request.membership.department
    application = queries.for_department(department.code if department else None, public_id)
    if application is None:
        raise Http404
    return application


@never_cache
@staff_member_required()
def staff_payments(request, code, public_id):
    """An application's payments for a reviewer or a cashier (会計担当) of the owning
    department; only a cashier records 窓口払い and refunds (403 with the reason otherwise)."""
    membership = request.membership
    if membership.role != "reviewer" and not membership.cashier:
        raise PermissionDenied("role")
    application = _department_application(request, public_id)
    errors, status = {}, 200
    if request.method == "POST":
        try:
            if not membership.cashier:
                raise services.PaymentError("not_cashier", _("窓口払いと返金の記録は会計担当の職員だけが行えます。"),
                                            status=403)
            if request.POST.get("action") == "counter":
                services.record_counter(application, request.user, method=request.POST.get("method", ""),
                                        till_receipt=request.POST.get("till_receipt", ""))
            elif request.POST.get("action") in ("refund", "retry_refund"):
                payment = Payment.objects.filter(application=application,
                                                 public_id=_uuid(request.POST.get("payment"))).first()
                if payment is None:
                    raise services.PaymentError("not_found", _("この支払いはありません。"), status=400,
                                                field="payment")
                if request.POST.get("action") == "retry_refund":
                    services.retry_refund(payment, request.user)
                else:
                    services.refund(payment, request.user, amount_yen=request.POST.get("amount_yen"),
                                    reason=request.POST.get("reason", ""))
            else:
                raise services.PaymentError("invalid_action", "action", status=400, field="action")
        except services.PaymentError as exc:
            shown = exc.field if exc.field in ("method", "till_receipt", "amount_yen", "reason") else "form"
            errors, status = {shown: str(exc)}, exc.status
        else:
            return redirect("payments_staff:application", code, application.public_id)
        application = _department_application(request, public_id)
    return render(request, "payments/staff.html", {
        "a": application, "payments": services.payments_of(application), "errors": errors,
        "methods": [(Method.CASH, Method.CASH.label), (Method.CARD, Method.CARD.label)],
        "payable": application.status == services.PAYMENT_REQUIRED, "post": request.POST,
        "cashier": membership.cashier}, status=status)


def _uuid(value):
    import uuid

    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


@public_view  # the provider calls it; its Stripe-Signature is what is checked
@csrf_exempt
@require_POST
def stripe_webhook(request, code):
    try:
        done = services.stripe_webhook(request.body, request.headers.get("Stripe-Signature"))
    except services.PaymentError as exc:
        return JsonResponse({"error": exc.code, "field": exc.field, "message": str(exc)}, status=exc.status)
    except ImproperlyConfigured:
        return JsonResponse({"error": "not_configured", "message": "the stripe provider is not configured"},
                            status=404)
    return JsonResponse({"received": True, "result": done})
