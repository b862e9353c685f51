"""The back office pages of 申請管理: thin views over casework.services.

Every view is a staff view of one municipality (staff_member_required: password + TOTP,
signed in to this municipality); applications are looked up within the staff member's
department only (another department's application is a 404); actions need a reviewer of
the owning department (403 otherwise) and are POSTs behind CSRF; every action is audited by
the services. Refusals answer 4xx with the page and a message.
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from madoguchi.procedures import forms as app_forms
from madoguchi.applications.statemachine import Status
from madoguchi.applications.services import reading
from madoguchi.core.ratelimit import allow
from madoguchi.staff.decorators import staff_member_required
from madoguchi.staff.models import Membership

from . import services
from .forms import InboxFilterForm
from .models import CaseComment

ADMIN = Membership.Role.ADMINISTRATOR
REVEALS_PER_HOUR = 30
ACTIONS_PER_MINUTE = 120


def _limited(request, scope: str, limit: int, window: int):
    if allow(f"casework.{scope}", f"{request.municipality.pk}:{request.user.pk}", limit, window):
        return None
    return HttpResponse(_("操作が多すぎます。しばらくしてからお試しください。"), status=429,
                        content_type="text/plain; charset=utf-8")


# -- inbox ---------------------------------------------------------------------------------


def _inbox_context(request, form):
    membership = request.membership
    data = form.cleaned_data
    query = services.InboxQuery(
        procedure=data.get("procedure") or "", status=data.get("status") or "", date_from=data.get("date_from"),
        date_to=data.get("date_to"), assignee=data.get("assignee") or "", q=data.get("q") or "",
        sort=data.get("sort") or "new", cursor=data.get("cursor") or "")
    page = services.inbox(membership, query, request.user)
    titles = {slug: app_forms.text(title) for slug, title in page.titles.items()}
    params = {k: v for k, v in request.GET.items() if k != "cursor" and v}
    def shown(n, capped):
        return f"{n:,}+" if capped else f"{n:,}"

    tabs = [{"status": "", "label": _("すべて"), "count": shown(page.total, bool(page.capped)),
             "current": not query.status, "url": "?" + urlencode({k: v for k, v in params.items() if k != "status"})}]
    for status in services.LISTED:
        tabs.append({"status": status, "label": Status(status).label,
                     "count": shown(page.counts[status], status in page.capped),
                     "current": query.status == status,
                     "url": "?" + urlencode({**{k: v for k, v in params.items() if k != "status"}, "status": status})})
    return {
        "form": form, "page": page, "titles": titles, "tabs": tabs,
        "rows": [{"a": a, "title": titles.get(a.procedure.slug, a.procedure.slug)} for a in page.rows],
        "next_url": "?" + urlencode({**params, "cursor": page.next_cursor}) if page.next_cursor else "",
        "first_url": "?" + urlencode(params) if query.cursor else "",
        "can_act": services.can_act(membership), "reviewers": services.reviewers(membership),
        "bulk_targets": [(s, Status(s).label) for s in (Status.RECEIVED, Status.APPROVED, Status.COMPLETED,
                                                        Status.RETURNED, Status.REJECTED)],
        "here": request.get_full_path(),
    }


@never_cache
@require_GET
@staff_member_required()
def inbox(request, code):
    form = InboxFilterForm(request.GET)
    if not form.is_valid():
        empty = InboxFilterForm({})
        empty.is_valid()
        context = _inbox_context(request, empty)
        context["form"] = form
        return render(request, "casework/inbox.html", context, status=400)
    try:
        context = _inbox_context(request, form)
    except services.CaseworkError as exc:
        return _inbox_refusing(request, exc)
    return render(request, "casework/inbox.html", context)


def _inbox_refusing(request, exc):
    """The unfiltered inbox with the refusal's message, answered with its status (400)."""
    empty = InboxFilterForm({})
    empty.is_valid()
    context = _inbox_context(request, empty)
    context["error"] = str(exc)
    return render(request, "casework/inbox.html", context, status=exc.status)


