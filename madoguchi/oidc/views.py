"""The provider's endpoints. Discovery, JWKS, token, userinfo, logout and the signing
transaction API are public (OAuth clients and bearer tokens authenticate themselves);
the authorization endpoint needs the resident, through a card ceremony."""

import base64
import binascii
import json
import re
import time
from urllib.parse import urlencode, urlsplit

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.core.errors import (
    ConsentRequiredError,
    LoginRequiredError,
    RequestNotSupportedError,
    RequestURINotSupportedError,
)
from django.conf import settings
from django.db import transaction
from django.http import HttpResponseRedirect, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from joserfc import jwt
from joserfc.errors import JoseError

from madoguchi.audit.services import record
from madoguchi.ceremonies import callers as ceremonies
from madoguchi.core.access import public_view
from madoguchi.core.ratelimit import allow, client_address
from madoguchi.identity import sessions

from . import claims, keys, services
from .models import FACT_SCOPES, Client, Consent, SignTransaction
from .server import Subject, current_issuer, issuer_for, plain, server

SCOPE_LABELS = {
    "openid": gettext_lazy("識別子（このサービス専用の番号）"),
    "name": gettext_lazy("氏名"),
    "address": gettext_lazy("住所"),
    "birthdate": gettext_lazy("生年月日"),
    "gender": gettext_lazy("性別"),
    "sign": gettext_lazy("電子署名（署名用電子証明書を含む）"),
    "applications": gettext_lazy("申請（手続きの申請・下書き・状況の確認・取下げ・お知らせ）"),
}


class RegisteredRedirect(HttpResponseRedirect):
    """A redirect to a URI the relying party registered (checked before): a native app's
    private-use scheme (RFC 8252 §7.1) is allowed too, besides http and https."""

    def __init__(self, url: str):
        self.allowed_schemes = ["http", "https", urlsplit(url).scheme]
        super().__init__(url)


def _json_error(error: str, description: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": error, "error_description": description}, status=status,
                        headers={"Cache-Control": "no-store"})


def _error_page(request, error: str, description: str, status: int = 400):
    return render(request, "oidc/error.html", {"error": error, "description": description}, status=status)


@public_view
@require_GET
def discovery(request, code):
    base = issuer_for(request)
    return JsonResponse({
        "issuer": base,
        "authorization_endpoint": f"{base}/oidc/authorize",
        "token_endpoint": f"{base}/oidc/token",
        "userinfo_endpoint": f"{base}/oidc/userinfo",
        "jwks_uri": f"{base}/oidc/jwks",
        "end_session_endpoint": f"{base}/oidc/logout",
        "sign_transaction_endpoint": f"{base}/oidc/sign-transactions",
        "scopes_supported": list(settings.OIDC_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp",
                             "name", "address", "birthdate", "gender"],
        "acr_values_supported": list(claims.ACR.values()),
        "claims_parameter_supported": False,
        # `request` and `request_uri` are refused (request_not_supported,
        # request_uri_not_supported), never ignored.
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        # RFC 9207: every authorization response (code or error) names the issuer.
        "authorization_response_iss_parameter_supported": True,
        "ui_locales_supported": ["ja", "en"],
    })


@public_view
@require_GET
def jwks(request, code):
    return JsonResponse(keys.public_jwks(request.municipality), 
                        headers={"Cache-Control": f"public, max-age={keys.JWKS_MAX_AGE}"})


# ---- authorization ---------------------------------------------------------------------

def _with_iss(response):
    """RFC 9207: an authorization response that goes back to the relying party (a code or
    an error) names the issuer, so a relying party of several municipalities can tell
    which one answered (mix-up attacks)."""
    location = response.get("Location") if response.status_code in (302, 303) else None
    if location and current_issuer():
        response["Location"] = add_params_to_uri(location, [("iss", current_issuer())])
    return response


def _authorize_error(request, error: OAuth2Error):
    if getattr(error, "redirect_uri", None):
        return _with_iss(server.handle_error_response(request, error))  # back to the (verified) client
    return _error_page(request, error.error, error.get_error_description() or "", error.status_code)


