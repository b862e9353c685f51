"""Back office: accounts held for review (the holder's kana does not match the resident
record), the decision, and the periodic check (定期点検)."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from madoguchi.residents.models import ResidentRecord
from madoguchi.staff.decorators import staff_member_required
from madoguchi.staff.models import Membership

from . import services
from .models import ReceivingAccount, Status

DECIDERS = (Membership.Role.ADMINISTRATOR, Membership.Role.REVIEWER)


@never_cache
@require_GET
@staff_member_required()
def queue(request, code):
    held = list(ReceivingAccount.objects.filter(status=Status.HELD).order_by("updated_at")[:200])
    records = {r.resident_number: r for r in
               ResidentRecord.objects.filter(resident_number__in=[a.resident_number for a in held])}
    rows = [{"a": a, "record": records.get(a.resident_number)} for a in held]
    return render(request, "receiving_accounts/staff_queue.html", {
        "rows": rows, "can_decide": request.membership.role in DECIDERS})


@never_cache
@require_POST
@staff_member_required(*DECIDERS)
def decide(request, code, account_id):
    account = ReceivingAccount.objects.filter(pk=account_id).first()
    if account is None:
        raise Http404("no such account")
    decision = request.POST.get("decision", "")
    if decision not in ("approve", "reject"):
        messages.error(request, _("判断を選んでください。"))
        return redirect("receiving_accounts_staff:queue", code)
    try:
        services.decide(account, request.user, approve=decision == "approve", note=request.POST.get("note", ""))
    except services.AccountError as exc:
        messages.error(request, exc.message)
        return redirect("receiving_accounts_staff:queue", code)
    messages.success(request, _("名義を確認し、口座を有効にしました。") if decision == "approve"
                     else _("登録を認めませんでした。"))
    return redirect("receiving_accounts_staff:queue", code)


@never_cache
@require_GET
@staff_member_required()
def inspection(request, code):
    return render(request, "receiving_accounts/inspection.html", {"report": services.inspect()})