def _back_to_inbox(request, code):
    here = request.POST.get("next", "")
    inbox_path = reverse("casework:inbox", args=[code])
    return redirect(here if here.startswith(inbox_path) and "//" not in here else inbox_path)


@never_cache
@require_POST
@staff_member_required()
def bulk(request, code):
    limited = _limited(request, "actions", ACTIONS_PER_MINUTE, 60)
    if limited:
        return limited
    action = request.POST.get("action", "")
    value = request.POST.get("assignee" if action == "assign" else "target", "")
    try:
        result = services.bulk(request.membership, request.user, request.POST.getlist("ids"), action, value,
                               request.POST.get("comment", ""))
    except services.CaseworkError as exc:
        # Nothing was done: a 4xx with the message (CaseworkError's contract), not a redirect.
        if exc.status == 403:
            return render(request, "403.html", {"reason": str(exc)}, status=403)
        return _inbox_refusing(request, exc)
    if result.done:
        messages.success(request, _("%(n)s件を処理しました。") % {"n": len(result.done)})
    for receipt, reason in result.refused:
        messages.warning(request, f"{receipt}: {reason}")
    return _back_to_inbox(request, code)


# -- the review page -----------------------------------------------------------------------


def _review_context(request, application, **extra):
    membership = request.membership
    definition = application.version.definition
    context = {
        "a": application, "title": app_forms.text(definition["title"]),
        "rows": app_forms.display(definition, application.data, reading.member_names(application)),
        "numbers": services.mynumber_fields(application),
        "signature": services.signature_panel(application),
        "match": services.resident_match(application),
        "attachments": services.attachments_of(application),
        "documents": [(d, Status(d.decision).label if d.decision in Status.values else "")  # 受付票, 決定通知書
                      for d in application.documents.order_by("created_at", "id")],
        "comments": list(CaseComment.objects.filter(application=application).select_related("author")
                         .order_by("created_at", "id")),
        "events": services.events_of(application),
        "targets": [(t, _("手数料免除を認めない（支払い待ちへ）") if t == Status.PAYMENT_REQUIRED else Status(t).label)
                    for t in services.targets_for(membership, application)],
        "exemption": services.exemption_of(application),
        "reason_required": sorted(services.REASON_REQUIRED),
        "can_act": services.can_act(membership, application),
        "reviewers": services.reviewers(membership),
        "previewable": services.PREVIEWABLE,
    }
    context.update(extra)
    return context


@never_cache
@require_GET
@staff_member_required()
def review(request, code, public_id):
    application = services.get_for(request.membership, public_id)
    return render(request, "casework/review.html", _review_context(request, application))


def _refused(request, application, exc):
    return render(request, "casework/review.html", _review_context(request, application, error=str(exc)),
                  status=exc.status)


@never_cache
@require_POST
@staff_member_required()
def transition(request, code, public_id):
    application = services.get_for(request.membership, public_id)
    limited = _limited(request, "actions", ACTIONS_PER_MINUTE, 60)
    if limited:
        return limited
    target = request.POST.get("target", "")
    try:
        services.decide(request.membership, request.user, application, target, request.POST.get("comment", ""))
    except services.CaseworkError as exc:
        return _refused(request, application, exc)
    messages.success(request, _("「%(status)s」にしました。") % {"status": Status(target).label})
    return redirect("casework:review", code, application.public_id)


@never_cache
@require_POST
@staff_member_required()
def assign(request, code, public_id):
    application = services.get_for(request.membership, public_id)
    value = request.POST.get("assignee", "")
    if value == "me":
        value = str(request.user.pk)
    try:
        services.assign(request.membership, request.user, application, value)
    except services.CaseworkError as exc:
        return _refused(request, application, exc)
    messages.success(request, _("担当者を変更しました。"))
    return redirect("casework:review", code, application.public_id)


@never_cache
@require_POST
@staff_member_required()
def comment(request, code, public_id):
    application = services.get_for(request.membership, public_id)
    try:
        services.add_comment(request.membership, request.user, application, request.POST.get("body", ""))
    except services.CaseworkError as exc:
        return _refused(request, application, exc)
    messages.success(request, _("メモを追加しました。"))
    return redirect("casework:review", code, application.public_id)


