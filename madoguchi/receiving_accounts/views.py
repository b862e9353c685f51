"""The resident's pages: my account, register or change it (signed with the card), delete it.

Flow: edit (bank and branch by name or code, type, number, holder) → confirm (names in
kanji and kana shown back, the number masked) → the `sign` ceremony over the account's
canonical JSON → signed (stored: active, or held for staff when the holder's kana does not
match the resident record). The checked input waits in the session between the steps.
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from madoguchi.ceremonies import callers as ceremonies
from madoguchi.identity import services as identity
from madoguchi.identity.sessions import resident_required

from . import services
from .models import AccountType, mask

PENDING = "receiving_account_pending"
FIELDS = ("bank", "branch", "account_type", "account_number", "holder_kana")


def _pending(request):
    return services.AccountInput.from_session(request.session.get(PENDING) or {})


@never_cache
@resident_required
def mine(request, code):
    account = services.account_of(request.resident)
    return render(request, "receiving_accounts/mine.html", {
        "account": account, "history": services.history_of(request.resident),
        "linked": identity.resident_link_of(request.resident) is not None})


@never_cache
@require_http_methods(["GET", "POST"])
@resident_required
def edit(request, code):
    if identity.resident_link_of(request.resident) is None:
        return render(request, "receiving_accounts/mine.html", {
            "account": None, "history": [], "linked": False}, status=409)
    values = {name: "" for name in FIELDS}
    problems, bank_candidates, branch_candidates = {}, [], []
    if request.method == "POST":
        values = {name: (request.POST.get(name) or "")[:100] for name in FIELDS}
        try:
            cleaned = services.check_input(values)
        except services.InputProblems as exc:
            problems, bank_candidates, branch_candidates = exc.problems, exc.bank_candidates, exc.branch_candidates
        else:
            request.session[PENDING] = cleaned.as_session()
            return redirect("receiving_accounts:confirm", code)
    else:
        pending = _pending(request) or services.account_of(request.resident)
        if pending is not None:
            values = {"bank": pending.bank_code, "branch": pending.branch_code,
                      "account_type": str(pending.account_type), "account_number": "",
                      "holder_kana": pending.holder_kana}
    return render(request, "receiving_accounts/edit.html", {
        "values": values, "problems": problems, "bank_candidates": bank_candidates,
        "branch_candidates": branch_candidates, "account_types": AccountType.choices,
    }, status=400 if problems else 200)


@never_cache
@require_http_methods(["GET", "POST"])
@resident_required
def confirm(request, code):
    pending = _pending(request)
    if pending is None:
        return redirect("receiving_accounts:edit", code)
    if request.method == "POST":
        here = reverse("receiving_accounts:signed", args=[code])
        return ceremonies.begin(request, "sign", next_url=here, reason=services.PURPOSE,
                                document=pending.document(request.municipality, request.resident))
    return render(request, "receiving_accounts/confirm.html", {
        "p": pending, "masked": mask(pending.account_number),
        "type_label": AccountType(pending.account_type).label})


@never_cache
@resident_required
def signed(request, code):
    """Where the browser continues after the `sign` ceremony: store the signed account."""
    pending = _pending(request)
    result = ceremonies.take_in_session(request, reverse("receiving_accounts:signed", args=[code]))
    if pending is None or result is None:
        return redirect("receiving_accounts:confirm" if pending else "receiving_accounts:mine", code)
    try:
        account = services.register_signed(request.municipality, request.resident, pending, result)
    except services.AccountError as exc:
        return render(request, "receiving_accounts/confirm.html", {
            "p": pending, "masked": mask(pending.account_number), "error": exc.message,
            "type_label": AccountType(pending.account_type).label}, status=exc.status)
    request.session.pop(PENDING, None)
    if account.status == "active":
        messages.success(request, _("公金受取口座を登録しました。"))
    else:
        messages.warning(request, _("口座名義が住民記録の氏名（カナ）と一致しないため、職員が確認します。確認が終わるまで給付の振込先には使われません。"))
    return redirect("receiving_accounts:mine", code)


@never_cache
@require_POST
@resident_required
def delete(request, code):
    if services.delete_for(request.municipality, request.resident):
        messages.success(request, _("公金受取口座の登録を削除しました。"))
    request.session.pop(PENDING, None)
    return redirect("receiving_accounts:mine", code)
