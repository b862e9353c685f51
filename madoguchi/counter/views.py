"""Back office: the 書かない窓口 counter. Thin: services.py does the work."""

import base64
import functools

from django import forms
from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from madoguchi.applications import services as applications
from madoguchi.procedures import forms as procedure_forms
from madoguchi.staff.decorators import staff_member_required
from madoguchi.staff.models import Membership

from . import services
from .models import Visit

ROLES = (Membership.Role.ADMINISTRATOR, Membership.Role.REVIEWER)


class ReadForm(forms.Form):
    code_b = forms.CharField(label=gettext_lazy("照合番号B（14桁）"), max_length=20, required=False,
                             help_text=gettext_lazy("生年月日（和暦6桁）＋有効期限の年（西暦4桁）＋セキュリティコード（4桁）。下の三つの欄で入力してもかまいません。"),
                             widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}))
    birth = forms.DateField(label=gettext_lazy("生年月日"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    expiry_year = forms.IntegerField(label=gettext_lazy("有効期限の年（西暦）"), required=False, min_value=2000,
                                     max_value=2100)
    security_code = forms.CharField(label=gettext_lazy("セキュリティコード（4桁）"), max_length=4, required=False,
                                    widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}))
    record = forms.CharField(widget=forms.HiddenInput, required=False)
    cv_certificate = forms.CharField(widget=forms.HiddenInput, required=False)
    text_record = forms.CharField(widget=forms.HiddenInput, required=False)
    text_integrity = forms.CharField(widget=forms.HiddenInput, required=False)
    text_cv_certificate = forms.CharField(widget=forms.HiddenInput, required=False)


class PinReadForm(forms.Form):
    """The PIN path: only what the agent read. The PIN itself is typed into a field with no
    name on the page (counter.js sends it to the agent only) and never reaches the server."""

    method = forms.CharField(widget=forms.HiddenInput, initial="pin")
    text_record = forms.CharField(widget=forms.HiddenInput, required=False)
    text_integrity = forms.CharField(widget=forms.HiddenInput, required=False)
    text_cv_certificate = forms.CharField(widget=forms.HiddenInput, required=False)


def _home(request, form, status=200, message="", pin_form=None):
    response = render(request, "counter/home.html", {
        "form": form, "pin_form": pin_form or PinReadForm(), "message": message, "agent_url": settings.COUNTER_AGENT_URL,
        "waiting": services.desk_state(request.user)["state"] == "pin",
        "visits": Visit.objects.filter(served_by=request.user, status=Visit.Status.OPEN).order_by("-created_at")[:20],
    }, status=status)
    response._csp_update = {"connect-src": [settings.COUNTER_AGENT_URL]}  # the local card agent
    return response


@never_cache
@staff_member_required(*ROLES)
def home(request, code):
    if request.method != "POST":
        return _home(request, ReadForm())
    if request.POST.get("method") == "pin":
        return _read_with_pin(request)
    form = ReadForm(request.POST)
    if not form.is_valid():
        return _home(request, form, 400)
    d = form.cleaned_data
    try:
        code_b = services.code_from(d["code_b"], d["birth"], d["expiry_year"], d["security_code"])
        reading = services.verify_read(d["record"], d["cv_certificate"], d["text_record"], code_b,
                                       d["text_integrity"], d["text_cv_certificate"])
        visit = services.open_visit(request.user, reading)
        services.show_on_desk(request.user, visit)
    except services.CounterError as exc:
        if exc.field:
            form.add_error(exc.field, str(exc))
        return _home(request, form, 400 if exc.field else 409, "" if exc.field else str(exc))
    # The photo is shown in this response only (never stored): the staff compare it with the resident.
    photo = base64.b64encode(reading.photo_png).decode() if reading.photo_png else ""
    return _visit_page(request, visit, photo=photo, status=201)


def _pin_reading(request):
    """The verified reading of what the agent read with the PIN (posted by the staff page or
    the desk's screen); CounterError otherwise."""
    pin_form = PinReadForm(request.POST)
    pin_form.is_valid()
    d = pin_form.cleaned_data
    return services.verify_text_read(d.get("text_record", ""), d.get("text_integrity", ""),
                                     d.get("text_cv_certificate", ""))