# Authorization parameters that Authlib (or madoguchi) quotes in an error description, which
# RFC 6749 §4.1.2.1 restricts to printable ASCII without `"` and `\`: checked first, so a
# hostile value gets an answer instead of Authlib's ValueError.
QUOTED_PARAMETERS = ("redirect_uri", "response_type", "scope")


def _use_ui_locales(request) -> None:
    """OpenID Connect Core 3.1.2.1 ui_locales: the first supported language of the list
    for the pages this endpoint renders (consent, errors)."""
    for tag in request.GET.get("ui_locales", "")[:200].split():
        language = tag.split("-")[0].lower()
        if language in ("ja", "en"):
            translation.activate(language)
            request.LANGUAGE_CODE = language
            return


def _unquotable(request):
    data = request.GET
    bad = [name for name in QUOTED_PARAMETERS if invalid_error_characters(data.get(name, ""))]
    if not bad:
        return None
    client = server.query_client(data.get("client_id"))
    uri = data.get("redirect_uri")
    if client is None or "redirect_uri" in bad or not uri or not client.check_redirect_uri(uri):
        return _error_page(request, "invalid_request",
                           _("連携サービスまたは戻り先（redirect_uri）が登録されたものではありません。"))
    error = InvalidRequestError(f"{bad[0]} holds characters outside RFC 6749 (printable ASCII "
                                f"without quotation mark and backslash).", redirect_uri=uri)
    error.state = data.get("state") or None
    return _authorize_error(request, error)


SIGNING = "oidc_signing"  # signing transactions this browser consented to (their ceremony began here)
REAUTH = "oidc_reauth"  # nonce → when a ceremony was started for prompt=login / max_age


def _auth_time(request) -> int:
    return int(request.session.get(sessions.KEY, {}).get("since", 0))


