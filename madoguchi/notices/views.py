"""The resident's e-mail for notices: register (account page), verify by link, one-click
unsubscribe (RFC 8058). Thin: the rules are in emails.py."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from madoguchi.core.access import public_view
from madoguchi.identity import sessions

from . import emails


@require_POST
@sessions.resident_required
def email_register(request, code):
    if request.POST.get("action") == "remove":
        if emails.remove(request.resident):
            messages.info(request, _("メールアドレスを削除しました。"))
        return redirect("portal:account", code)
    try:
        emails.register(request.resident, request.POST.get("email", ""))
    except emails.AddressError as exc:
        return render(request, "notices/email_error.html", {"field": exc.field, "error": str(exc),
                                                            "email_address": emails.address_of(request.resident),
                                                            "value": request.POST.get("email", "")[:254]}, status=400)
    messages.info(request, _("確認のメールを送りました。メールのリンクを開くと登録が完了します。"))
    return redirect("portal:account", code)


@public_view
@require_http_methods(["GET", "POST"])
def email_verify(request, code, token):
    """GET shows a button, POST verifies: a mail scanner fetching the link verifies nothing."""
    if request.method == "GET":
        return render(request, "notices/email_verify.html", {"token": token})
    row = emails.verify(token)
    if row is None:
        return render(request, "notices/email_verify.html", {"token": token, "invalid": True}, status=400)
    return render(request, "notices/email_verify.html", {"verified": True})


@public_view
@csrf_exempt  # RFC 8058: the mail client POSTs without a session; the signed token is the right
@require_http_methods(["GET", "POST"])
def email_unsubscribe(request, code, token):
    if request.method == "GET":
        return render(request, "notices/email_unsubscribe.html", {"token": token})
    row = emails.unsubscribe(token)
    if row is None:
        return HttpResponse(_("このリンクは無効です。"), status=400, content_type="text/plain; charset=utf-8")
    if request.POST.get("List-Unsubscribe") == "One-Click":
        return HttpResponse(_("配信を停止しました。"), content_type="text/plain; charset=utf-8")
    return render(request, "notices/email_unsubscribe.html", {"done": True})