@never_cache
@require_POST
@staff_member_required()
def reveal(request, code, public_id):
    """Shows one individual number on this response only (never stored in the session,
    never redirected with it); applications.services.reveal writes the audit event."""
    application = services.get_for(request.membership, public_id)
    limited = _limited(request, "reveal", REVEALS_PER_HOUR, 3600)
    if limited:
        return limited
    pointer = request.POST.get("pointer", "")[:200]
    try:
        value = services.reveal(request.membership, request.user, application, pointer)
    except services.CaseworkError as exc:
        return _refused(request, application, exc)
    response = render(request, "casework/review.html",
                      _review_context(request, application, revealed={"pointer": pointer, "value": value}))
    response["Cache-Control"] = "no-store"
    return response


def _attachment_response(request, public_id, attachment_id, inline: bool):
    application = services.get_for(request.membership, public_id)
    item = services.attachment_of(application, attachment_id)
    if inline and item.content_type not in services.PREVIEWABLE:
        raise Http404("no preview for this type")
    # Staff open only the sanitised copy (無害化, applications/sanitise.py), never the
    # resident's original as it came from the internet.
    if item.sanitisation != item.Sanitisation.CLEAN or not item.sanitised_file:
        message = (_("この添付書類は無害化できなかったため、開けません。申請者に補正を依頼してください。")
                   if item.sanitisation == item.Sanitisation.REJECTED
                   else _("この添付書類は無害化の処理中です。しばらくしてから開いてください。"))
        return HttpResponse(message, status=409, content_type="text/plain; charset=utf-8")
    response = FileResponse(default_storage.open(item.sanitised_file.name), as_attachment=not inline,
                            filename=item.name, content_type=item.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    if inline:
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@never_cache
@require_GET
@staff_member_required()
def attachment(request, code, public_id, attachment_id):
    return _attachment_response(request, public_id, attachment_id, inline=False)


@never_cache
@require_GET
@staff_member_required()
def attachment_preview(request, code, public_id, attachment_id):
    return _attachment_response(request, public_id, attachment_id, inline=True)


# -- audit ---------------------------------------------------------------------------------


ACTION_CHOICES_MAX = 64


@never_cache
@require_GET
@staff_member_required()
def application_audit(request, code, public_id):
    application = services.get_for(request.membership, public_id)
    action = request.GET.get("action", "")[:ACTION_CHOICES_MAX]
    events = list(services.audit_trail(application, action)[:500])
    actions = sorted(set(services.audit_trail(application).values_list("action", flat=True)))
    return render(request, "casework/audit_application.html",
                  {"a": application, "events": events, "action": action, "actions": actions})


@never_cache
@require_GET
@staff_member_required(ADMIN)
def audit_index(request, code):
    members = Membership.objects.select_related("user", "department").order_by("user__username")
    return render(request, "casework/audit_index.html", {"members": members})


@never_cache
@require_GET
@staff_member_required(ADMIN)
def staff_audit(request, code, user_id):
    from django import forms as dj_forms

    member = Membership.objects.filter(user_id=user_id).select_related("user", "department").first()
    if member is None:
        raise Http404("not a member of this municipality")

    class Filter(dj_forms.Form):
        action = dj_forms.CharField(required=False, max_length=ACTION_CHOICES_MAX)
        date_from = dj_forms.DateField(required=False)
        date_to = dj_forms.DateField(required=False)

    form = Filter(request.GET)
    if not form.is_valid():
        return render(request, "casework/audit_staff.html", {"member": member, "events": [], "form": form},
                      status=400)
    data = form.cleaned_data
    events = services.staff_trail(member.user_id, data["action"], data["date_from"], data["date_to"])
    return render(request, "casework/audit_staff.html", {"member": member, "events": events, "form": form})


@never_cache
@require_http_methods(["GET", "POST"])
@staff_member_required(ADMIN)
def audit_verify(request, code):
    report = None
    if request.method == "POST":
        limited = _limited(request, "audit_verify", 10, 3600)
        if limited:
            return limited
        report = services.verify_audit(request.municipality, request.user)
    return render(request, "casework/audit_verify.html", {"report": report})
