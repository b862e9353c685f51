"""Back office: the issue log (who asked, whose record, which version) and revocation — for
example after the record was corrected. Administrators and reviewers."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from madoguchi.staff.decorators import staff_member_required
from madoguchi.staff.models import Membership

from . import services
from .models import Certificate

ROLES = (Membership.Role.ADMINISTRATOR, Membership.Role.REVIEWER)


@never_cache
@staff_member_required(*ROLES)
def issue_log(request, code):
    query = request.GET.get("number", "").strip()[:40]
    rows = Certificate.objects.select_related("type", "requester", "subject_record", "revoked_by").order_by("-issued_at")
    error = ""
    if query:
        number = services.normalise_issue_number(query)
        if number is None:
            error = _("発行番号は 4文字×4組（例: 7K2M-Q9XW-3MMT-R8PZ）で入力してください。")
            rows = rows.none()
        else:
            rows = rows.filter(issue_number=number)
    return render(request, "certificates/staff_log.html", {"rows": rows[:100], "query": query, "error": error},
                  status=400 if error else 200)


@never_cache
@require_POST
@staff_member_required(*ROLES)
def revoke(request, code, number):
    found = services.verdict(number)
    if not found.found:
        raise Http404
    try:
        services.revoke(found.certificate, request.user, request.POST.get("reason", ""))
    except services.CertificateRefused as exc:
        rows = Certificate.objects.select_related("type", "requester", "subject_record", "revoked_by").filter(
            pk=found.certificate.pk)
        return render(request, "certificates/staff_log.html", {
            "rows": rows, "query": found.certificate.issue_number, "revoke_error": str(exc),
            "revoke_number": found.certificate.issue_number}, status=400)
    messages.success(request, _("発行番号 %(number)s の証明書を取り消しました。確認ページでも取り消し済みと表示されます。")
                     % {"number": found.certificate.issue_number})
    return redirect("certificates_staff:log", code)
