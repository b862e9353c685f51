from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from madoguchi.audit.services import record

from . import sessions


@require_POST
@sessions.resident_required
def sign_out(request, code):
    record("resident.signed_out", actor=("resident", str(request.resident.public_id)))
    sessions.sign_out(request)
    messages.info(request, _("ログアウトしました。"))
    return redirect("portal:top", code)