def _read_with_pin(request):
    """The PIN path: the text AP's facts the agent read with the resident's PIN; no photo."""
    try:
        visit = services.open_visit(request.user, _pin_reading(request))
        services.show_on_desk(request.user, visit)
    except services.CounterError as exc:
        return _home(request, ReadForm(), 409, str(exc), pin_form=PinReadForm())
    return _visit_page(request, visit, status=201)


# -- the desk's resident-facing screen ------------------------------------------------------

@never_cache
@staff_member_required(*ROLES)
def desk(request, code):
    """The screen turned towards the resident (a window of the staff member's browser on the
    second display, opened once): standby, the PIN pad when the staff member asks for the PIN,
    and the forms of the desk's visit (it goes to the visit's screen by itself)."""
    response = render(request, "counter/desk.html", {"agent_url": settings.COUNTER_AGENT_URL,
                                                     "state": services.desk_state(request.user)})
    response._csp_update = {"connect-src": [settings.COUNTER_AGENT_URL]}  # the local card agent
    return response


@never_cache
@staff_member_required(*ROLES)
def desk_state(request, code):
    """What the desk's screen and the waiting staff page poll."""
    state = services.desk_state(request.user)
    if state["state"] == "visit":
        state["screen"] = reverse("counter:screen", args=[code, state["visit"]])
        state["page"] = reverse("counter:visit", args=[code, state["visit"]])
    return JsonResponse(state)


@never_cache
@require_POST
@staff_member_required(*ROLES)
def desk_read(request, code):
    """The desk's screen sends what the agent read with the PIN typed there (never the PIN):
    verified as on the staff page; the visit opens and both pages follow it."""
    try:
        visit = services.open_visit_at_desk(request.user, _pin_reading(request))
    except services.CounterError as exc:
        return JsonResponse({"error": str(exc), "code": exc.code}, status=409)
    return JsonResponse({"screen": reverse("counter:screen", args=[code, visit.public_id])}, status=201)


@never_cache
@require_POST
@staff_member_required(*ROLES)
def pin_request(request, code):
    services.request_pin(request.user)
    return redirect("counter:home", code)


@never_cache
@require_POST
@staff_member_required(*ROLES)
def pin_cancel(request, code):
    services.cancel_pin(request.user)
    return redirect("counter:home", code)


def _visit_or_404(request, public_id):
    try:
        return services.visit_of(public_id)
    except Visit.DoesNotExist:
        raise Http404 from None


def _gone(request, exc):
    return render(request, "counter/gone.html", {"message": str(exc)}, status=410)


def with_visit(on_gone=_gone):
    """The view gets the URL's visit (404 when there is none); a closed or expired visit is
    answered by `on_gone` (the 410 page unless the caller is a script)."""
    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, code, visit, **kwargs):
            try:
                current = _visit_or_404(request, visit)
            except services.CounterError as exc:
                return on_gone(request, exc)
            return view(request, code, current, **kwargs)
        return wrapper
    return decorate


def _visit_page(request, visit, *, photo="", error="", status=200):
    items = list(visit.procedures.order_by("pk"))
    members = services.household(visit)
    chosen = {i.slug for i in items}
    rows = []
    for item in items:
        version = services.version_of(item)
        rows.append({"item": item, "title": version.definition["title"]["ja"],
                     "rows": procedure_forms.display(version.definition, item.data, members)})
    return render(request, "counter/visit.html", {
        "visit": visit, "photo": photo, "error": error, "members": members, "items": rows,
        "paper_forms": sum(1 for item in items if item.signature is None),
        "procedures": [{"slug": v.procedure.slug, "title": v.definition["title"]["ja"], "checked": v.procedure.slug in chosen}
                       for v in services.published_procedures()],
    }, status=status)


@never_cache
@staff_member_required(*ROLES)
@with_visit()
def visit(request, code, current):
    if request.method == "POST":
        try:
            services.choose(current, request.user, request.POST.getlist("procedures"))
        except services.CounterError as exc:
            return _visit_page(request, current, error=str(exc), status=400)
        return redirect("counter:visit", code, current.public_id)
    return _visit_page(request, current)


def _item(current, slug):
    item = current.procedures.filter(slug=slug).first()
    if item is None:
        raise Http404
    return item