@public_view
@csrf_exempt  # the authorization request may come by a cross-site POST; the consent form is checked below
@never_cache
@require_http_methods(["GET", "POST"])
def authorize(request, code):
    server.prepare(request)
    if not allow("oidc.authorize", client_address(request), settings.OIDC_AUTHORIZE_RATE, 60):
        return _error_page(request, "temporarily_unavailable", _("しばらくしてからもう一度お試しください。"), 429)
    if request.method == "POST" and "decision" not in request.POST:
        # OpenID Connect Core 3.1.2.1: the request form-encoded in a POST body. It continues
        # as the same request by GET: a cross-site POST carries no SameSite=Lax session
        # cookie, and the card ceremony and consent come back to this URL.
        query = urlencode([(k, v) for source in (request.GET, request.POST) for k, values in source.lists()
                           for v in values])
        return HttpResponseRedirect(f"{request.path}?{query}", status=303)
    if request.method == "POST":  # the consent form: a form of this site, CSRF-protected
        refused = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
        if refused is not None:
            return refused
    _use_ui_locales(request)
    unquotable = _unquotable(request)
    if unquotable is not None:
        return unquotable
    signed_in = sessions.current(request)
    person, assurance = signed_in if signed_in else (None, None)
    try:
        grant = server.get_consent_grant(request, end_user=Subject(person, None) if person else None)
        payload = grant.request.payload
        if not payload.state:
            raise InvalidRequestError("The 'state' parameter is required.", redirect_uri=grant.redirect_uri)
        client = grant.client
        if payload.data.get("response_mode", "query") != "query":
            raise InvalidRequestError("response_mode must be query (the only one supported).",
                                      redirect_uri=grant.redirect_uri)
        # Request objects (OpenID Connect Core 6) are not supported: refused, never ignored.
        if "request" in payload.data:
            raise RequestNotSupportedError(redirect_uri=grant.redirect_uri)
        if "request_uri" in payload.data:
            raise RequestURINotSupportedError(redirect_uri=grant.redirect_uri)
        scope = payload.scope or ""
        scopes = set(scope.split())
        prompts = set((payload.data.get("prompt") or "").split())
        tx = services.transaction_for(client, payload.data.get("sign_transaction_id"), scopes, grant.redirect_uri)
        need = "identify" if (scopes & set(FACT_SCOPES)) or claims.ACR["identify"] in (
            payload.data.get("acr_values") or "").split() else "login"
        # prompt=login and max_age ask for a card ceremony during this very request: one
        # started for it (remembered by its nonce) and finished counts, whatever max_age.
        stale = False
        max_age = payload.data.get("max_age")
        if max_age is not None:
            if not max_age.isdigit() or len(max_age) > 9:
                raise InvalidRequestError("max_age must be a number of seconds.", redirect_uri=grant.redirect_uri)
            stale = time.time() - _auth_time(request) > int(max_age)
        if "login" in prompts:
            stale = True
        started = request.session.get(REAUTH, {}).get(payload.data.get("nonce", ""))
        if stale and started is not None and _auth_time(request) >= started:
            stale = False
        if person is None or (need == "identify" and assurance != "identify") or stale:
            if "none" in prompts:
                raise LoginRequiredError(redirect_uri=grant.redirect_uri)
            if stale:
                pending = dict(list(request.session.get(REAUTH, {}).items())[-4:])
                pending[payload.data.get("nonce", "")] = int(time.time())
                request.session[REAUTH] = pending
            return ceremonies.begin(
                request, need, next_url=request.get_full_path(), requester=client.name,
                reason=_("%(rp)s へのログイン") % {"rp": client.name} if need == "login"
                else _("%(rp)s への本人確認") % {"rp": client.name})
        hinted = payload.data.get("id_token_hint")
        if hinted is not None and _hinted_subject(request, hinted, client, grant.redirect_uri) != \
                claims.pairwise_sub(person, client):
            raise LoginRequiredError(description="The signed-in resident is not the one id_token_hint names.",
                                     redirect_uri=grant.redirect_uri)
    except OAuth2Error as error:
        error.state = request.GET.get("state") or None
        return _authorize_error(request, error)

    consent = Consent.objects.filter(person=person, client=client).first()
    signed = None  # the result of the transaction's sign ceremony, once it comes back here
    if request.method == "POST":
        if request.POST.get("decision") != "allow":
            record("oidc.consent_denied", actor=("resident", str(person.public_id)), obj=client,
                   data={"scope": scope})
            return _with_iss(server.create_authorization_response(request, grant_user=None, grant=grant))
        consent = services.remember_consent(person, client, scopes - {"sign"})
        if tx is not None:
            # Only this browser, which consented, comes back to a code for the signature.
            request.session[SIGNING] = [*request.session.get(SIGNING, [])[-4:], str(tx.public_id)]
            return services.begin_signing(request, tx, client)
    else:
        needs_consent = consent is None or not consent.covers(" ".join(scopes - {"sign"})) or "consent" in prompts
        if client.is_public:
            # RFC 8252 §8.6: another app can register the same private-use scheme and use a
            # native app's client_id; nothing proves which app asks, so the resident always
            # approves (and prompt=none is consent_required).
            needs_consent = True
        if tx is not None and str(tx.public_id) in request.session.get(SIGNING, []):
            signed = services.signed_in(request, tx)
        if tx is not None and signed is None:
            needs_consent = True  # a signing request: the consent page, until signed in this browser
        if needs_consent:
            if "none" in prompts:
                error = ConsentRequiredError(redirect_uri=grant.redirect_uri)
                error.state = payload.state
                return _authorize_error(request, error)
            return _consent_page(request, person, client, scopes, tx, grant.redirect_uri)

    if tx is not None:
        outcome = services.adopt_signature(tx, person, signed)
        if outcome is not None:
            error = OAuth2Error(description=outcome, redirect_uri=grant.redirect_uri)
            error.error, error.state = "access_denied", payload.state
            return _authorize_error(request, error)
    request.oidc_context = {"auth_time": _auth_time(request), "acr": claims.ACR[assurance],
                            "amr": claims.AMR[assurance], "sign_transaction": tx}
    with transaction.atomic():
        response = _with_iss(server.create_authorization_response(request, grant_user=Subject(person, client),
                                                                   grant=grant))
        record("oidc.authorized", actor=("resident", str(person.public_id)), obj=client,
               data={"scope": scope, "acr": claims.ACR[assurance]})
    return response


