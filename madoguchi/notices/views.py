"""The resident's e-mail and devices for notices: register an address (account page), verify
it by link, one-click unsubscribe (RFC 8058); subscribe and remove a device for Web Push.
Thin: the rules are in emails.py and push.py."""

import json

from django.contrib import messages

from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from madoguchi.core.access import public_view
from madoguchi.identity import sessions

from . import emails, preferences, push, vapid


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
                                                            "devices": push.devices_of(request.resident),
                                                            "categories": preferences.categories_of(request.resident),
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


@require_POST
@sessions.resident_required
def push_subscribe(request, code):
    """The page's script posts the browser's PushSubscription.toJSON() (CSRF header)."""
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"field": "subscription", "error": _("subscription: JSON として読めません。")}, status=400)
    label = request.headers.get("User-Agent", "")
    try:
        row = push.subscribe(request.resident, data, label=_device_label(label))
    except push.SubscriptionError as exc:
        return JsonResponse({"field": exc.field, "error": str(exc)}, status=400)
    return JsonResponse({"id": row.pk}, status=201)


@require_POST
@sessions.resident_required
def push_remove(request, code, pk):
    if push.unsubscribe(request.resident, pk):
        messages.info(request, _("端末の登録を解除しました。"))
    return redirect("portal:account", code)


@public_view
@require_GET
def push_key(request, code):
    """The municipality's applicationServerKey for PushManager.subscribe."""
    key = vapid.public_key(code)
    if key is None:
        return JsonResponse({"error": _("この自治体はプッシュ通知を準備していません。")}, status=404)
    return JsonResponse({"applicationServerKey": key})


def _device_label(user_agent: str) -> str:
    for needle, name in (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"), ("Windows", "Windows"),
                         ("Macintosh", "Mac"), ("Linux", "Linux")):
        if needle in user_agent:
            return name
    return ""


@public_view
@require_GET
def service_worker(request, code):
    """Served under /<code>/ so its scope is the municipality's portal."""
    return render(request, "notices/sw.js", {"icon_url": static("notices/icon-192.png")},
                  content_type="text/javascript; charset=utf-8")


@public_view
@require_GET
def manifest(request, code):
    """The web app manifest: the portal installs as an app whose scope is /<code>/."""
    name = request.municipality.name
    body = {
        "name": f"{name} {_('オンライン窓口')}", "short_name": name, "lang": "ja",
        "start_url": f"/{code}/", "scope": f"/{code}/", "display": "standalone",
        "background_color": "#ffffff", "theme_color": "#004191",
        "icons": [{"src": static(f"notices/icon-{s}.png"), "sizes": f"{s}x{s}", "type": "image/png",
                   "purpose": "any"} for s in (192, 512)],
    }
    return JsonResponse(body, content_type="application/manifest+json",
                        json_dumps_params={"ensure_ascii": False})


@require_POST
@sessions.resident_required
def preferences_save(request, code):
    try:
        preferences.set_wanted(request.resident, request.POST.getlist("categories"))
    except preferences.PreferenceError as exc:
        return render(request, "notices/email_error.html", {
            "field": exc.field, "error": str(exc), "email_address": emails.address_of(request.resident),
            "devices": push.devices_of(request.resident), "categories": preferences.categories_of(request.resident)},
            status=400)
    messages.info(request, _("通知の設定を保存しました。"))
    return redirect("portal:account", code)

