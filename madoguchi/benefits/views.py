"""The resident's 給付金 page: their benefits, the account each will be paid into, decline."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from madoguchi.identity.sessions import resident_required
from madoguchi.receiving_accounts import reading as accounts

from . import payouts


@never_cache
@resident_required
def mine(request, code, status=200):
    rows = payouts.of_person(request.resident)
    account = accounts.account_for(request.resident.pk, request.municipality) if rows else None
    return render(request, "benefits/mine.html", {
        "rows": rows, "account": account, "today": timezone.localdate(),
        "confirmation_procedure": payouts.CONFIRMATION_PROCEDURE}, status=status)


@never_cache
@require_POST
@resident_required
def decline(request, code, pk):
    try:
        row = payouts.decline(request.resident, pk)
    except payouts.PayoutError as exc:
        messages.error(request, str(exc))
        return mine(request, code, status=exc.status)
    messages.success(request, _("「%(p)s」の受け取りを辞退しました。") % {"p": row.program.name})
    return redirect("benefits:mine", code)