def _hinted_subject(request, hint: str, client, redirect_uri) -> str:
    """The `sub` of an ID token this issuer gave this relying party (OpenID Connect Core
    3.1.2.1 id_token_hint: an expired one is fine, a foreign or forged one is not)."""
    refused = InvalidRequestError("id_token_hint is not an ID token this issuer gave this client.",
                                  redirect_uri=redirect_uri)
    if not plain(hint, 8192):
        raise refused
    try:
        token_ = jwt.decode(hint, keys.key_set(request.municipality), algorithms=["ES256", "RS256"])
    except (JoseError, ValueError, TypeError):
        raise refused from None
    aud = token_.claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    sub = token_.claims.get("sub")
    if token_.claims.get("iss") != current_issuer() or client.client_id not in audiences or not isinstance(sub, str):
        raise refused
    return sub


def _consent_page(request, person, client, scopes, tx, redirect_uri):
    shown = []
    for name in ("openid", *FACT_SCOPES, "sign", "applications"):
        if name not in scopes:
            continue
        value = ""
        withheld = False
        if name == "name":
            value = person.verified_name
        elif name == "birthdate":
            value = person.verified_birth_date
        elif name == "gender":
            value = {"1": _("男"), "2": _("女")}.get(person.verified_sex, _("適用不能"))
        elif name == "address":
            withheld = claims.under_support_measure(person)
            value = "" if withheld else person.verified_address
        shown.append({"scope": name, "label": SCOPE_LABELS[name], "value": value, "withheld": withheld})
    response = render(request, "oidc/consent.html", {"client": client, "items": shown, "tx": tx,
                                                     "action": request.get_full_path()})
    # The form posts here and is redirected to the relying party: CSP form-action covers
    # redirects, so the registered redirect URI's origin is allowed on this page only.
    target = urlsplit(redirect_uri)
    if target.scheme in ("http", "https"):
        response._csp_update = {"form-action": [f"{target.scheme}://{target.netloc}"]}
    else:  # a native app's private-use scheme (RFC 8252 §7.1): a scheme source
        response._csp_update = {"form-action": [f"{target.scheme}:"]}
    return response


# ---- token, userinfo ----------------------------------------------------------------------

@public_view
@csrf_exempt
@require_POST
def token(request, code):
    server.prepare(request)
    if not allow("oidc.token", client_address(request), settings.OIDC_TOKEN_RATE, 60):
        return _json_error("slow_down", "Too many token requests from this address.", 429)
    try:
        return server.create_token_response(request)
    except OAuth2Error as error:  # raised before Authlib's own handling (plain http, not loopback)
        return _json_error(error.error, error.get_error_description() or "", error.status_code)


@public_view
@csrf_exempt
@require_http_methods(["GET", "POST"])
def userinfo(request, code):
    token_row, error = services.bearer(request, "openid")
    if error:
        return error
    if token_row.person is None:
        return _json_error("insufficient_scope", "This token does not stand for a resident.", 403)
    return JsonResponse(claims.userinfo(token_row.person, token_row.client, token_row.scope),
                        headers={"Cache-Control": "no-store"})


# ---- RP-initiated logout --------------------------------------------------------------------

