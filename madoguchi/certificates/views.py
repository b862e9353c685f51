"""The resident's certificate pages (signed in with the card) and the public verification
page. Thin: the rules are in services.py."""

import io
import os

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from madoguchi.core import ratelimit
from madoguchi.core.access import public_view
from madoguchi.documents.fonts import FontsMissing
from madoguchi.identity.sessions import resident_required
from madoguchi.pki import pades

from . import services
from .models import Certificate

# Checks per address per minute: the page answers for any number (a benchmark's server sets
# a higher one through MADOGUCHI_CERTIFICATES_VERIFY_LIMIT).
VERIFY_LIMIT = (int(os.environ.get("MADOGUCHI_CERTIFICATES_VERIFY_LIMIT", "60")), 60)
UPLOAD_MAX_BYTES = 10 * 1024 * 1024


class IssueForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("証明書の種類"), widget=forms.RadioSelect,
                             error_messages={"required": gettext_lazy("証明書の種類を選んでください。"),
                                             "invalid_choice": gettext_lazy("証明書の種類を選んでください。")})
    scope = forms.ChoiceField(label=gettext_lazy("載せる人"), widget=forms.RadioSelect, choices=Certificate.Scope.choices,
                              initial=Certificate.Scope.PERSON,
                              error_messages={"required": gettext_lazy("本人のみか世帯全員かを選んでください。"),
                                              "invalid_choice": gettext_lazy("本人のみか世帯全員かを選んでください。")})
    household_head = forms.BooleanField(label=gettext_lazy("世帯主の氏名を載せる"), required=False)
    relationship = forms.BooleanField(label=gettext_lazy("世帯主との続柄を載せる"), required=False)
    domicile = forms.BooleanField(label=gettext_lazy("本籍と筆頭者を載せる（提出先に求められたときだけ）"), required=False)
    purpose = forms.CharField(label=gettext_lazy("使いみち・提出先（任意、証明書に印字されます）"), required=False,
                              max_length=services.PURPOSE_MAX,
                              error_messages={"max_length": gettext_lazy("使いみち・提出先は100文字以内で入力してください。")})

    def __init__(self, *args, types=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(t.kind, f"{t.get_kind_display()}（{t.fee_yen:,}円）") for t in types]


@never_cache
@resident_required
def start(request, code):
    types = services.offered()
    form = IssueForm(request.POST or None, types=types)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                certificate = services.issue(request.resident, kind=data["kind"], scope=data["scope"],
                                             options=data, purpose=data["purpose"])
            except services.CertificateRefused as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            except FontsMissing:
                form.add_error(None, _("いま証明書を作れません。時間をおいてもう一度お試しください。"))
            else:
                return redirect("certificates:issued", code, certificate.issue_number)
        status = 400
    return render(request, "certificates/start.html", {
        "form": form, "types": types, "issued": services.issued_to(request.resident)}, status=status)


@never_cache
@require_GET
@resident_required
def issued(request, code, number):
    certificate = services.own(request.resident, number)
    if certificate is None:
        raise Http404
    return render(request, "certificates/issued.html", {
        "certificate": certificate, "verify_url": services.verification_url(request.municipality, certificate.issue_number)})


@never_cache
@require_GET
@xframe_options_sameorigin
@resident_required
def download(request, code, number):
    """The PDF, as an attachment; `?inline=1` shows it in the kiosk's frame (same origin only)."""
    certificate = services.own(request.resident, number)
    if certificate is None:
        raise Http404  # another resident's certificate is never a hint that it exists
    inline = request.GET.get("inline") == "1"
    response = FileResponse(io.BytesIO(services.read(certificate)), as_attachment=not inline,
                            filename=certificate.filename(), content_type="application/pdf")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    if inline:
        response._csp_replace = {"frame-ancestors": ["'self'"]}
    return response


# -- kiosk mode: a city-hall terminal with a touch screen ------------------------------------
# The same issuance, on pages made for a shared terminal: large targets, no portal menu, the
# language switch kept, the PDF shown and printed on the spot, and the resident signed out
# when they finish or leave the terminal idle (kiosk.js, KIOSK_IDLE_SECONDS).

KIOSK_IDLE_SECONDS = 90


@public_view
@never_cache
@require_GET
def kiosk_start(request, code):
    from django.urls import reverse

    from madoguchi.identity.sessions import login_url

    return render(request, "certificates/kiosk/start.html", {
        "types": services.offered(), "login": login_url(request, reverse("certificates:kiosk_choose", args=[code])),
        "idle": 0})


@never_cache
@resident_required
def kiosk_choose(request, code):
    types = services.offered()
    error = ""
    if request.method == "POST":
        try:
            certificate = services.issue(request.resident, kind=request.POST.get("kind", ""),
                                         scope=request.POST.get("scope", "person"))
        except services.CertificateRefused as exc:
            error = str(exc)
        except FontsMissing:
            error = _("いま証明書を作れません。時間をおいてもう一度お試しください。")
        else:
            return redirect("certificates:kiosk_print", code, certificate.issue_number)
    return render(request, "certificates/kiosk/choose.html", {"types": types, "error": error,
                                                              "idle": KIOSK_IDLE_SECONDS},
                  status=400 if error else 200)


@never_cache
@require_GET
@resident_required
def kiosk_print(request, code, number):
    certificate = services.own(request.resident, number)
    if certificate is None:
        raise Http404
    return render(request, "certificates/kiosk/print.html", {"certificate": certificate,
                                                             "idle": KIOSK_IDLE_SECONDS})


@public_view  # signing out harms nobody: it answers anyone
@never_cache
@require_POST
def kiosk_end(request, code):
    """Signs the resident out of the terminal (the button, or kiosk.js when idle)."""
    from madoguchi.identity import sessions

    sessions.sign_out(request)
    return redirect("certificates:kiosk_start", code)


@public_view
@never_cache
def verify_start(request, code):
    """Where a person types the issue number printed on the paper."""
    number = request.GET.get("number")
    if number is not None:
        normal = services.normalise_issue_number(number)
        if normal is not None:
            return redirect("certificates:verify", code, normal)
        return render(request, "certificates/verify_start.html", {
            "error": _("発行番号は、証明書の右上にある 4文字×4組（例: 7K2M-Q9XW-3MMT-R8PZ）です。"), "number": number[:40]},
            status=400)
    return render(request, "certificates/verify_start.html", {})


@public_view
@never_cache
def verify(request, code, number):
    """Genuine or not, issued when and what — never the content, unless the visitor uploads
    the PDF, which is then compared byte for byte and its signature checked."""
    if not ratelimit.allow("certificates.verify", ratelimit.client_address(request), *VERIFY_LIMIT):
        return render(request, "certificates/verify.html", {"limited": True, "number": number[:40]}, status=429)
    found = services.verdict(number)
    context = {"number": number[:40], "verdict": found, "certificate": found.certificate}
    if not found.found:
        return render(request, "certificates/verify.html", context, status=404)
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            context["upload_error"] = _("確かめるPDFファイルを選んでください。")
        elif upload.size > UPLOAD_MAX_BYTES:
            context["upload_error"] = _("ファイルが大きすぎます（10MBまで）。受け取った証明書のPDFを選んでください。")
        else:
            try:
                context["check"] = services.check_upload(found.certificate, upload.read())
            except pades.PdfInputError:
                context["upload_error"] = _("署名付きのPDFではありません。受け取った証明書のPDFファイルを選んでください。")
        if "upload_error" in context:
            return render(request, "certificates/verify.html", context, status=400)
    return render(request, "certificates/verify.html", context)
