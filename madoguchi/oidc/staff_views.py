"""Back office: the municipality's administrators register relying parties."""

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from madoguchi.staff.decorators import staff_member_required
from madoguchi.staff.models import Membership

from . import services
from .models import ALL_SCOPES, BASIS_SCOPES, Client, LegalBasis

ADMIN = Membership.Role.ADMINISTRATOR


class ClientForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("名称"), max_length=200)
    redirect_uris = forms.CharField(label=gettext_lazy("リダイレクトURI（1行に1つ）"), widget=forms.Textarea(attrs={"rows": 3}))
    post_logout_redirect_uris = forms.CharField(label=gettext_lazy("ログアウト後の戻り先URI（1行に1つ）"), required=False,
                                                widget=forms.Textarea(attrs={"rows": 2}))
    scopes = forms.MultipleChoiceField(label=gettext_lazy("利用を認めるスコープ"), widget=forms.CheckboxSelectMultiple,
                                       choices=[(s, s) for s in ALL_SCOPES if s != "openid"], required=False)
    legal_basis = forms.ChoiceField(label=gettext_lazy("法的根拠"), choices=LegalBasis.choices)
    legal_basis_note = forms.CharField(label=gettext_lazy("根拠の詳細（認定番号、契約など）"), max_length=500, required=False)
    auth_method = forms.ChoiceField(label=gettext_lazy("クライアント認証"), choices=Client.AuthMethod.choices)
    jwks = forms.CharField(label=gettext_lazy("公開鍵（JWKS、private_key_jwt の場合）"), required=False,
                           widget=forms.Textarea(attrs={"rows": 4}))
    id_token_alg = forms.ChoiceField(label=gettext_lazy("IDトークンの署名アルゴリズム"), choices=Client.Algorithm.choices)

    def clean_jwks(self):
        raw = self.cleaned_data["jwks"].strip()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise ValidationError(_("JSON として読めません。")) from None


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


@staff_member_required()
def client_list(request, code):
    clients = Client.objects.order_by("-created_at")
    return render(request, "oidc/staff_clients.html", {
        "clients": clients, "can_edit": request.membership.role == ADMIN,
        "basis_scopes": {b.label: " ".join(sorted(BASIS_SCOPES[b])) for b in LegalBasis}})


@staff_member_required(ADMIN)
def client_add(request, code):
    form = ClientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            client, secret = services.register_client(
                name=data["name"], redirect_uris=_lines(data["redirect_uris"]),
                post_logout_redirect_uris=_lines(data["post_logout_redirect_uris"]), scopes=set(data["scopes"]),
                legal_basis=data["legal_basis"], legal_basis_note=data["legal_basis_note"],
                auth_method=data["auth_method"], jwks=data["jwks"], id_token_alg=data["id_token_alg"],
                actor=request.user)
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            return render(request, "oidc/staff_client_created.html", {"client": client, "secret": secret})
    return render(request, "oidc/staff_client_form.html", {"form": form})


@require_POST
@staff_member_required(ADMIN)
def client_deactivate(request, code, pk):
    client = get_object_or_404(Client, pk=pk)
    services.deactivate_client(client, actor=request.user)
    messages.info(request, _("連携サービスの登録を停止しました。"))
    return redirect("oidc:client_list", code)


@require_POST
@staff_member_required(ADMIN)
def client_secret(request, code, pk):
    client = get_object_or_404(Client, pk=pk, active=True)
    try:
        secret = services.rotate_secret(client, actor=request.user)
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return redirect("oidc:client_list", code)
    return render(request, "oidc/staff_client_created.html", {"client": client, "secret": secret})


@require_POST
@staff_member_required(ADMIN)
def client_keys(request, code, pk):
    client = get_object_or_404(Client, pk=pk, active=True)
    try:
        services.replace_jwks(client, json.loads(request.POST.get("jwks", "")), actor=request.user)
    except (ValueError, ValidationError) as exc:
        messages.error(request, "; ".join(getattr(exc, "messages", [_("JSON として読めません。")])))
    else:
        messages.info(request, _("連携サービスの公開鍵を更新しました。"))
    return redirect("oidc:client_list", code)