@public_view
@never_cache
@require_http_methods(["GET", "POST"])
def logout(request, code):
    data = request.POST if request.method == "POST" else request.GET
    hint = data.get("id_token_hint", "")
    target = data.get("post_logout_redirect_uri", "")
    state = data.get("state", "")
    client = None
    hinted = False
    if hint:
        try:
            token_ = jwt.decode(hint, keys.key_set(request.municipality), algorithms=["ES256", "RS256"])
        except (JoseError, ValueError, TypeError):
            return _error_page(request, "invalid_request", _("id_token_hint が正しくありません。"))
        if token_.claims.get("iss") != issuer_for(request):
            return _error_page(request, "invalid_request", _("id_token_hint の発行者が違います。"))
        aud = token_.claims.get("aud")
        client_id = aud[0] if isinstance(aud, list) and aud else aud
        client = Client.objects.filter(client_id=client_id).first() if plain(client_id, 64) else None
        hinted = client is not None
    elif plain(data.get("client_id"), 64):
        client = Client.objects.filter(client_id=data["client_id"]).first()
    if target and (client is None or not client.matches_redirect(target, client.post_logout_redirect_uris)):
        return _error_page(request, "invalid_request", _("ログアウト後の戻り先が登録されていません。"))
    if request.method == "GET" and not hinted:
        return render(request, "oidc/logout_confirm.html", {"client": client, "data": {
            k: v for k, v in data.items() if k in ("post_logout_redirect_uri", "state", "client_id")}})
    signed_in = sessions.current(request)
    if signed_in:
        record("oidc.logout", actor=("resident", str(signed_in[0].public_id)),
               obj=client if client else None, data={"client": client.client_id if client else ""})
        sessions.sign_out(request)
    if target:
        from authlib.common.urls import add_params_to_uri

        return RegisteredRedirect(add_params_to_uri(target, [("state", state)]) if state else target)
    return render(request, "oidc/logged_out.html", {"client": client})


# ---- consents on the account page ---------------------------------------------------------

@require_POST
@sessions.resident_required
def revoke_consent(request, code, consent_id):
    services.revoke_consent(request.resident, consent_id)
    from django.contrib import messages

    messages.info(request, _("連携の同意を取り消しました。"))
    return redirect("portal:account", code)


# ---- signing transactions -----------------------------------------------------------------

@public_view
@csrf_exempt
@require_POST
def sign_transactions(request, code):
    token_row, error = services.bearer(request, "sign")
    if error:
        return error
    if token_row.person is not None:
        return _json_error("invalid_token", "Register documents with a client-credentials token.", 403)
    if len(request.body) > services.MAX_DOCUMENT_BYTES * 2:
        return _json_error("invalid_request", "The body is too large.", 413)
    document, digest = None, None
    try:
        body = json.loads(request.body)
        title = body["title"]
        if not isinstance(title, str) or not 1 <= len(title) <= 200:
            raise ValueError("title")
        if ("document" in body) == ("document_sha256" in body):
            raise ValueError("one of document and document_sha256")
        if "document" in body:
            document = base64.urlsafe_b64decode(body["document"] + "=" * (-len(body["document"]) % 4))
        else:
            digest = body["document_sha256"]
            if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise ValueError("document_sha256")
    except (ValueError, KeyError, TypeError, binascii.Error):
        return _json_error("invalid_request",
                           'Send JSON {"document": base64url bytes, or "document_sha256": 64 hex digits, '
                           '"title": 1-200 characters}.')
    if document is not None and (not document or len(document) > services.MAX_DOCUMENT_BYTES):
        return _json_error("invalid_request", f"The document must be 1 to {services.MAX_DOCUMENT_BYTES} bytes.")
    tx = services.create_transaction(token_row.client, document, title, document_sha256=digest)
    return JsonResponse({"id": str(tx.public_id), "document_sha256": tx.document_sha256,
                         "expires_at": tx.expires_at.isoformat()}, status=201)


@public_view
@csrf_exempt
@require_GET
def sign_transaction_result(request, code, transaction_id):
    token_row, error = services.bearer(request, "sign")
    if error:
        return error
    result = services.transaction_result(token_row, str(transaction_id))
    if result is None:
        return _json_error("not_found", "No signed transaction for this token.", 404)
    return JsonResponse(result, headers={"Cache-Control": "no-store"})
