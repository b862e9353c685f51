from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from madoguchi.audit.models import AuditEvent
from madoguchi.audit.services import record

from . import sessions
from .models import CardCredential, ResidentLink


@never_cache
@require_GET
@sessions.resident_required
def account(request, code):
    person = request.resident
    credentials = CardCredential.objects.filter(person=person).order_by("-linked_at")
    link = ResidentLink.objects.select_related("record").filter(person=person).first()
    from madoguchi.ceremonies.models import Ceremony

    events = AuditEvent.objects.filter(action="resident.signed_in", actor_type="resident",
                                       actor_id=str(person.public_id)).order_by("-seq")[:10]
    labels = dict(Ceremony.Purpose.choices)
    recent = [(e.occurred_at, labels.get(e.data.get("assurance"), "")) for e in events]
    from madoguchi.oidc.services import consents_of

    return render(request, "identity/account.html", {
        "person": person, "credentials": credentials, "link": link, "recent_sign_ins": recent,
        "assurance": request.resident_assurance, "consents": consents_of(person),
    })


@require_POST
@sessions.resident_required
def sign_out(request, code):
    record("resident.signed_out", actor=("resident", str(request.resident.public_id)))
    sessions.sign_out(request)
    messages.info(request, _("ログアウトしました。"))
    return redirect("portal:top", code)
