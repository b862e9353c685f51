from django.contrib import messages
from django.contrib.auth import logout
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from madoguchi.audit.models import AuditEvent
from madoguchi.audit.services import record
from madoguchi.core.access import public_view

from . import services
from .decorators import staff_member_required
from .forms import CodeForm, MunicipalitySettingsForm, SignInForm
from .models import Membership
from .services import SignInFailed, sign_in


@public_view
@never_cache
@require_http_methods(["GET", "POST"])
def sign_in_view(request, code):
    municipality = request.municipality
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()) \
            or not next_url.startswith(f"/{municipality.code}/staff/"):
        next_url = reverse("staff:dashboard", args=[municipality.code])
    pending = services.pending_user(request, municipality)
    if request.method == "POST" and request.POST.get("step") == "restart":
        services.forget_pending(request)
        return redirect(f"{reverse('staff:login', args=[municipality.code])}?{urlencode({'next': next_url})}")
    if request.method == "GET":
        services.forget_pending(request)
        pending = None
    if pending is not None and request.method == "POST" and request.POST.get("step") == "code":
        return _code_step(request, municipality, pending, next_url)
    form = SignInForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                sign_in(request, municipality, form.cleaned_data["username"], form.cleaned_data["password"],
                        form.cleaned_data["otp_token"])
            except SignInFailed as exc:
                if exc.reason in ("bad_totp", "throttled") and not exc.locked:
                    # The password was right: ask for a new code only, the wrong one cleared.
                    return _code_page(request, CodeForm(), next_url, exc.reason,
                                      form.cleaned_data["username"], status=400)
                form.add_error(None, _("ユーザー名またはパスワードが正しくありません。"))
                status = 400
            else:
                return redirect(next_url)
        else:
            status = 400
    return render(request, "staff/sign_in.html", {"form": form, "next": next_url}, status=status)


CODE_MESSAGES = {
    "bad_totp": gettext_lazy("パスワードは確認できました。確認コードが正しくありません。認証アプリに表示されている新しい確認コードを入力してください。"),
    "throttled": gettext_lazy("確認コードの誤りが続いたため、少しの間受け付けられません。数秒待ってから、認証アプリに表示されている新しい確認コードを入力してください。"),
}


def _code_page(request, form, next_url, reason, username, status=200):
    return render(request, "staff/sign_in_code.html", {
        "form": form, "next": next_url, "message": CODE_MESSAGES.get(reason, ""), "username": username},
        status=status)


def _code_step(request, municipality, pending, next_url):
    user, membership = pending
    form = CodeForm(request.POST)
    if not form.is_valid():
        return _code_page(request, form, next_url, "", user.get_username(), status=400)
    try:
        services.code_step(request, municipality, user, membership, form.cleaned_data["otp_token"])
    except SignInFailed as exc:
        if exc.locked:
            services.forget_pending(request)
        return _code_page(request, CodeForm(), next_url, exc.reason, user.get_username(), status=400)
    return redirect(next_url)


@require_POST
@staff_member_required()
def sign_out_view(request, code):
    record("staff.signed_out", actor=request.user, obj=request.membership)
    logout(request)
    messages.info(request, _("ログアウトしました。"))
    return redirect("staff:login", code)


@never_cache
@staff_member_required()
def dashboard(request, code):
    members = Membership.objects.select_related("user", "department").order_by("role", "user__username")
    recent = AuditEvent.objects.order_by("-seq")[:10]
    return render(request, "staff/dashboard.html", {"members": members, "recent_events": recent})


@never_cache
@require_http_methods(["GET", "POST"])
@staff_member_required()
def municipality_settings(request, code):
    municipality = request.municipality
    can_edit = request.membership.is_administrator
    form = MunicipalitySettingsForm(request.POST or None, instance=municipality)
    if request.method == "POST":
        if not can_edit:
            return render(request, "403.html", {"reason": _("設定を変更できるのは管理者だけです。")}, status=403)
        if form.is_valid():
            with transaction.atomic():
                form.save()
                record("municipality.settings_changed", actor=request.user, obj=municipality,
                       data={"fields": sorted(form.changed_data)})
            messages.success(request, _("設定を保存しました。"))
            return redirect("staff:settings", municipality.code)
        return render(request, "staff/settings.html", {"form": form, "can_edit": can_edit}, status=400)
    return render(request, "staff/settings.html", {"form": form, "can_edit": can_edit})
