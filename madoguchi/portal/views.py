from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from madoguchi.audit.models import AuditEvent
from madoguchi.ceremonies import callers as ceremonies
from madoguchi.core.access import public_view
from madoguchi.identity import services as identity
from madoguchi.identity import sessions
from madoguchi.municipalities.models import Municipality
from madoguchi.notices import emails as notice_emails
from madoguchi.notices import push as notice_push
from madoguchi.notices import preferences as notice_preferences
from madoguchi.oidc.services import consents_of


@public_view
@require_GET
def directory(request):
    """The deployment's front page: which municipalities it serves."""
    municipalities = Municipality.objects.filter(is_active=True).order_by("code")
    return render(request, "portal/directory.html", {"municipalities": municipalities})


@public_view
@require_GET
def top(request, code):
    """The municipality's top page: its procedures (the first eight), sign-in, notices."""
    from madoguchi.procedures.forms import text
    from madoguchi.procedures.models import ProcedureVersion

    # One query, and only the titles out of the (large) definitions: this page is the busiest.
    published = (ProcedureVersion.objects.filter(status=ProcedureVersion.Status.PUBLISHED)
                 .order_by("procedure__slug").values_list("procedure__slug", "definition__title")[:8])
    procedures = [{"slug": slug, "title": text(title)} for slug, title in published]
    return render(request, "portal/top.html", {"procedures": procedures})


@public_view
@require_GET
def card_login(request, code):
    """The card sign-in entry point: `login`, or `identify` the first time."""
    return render(request, "portal/card_login.html")


@public_view
@require_GET
def notices(request, code):
    return render(request, "portal/notices.html")


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
    })
