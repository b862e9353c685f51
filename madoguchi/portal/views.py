from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from madoguchi.applications.services import reading as applications
from madoguchi.audit.models import AuditEvent
from madoguchi.ceremonies import callers as ceremonies
from madoguchi.core.access import public_view
from madoguchi.identity import services as identity
from madoguchi.identity import sessions
from madoguchi.municipalities.models import Municipality
from madoguchi.notices import broadcasts as notice_broadcasts
from madoguchi.notices import emails as notice_emails
from madoguchi.notices import push as notice_push
from madoguchi.notices import preferences as notice_preferences
from madoguchi.oidc.services import consents_of
from madoguchi.receiving_accounts import services as receiving_accounts


@public_view
@require_GET
def directory(request):
    """The deployment's front page: which municipalities it serves."""
    municipalities = Municipality.objects.filter(is_active=True).order_by("code")
    return render(request, "portal/directory.html", {"municipalities": municipalities})


@public_view
@never_cache
@require_GET
def top(request, code):
    """The municipality's top page: for a signed-in resident what needs them first (補正依頼,
    支払い待ち), their open applications and unread notices; for a visitor the sign-in; for
    both the procedures (the first eight) and the contact."""
    from madoguchi.procedures.forms import text
    from madoguchi.procedures.models import ProcedureVersion

    # One query, and only the titles out of the (large) definitions: this page is the busiest.
    published = (ProcedureVersion.objects.filter(status=ProcedureVersion.Status.PUBLISHED)
                 .order_by("procedure__slug").values_list("procedure__slug", "definition__title")[:8])
    procedures = [{"slug": slug, "title": text(title)} for slug, title in published]
    signed_in = sessions.current(request)
    summary = applications.resident_summary(signed_in[0]) if signed_in else None
    municipality, language = request.municipality, get_language() or "ja"
    return render(request, "portal/top.html", {
        "procedures": procedures, "summary": summary,
        "welcome": municipality.in_language("welcome_message", language),
        "office_hours": municipality.in_language("office_hours", language)})


# Why the sign-in page is shown, by the page the resident was on its way to (its URL name).
LOGIN_REASONS = {
    "applications:apply": gettext_noop("申請をはじめるには、ログインが必要です。"),
    "applications:correct": gettext_noop("申請を修正するには、ログインが必要です。"),
    "applications:mine": gettext_noop("申請した手続きを見るには、ログインが必要です。"),
    "applications:detail": gettext_noop("申請の状況を見るには、ログインが必要です。"),
    "applications:notices": gettext_noop("あなた宛てのお知らせを見るには、ログインが必要です。"),
    "portal:notices": gettext_noop("あなた宛てのお知らせを見るには、ログインが必要です。"),
    "portal:account": gettext_noop("アカウントを見るには、ログインが必要です。"),
    "payments:pay": gettext_noop("手数料を支払うには、ログインが必要です。"),
}


def login_reason(request, next_url: str | None) -> str:
    if not next_url:
        return ""
    try:
        match = resolve(next_url.split("?", 1)[0])
    except Resolver404:
        return ""
    reason = LOGIN_REASONS.get(f"{match.namespace}:{match.url_name}")
    return _(reason) if reason else _("このページを見るには、ログインが必要です。")


@public_view
@never_cache
@require_GET
def card_login(request, code):
    """The card sign-in entry point: `login`, or `identify` the first time; `next` (a path
    of this municipality's site, else ignored) is where the resident continues after it."""
    next_url = ceremonies.continuation(request, request.GET.get("next"))
    return render(request, "portal/card_login.html", {"next": next_url or "", "reason": login_reason(request, next_url)})


@public_view
@never_cache
@require_GET
def notices(request, code):
    """お知らせ: a signed-in resident's own notices (unread marked); a visitor is told to sign in."""
    signed_in = sessions.current(request)
    rows = applications.notice_rows(signed_in[0]) if signed_in else None
    announcements = (notice_broadcasts.inbox_rows(signed_in[0], language=get_language() or "ja")
                     if signed_in else None)
    return render(request, "portal/notices.html", {
        "rows": rows, "announcements": announcements, "signed_in": bool(signed_in),
        "any_unread": any(r["unread"] for r in (rows or []) + (announcements or []))})


@never_cache
@require_POST
@sessions.resident_required
def notices_read(request, code):
    """Marks the resident's unread notices as read (each audited by applications)."""
    for row in applications.notice_rows(request.resident):
        if row["unread"]:
            applications.mark_notice_read(request.resident, row["id"])
    notice_broadcasts.mark_inbox_read(request.resident)
    messages.success(request, _("お知らせをすべて既読にしました。"))
    return redirect("portal:notices", code)


@never_cache
@require_GET
@sessions.resident_required
def account(request, code):
    """The resident's account: card credentials, 住民記録 link, recent sign-ins, OIDC consents."""
    person = request.resident
    events = AuditEvent.objects.filter(action="resident.signed_in", actor_type="resident",
                                       actor_id=str(person.public_id)).order_by("-seq")[:10]
    labels = ceremonies.purpose_labels()
    recent = [(e.occurred_at, labels.get(e.data.get("assurance"), "")) for e in events]
    return render(request, "portal/account.html", {
        "person": person, "credentials": identity.card_credentials_of(person),
        "link": identity.resident_link_of(person), "recent_sign_ins": recent,
        "assurance": request.resident_assurance, "consents": consents_of(person),
        "email_address": notice_emails.address_of(person), "devices": notice_push.devices_of(person),
        "categories": notice_preferences.categories_of(person),
        "receiving_account": receiving_accounts.account_of(person),
    })