@never_cache
@staff_member_required(*ROLES)
@with_visit()
def edit(request, code, current, slug):
    item = _item(current, slug)
    version = services.version_of(item)
    definition = version.definition
    errors, message, values = {}, "", item.data
    if request.method == "POST":
        values = procedure_forms.read(definition, request.POST)
        regrouped = procedure_forms.group_action(definition, request.POST, values)
        if regrouped is not None:
            values = regrouped
        else:
            try:
                services.save_procedure(current, item, values)
            except applications.ApplicationError as exc:
                errors, message = exc.errors, str(exc)
            else:
                return redirect("counter:visit", code, current.public_id)
    return render(request, "counter/edit.html", {
        "visit": current, "item": item, "title": definition["title"]["ja"], "message": message,
        "sections": procedure_forms.sections(definition, values, errors, services.household(current)),
    }, status=400 if errors or message else 200)


@never_cache
@staff_member_required(*ROLES)
@with_visit()
def screen(request, code, current):
    """The customer-facing second screen: the filled forms, read-only, large; each checked
    form can be signed with the card (screen.js, through the local agent); it follows the
    staff page by polling `screen/state/`."""
    members = services.household(current)
    items = []
    for item in current.procedures.order_by("pk"):
        version = services.version_of(item)
        items.append({"item": item, "title": version.definition["title"]["ja"], "signed": item.signature is not None,
                      "rows": procedure_forms.display(version.definition, item.data, members)})
    response = render(request, "counter/screen.html", {
        "visit": current, "items": items, "agent_url": settings.COUNTER_AGENT_URL,
        "state": services.screen_state(current), "error": request.GET.get("error") == "1"})
    response._csp_update = {"connect-src": [settings.COUNTER_AGENT_URL]}  # the local card agent
    return response


@never_cache
@staff_member_required(*ROLES)
def screen_state(request, code, visit):
    """What the second screen polls: a digest of what it shows ("closed" once the visit is over)."""
    try:
        current = _visit_or_404(request, visit)
    except (services.CounterError, Http404):
        return JsonResponse({"state": "closed"})
    return JsonResponse({"state": services.screen_state(current)})


@never_cache
@require_POST
@staff_member_required(*ROLES)
@with_visit(on_gone=lambda request, exc: JsonResponse({"error": str(exc)}, status=410))
def sign(request, code, current, slug):
    """Opens the `sign` ceremony over one checked form; answers the card client URL the
    second screen hands to the local agent."""
    item = _item(current, slug)
    try:
        ceremony_id = services.start_signing(current, item)
    except services.CounterError as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    from madoguchi.ceremonies.callers import urls_for

    client_url, _state = urls_for(request, code, ceremony_id)
    return JsonResponse({"url": client_url})


@never_cache
@require_POST
@staff_member_required(*ROLES)
@with_visit()
def signed(request, code, current, slug):
    """After the agent ran the ceremony: the CMS is taken and kept for filing."""
    item = _item(current, slug)
    try:
        services.finish_signing(current, item, request.user)
    except services.CounterError:
        return redirect(reverse("counter:screen", args=[code, current.public_id]) + "?error=1")
    return redirect("counter:screen", code, current.public_id)


@never_cache
@staff_member_required(*ROLES)
@with_visit()
def pdf(request, code, current, slug):
    item = _item(current, slug)
    response = HttpResponse(services.pdf(current, item), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{slug}.pdf"'
    return response


@never_cache
@staff_member_required(*ROLES)
@with_visit()
def forms_pdf(request, code, current):
    """Every form the resident signs by hand, in one PDF."""
    try:
        printed = services.forms_pdf(current)
    except services.CounterError as exc:
        return _visit_page(request, current, error=str(exc), status=409)
    response = HttpResponse(printed, content_type="application/pdf")
    response["Content-Disposition"] = 'inline; filename="forms.pdf"'
    return response


@never_cache
@require_POST
@staff_member_required(*ROLES)
@with_visit()
def file(request, code, current):
    try:
        filed = services.file(current, request.user)
    except (services.CounterError, applications.ApplicationError) as exc:
        return _visit_page(request, current, error=_("申請できませんでした（何も受け付けていません）: ") + str(exc), status=409)
    return render(request, "counter/filed.html", {"applications": filed})


@never_cache
@require_POST
@staff_member_required(*ROLES)
@with_visit()
def close(request, code, current):
    services.close(current, request.user)
    return redirect("counter:home", code)
