"""The resident's library card page, the staff pages (libraries, the counter link) and the
library system's API. Thin: services do it."""

from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from madoguchi.ceremonies import callers as ceremonies
from madoguchi.citizencard.kiosk import render_kiosk
from madoguchi.core.access import public_view
from madoguchi.identity.sessions import resident_required
from madoguchi.staff.decorators import staff_member_required
from madoguchi.staff.models import Membership

from . import services


def _identify(request):
    return ceremonies.begin(request, "identify", next_url=reverse("library:portal", args=[request.municipality.code]),
                            reason=_("図書館カードの登録（利用者番号をカードに結び付けます）"))


@never_cache
@require_http_methods(["GET", "POST"])
@resident_required
def portal(request, code):
    """The resident's patron numbers per library: link (after an identify ceremony), unlink."""
    status, errors, values = 200, {}, {}
    identified = request.resident_assurance == "identify"
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "identify" or (action == "link" and not identified):
            return _identify(request)
        try:
            if action == "link":
                values = {"library": request.POST.get("library", ""),
                          "patron_number": request.POST.get("patron_number", "")}
                services.link(request.resident, values["library"], values["patron_number"])
                messages.success(request, _("利用者番号をカードに登録しました。図書館の自動貸出機でカードをかざしてください（暗証番号は不要です）。"))
            elif action == "unlink":
                if not services.unlink(request.resident, request.POST.get("library", "")):
                    raise services.LibraryError(_("この図書館の利用者番号は登録されていません。"), "library")
                messages.success(request, _("図書館カードの登録を解除しました。"))
            else:
                raise services.LibraryError(_("操作を選んでください。"), "action")
        except services.LibraryError as exc:
            status, errors = 400, {exc.field or "library": exc.message}
        else:
            return redirect("library:portal", code)
    offered = services.offered()
    links = services.links_of(request.resident) if offered else {}
    rows = [(lib, links.get(lib.pk)) for lib in services.libraries()] if offered else []
    return render(request, "library/portal.html", {
        "offered": offered, "rows": rows, "identified": identified, "errors": errors, "values": values,
        "alert": errors.get("library") or errors.get("action"),
        "unlinked": [lib for lib, link in rows if link is None]}, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
@staff_member_required()
def staff(request, code):
    """Libraries (administrators add them and get the credential once) and the counter link
    (any staff member, the resident present with their card)."""
    status, errors, values, credential = 200, {}, {}, None
    is_admin = request.membership.is_administrator
    if request.method == "POST":
        action = request.POST.get("action", "")
        values = {k: request.POST.get(k, "") for k in ("code", "name", "library", "certificate", "patron_number")}
        try:
            if action == "create" and is_admin:
                library, credential = services.create_library(request.user, code=values["code"], name=values["name"])
                messages.success(request, _("図書館を追加しました。"))
                values = {}
            elif action == "counter":
                services.link_at_counter(request.user, values["library"], values["certificate"],
                                         values["patron_number"])
                messages.success(request, _("利用者番号をカードに登録しました。"))
                return redirect("library:staff", code)
            else:
                raise services.LibraryError(_("この操作はできません。"), "action")
        except services.LibraryError as exc:
            status, errors = 400, {exc.field or "action": exc.message}
    return render(request, "library/staff.html", {
        "libraries": services.all_libraries(), "active": services.libraries(), "is_admin": is_admin,
        "errors": errors, "values": values, "credential": credential, "offered": services.offered()},
        status=status)


@never_cache
@staff_member_required(Membership.Role.ADMINISTRATOR)
def staff_library(request, code, pk):
    library = services.library_for_staff(pk)
    if library is None:
        raise Http404
    return render(request, "library/staff_library.html",
                  {"library": library, "links": services.links_for_staff(library)})


@never_cache
@require_POST
@staff_member_required(Membership.Role.ADMINISTRATOR)
def rotate(request, code, pk):
    try:
        library, credential = services.rotate_credential(request.user, pk)
    except services.LibraryError:
        raise Http404 from None
    return render(request, "library/staff_library.html",
                  {"library": library, "links": services.links_for_staff(library), "credential": credential})


@public_view  # the self-checkout's kiosk browser, without a session; the page itself holds no personal data
@never_cache
@require_safe
def self_checkout(request, code, library):
    """The library's self-checkout page: the card read without a PIN by the local agent
    (`madoguchi terminal run --library CODE`), which answers the patron number."""
    found = services.self_checkout_library(library)
    if found is None:
        raise Http404
    return render_kiosk(request, "library/self_checkout.html", {"library": found})


# -- the library system's API: no session; the library's credential ---------------------------

def _refused(exc: services.Refused) -> JsonResponse:
    return JsonResponse(exc.as_json(), status=exc.status, json_dumps_params={"ensure_ascii": False})


@public_view  # authenticated by the library's credential (services.authenticate), not a session
@csrf_exempt
@never_cache
@require_POST
def api_patron(request, code, library):
    """POST {"certificate": base64 DER} or {"card": 16 hex} with `Authorization: Bearer
    <credential>` → {"library", "patron_number", "patron"}; 400/401/403/404 with a message."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    try:
        scheme, _sep, credential = request.headers.get("Authorization", "").partition(" ")
        found = services.authenticate(library, credential.strip() if scheme.lower() == "bearer" else "")
        if length < 0 or length > services.MAX_CERTIFICATE * 2:
            raise services.Refused(400, "too_large", _("送信データが大きすぎます（16KBまで）。"))
        answer = services.patron(found, **services.parse_request(request.body))
    except services.Refused as exc:
        return _refused(exc)
    return JsonResponse(answer)
