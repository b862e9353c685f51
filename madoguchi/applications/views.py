"""The resident pages: the catalog, the form, review and signature, receipt, my applications."""

import uuid

from django.conf import settings
from django.http import FileResponse

from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from madoguchi.ceremonies import callers as ceremonies
from madoguchi.core.access import public_view
from madoguchi.core.dates import format_yen, today_in_japan
from madoguchi.identity.sessions import resident_required
from madoguchi.procedures import definition as defn
from madoguchi.procedures import forms
from madoguchi.procedures.models import Procedure

from . import notices
from .services import common, drafts, lifecycle, preparation, signing, submission
from .models import Application, Notice
from .statemachine import Role, Status, TransitionRefused, find


def _published(slug: str):
    procedure = Procedure.objects.filter(slug=slug).first()
    version = procedure.current_version() if procedure else None
    if version is None:
        raise Http404
    return procedure, version


def _summary(version) -> dict:
    d = version.definition
    return {"slug": d["slug"], "title": forms.text(d["title"]), "description": forms.text(d.get("description")),
            "legal_basis": forms.text(d["legal_basis"]), "assurance": d["assurance"],
            "fee": d.get("fee", {"kind": "none"}), "fee_items": [
                {"label": forms.text(i.get("label")), "yen": i["yen"]} for i in d.get("fee", {}).get("items", [])],
            "open": defn.is_open(d, today_in_japan()), "mynumber": "mynumber_task" in d}


@public_view
def catalog(request, code):
    query = request.GET.get("q", "").strip()[:100]
    items = []
    for procedure in Procedure.objects.order_by("slug"):
        version = procedure.current_version()
        if version is None:
            continue
        d = version.definition
        haystack = " ".join([d["title"]["ja"], d["title"]["en"], d.get("description", {}).get("ja", ""),
                             *d.get("keywords", [])]).lower()
        if query and query.lower() not in haystack:
            continue
        items.append(_summary(version))
    return render(request, "applications/catalog.html", {"items": items, "query": query})


@public_view
def procedure_detail(request, code, slug):
    procedure, version = _published(slug)
    return render(request, "applications/procedure.html", {"p": _summary(version)})


def _members(record):
    if record is None or not record.household_id:
        return []
    from madoguchi.residents.models import ResidentRecord

    return [(r.resident_number, r.name) for r in ResidentRecord.objects.filter(
        household_id=record.household_id, status="resident").order_by("resident_number")]


@never_cache
@resident_required
def apply(request, code, slug):
    procedure, version = _published(slug)
    person = request.resident
    record = preparation.resident_record(person)
    definition = version.definition
    draft = None
    if request.GET.get("draft"):
        draft = _own(request, request.GET["draft"], status=Status.DRAFT)
    problems = defn.eligibility_problems(definition, birth_date=person.verified_birth_date, record=record,
                                         today=today_in_japan())
    if not defn.is_open(definition, today_in_japan()):
        problems = [_("この手続きは受付期間外です。")] + problems
    errors, message, in_text = {}, "", []
    regrouped = None
    if request.method == "POST" and not problems:
        data = forms.read(definition, request.POST)
        regrouped = forms.group_action(definition, request.POST, data)  # 「追加」/「削除」 without JavaScript
    if regrouped is not None:
        values = _without_numbers(definition, regrouped)
    elif request.method == "POST" and not problems:
        limit = settings.APPLICATION_ATTACHMENT_MAX_BYTES
        files = request.FILES.getlist("attachments")
        uploads = [common.Upload(f.name, f.read(limit + 1)) for f in files] if files or draft is None else None
        choice = _text_numbers_choice(request)
        if choice is None:
            in_text = preparation.numbers_in_text(definition, defn.prune_hidden(definition, data))
        try:
            # An individual number in free text is masked in the draft at once (it is never
            # stored as typed unless the resident says it is not one); the form asks first.
            draft = drafts.save_draft(version, person, data, uploads, draft=draft,
                                        text_numbers=choice or ("mask" if in_text else None))
        except common.ApplicationError as exc:
            errors, message, in_text = exc.errors, str(exc), []
            values = _without_numbers(definition, data)
        else:
            if not in_text:
                return redirect("applications:review", code, draft.public_id)
            values = _without_numbers(definition, data)
            errors = {p: [_("マイナンバー（個人番号）と思われる12桁の番号があります。マイナンバーはこの欄に書かないでください。")]
                      for p in in_text}
    elif draft is not None:
        values = _without_numbers(definition, drafts.draft_data(draft))
    else:
        values = preparation.prefill(version, person, record)
    rules = definition.get("attachments") or {}
    context = {"p": _summary(version), "sections": forms.sections(definition, values, errors, _members(record)),
               "attachments": {"label": forms.text(rules.get("label")), "max_count": rules.get("max_count", 0),
                               "min_count": rules.get("min_count", 0), "types": ",".join(rules.get("types", [])),
                               "max_mb": round(min(rules.get("max_bytes", 0), settings.APPLICATION_ATTACHMENT_MAX_BYTES)
                                               / 1048576, 1),
                               "errors": [m for p, ms in errors.items() if p.startswith("/attachments") for m in ms],
                               "current": list(draft.attachments.order_by("id")) if draft is not None else []},
               "errors": errors, "message": message, "problems": problems,
               "support_measure": bool(record and record.support_measure),
               "text_numbers": _labels(definition, in_text), "draft": draft}
    return render(request, "applications/form.html", context, status=400 if errors and not in_text else 200)


def _text_numbers_choice(request):
    choice = request.POST.get("individual_number_in_text")
    return choice if choice in preparation.TEXT_NUMBER_CHOICES else None


def _labels(definition: dict, pointers) -> list[str]:
    """The labels of the fields the pointers are in (their top-level field)."""
    fields = {f["name"]: forms.text(f["label"]) for f in defn.iter_fields(definition)}
    names = []
    for pointer in pointers:
        name = pointer.split("/")[1]
        if fields.get(name, name) not in names:
            names.append(fields.get(name, name))
    return names


def _names(request, definition: dict):
    """The household's names, to show the members a form chose (only when it chooses them)."""
    if not definition.get("household_selection"):
        return ()
    return _members(preparation.resident_record(request.resident))


def _without_numbers(definition: dict, values: dict) -> dict:
    """Individual numbers are never shown again, not even to the resident who typed them:
    they type them again when correcting the form."""
    for pointer in defn.mynumber_pointers(definition["schema"], values):
        defn.set_pointer(values, pointer, "")
    return values


def _own(request, public_id, status=None):
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        raise Http404 from None
    application = Application.objects.filter(public_id=public_id, person=request.resident).first()
    if application is None or (status is not None and application.status != status):
        raise Http404
    return application


@never_cache
@resident_required
def review(request, code, public_id):
    draft = _own(request, public_id)
    if draft.status != Status.DRAFT:
        return redirect("applications:detail", code, draft.public_id)
    definition = draft.version.definition
    error = ""
    if request.method == "POST":
        if definition["assurance"] != "signature":
            try:
                application, _created = submission.submit_draft(draft, request.resident)
            except common.ApplicationError as exc:
                error = str(exc)
            else:
                return redirect("applications:detail", code, application.public_id)
        else:
            here = reverse("applications:signed", args=[code, draft.public_id])
            return ceremonies.begin(request, "sign", next_url=here, reason=forms.text(definition["title"]),
                                    note=_fee_note(draft.fee_yen), require_card=bool(definition.get("require_card")),
                                    **signing.signature_content(draft))
    return render(request, "applications/review.html", {
        "p": _summary(draft.version), "draft": draft, "rows": forms.display(definition, draft.data, _names(request, definition)),
        "fee_lines": [{**line, "label": forms.text(line["label"]) if line["label"] else ""}
                      for line in defn.charged_lines(definition, draft.data)],
        "error": error,
        "signs": definition["assurance"] == "signature"}, status=409 if error else 200)


@never_cache
@resident_required
def signed(request, code, public_id):
    """Where the browser continues after the `sign` ceremony: submit with its CMS."""
    draft = _own(request, public_id)
    if draft.status != Status.DRAFT:
        return redirect("applications:detail", code, draft.public_id)
    try:
        signed = _signed(request, reverse("applications:signed", args=[code, draft.public_id]), draft)
        if signed is None:
            return redirect("applications:review", code, draft.public_id)
        application, _created = submission.submit_draft(draft, request.resident, signed=signed)
    except common.ApplicationError as exc:
        return render(request, "applications/review.html", {
            "p": _summary(draft.version), "draft": draft, "rows": forms.display(draft.version.definition, draft.data),
            "error": str(exc), "signs": True}, status=exc.status)
    return redirect("applications:detail", code, application.public_id)


@never_cache
@resident_required
def mine(request, code):
    applications = (Application.objects.filter(person=request.resident, corrects__isnull=True)
                    .select_related("version").order_by("-created_at")[:100])
    rows = [{"a": a, "title": forms.text(a.version.definition["title"])} for a in applications]
    return render(request, "applications/mine.html", {"rows": rows})


@never_cache
@resident_required
def detail(request, code, public_id):
    application = _own(request, public_id)
    definition = application.version.definition
    return render(request, "applications/detail.html", {
        "a": application, "p": _summary(application.version),
        "rows": forms.display(definition, application.data, _names(request, definition)),
        "events": application.events.order_by("at", "id"),
        "withdrawable": find(application.status, Status.WITHDRAWN) is not None
        and Role.RESIDENT in find(application.status, Status.WITHDRAWN).roles,
        "returned": application.status == Status.RETURNED,
        "return_comment": (application.events.filter(to_status=Status.RETURNED).order_by("-at", "-id")
                           .values_list("comment", flat=True).first())})


@never_cache
@require_POST
@resident_required
def withdraw(request, code, public_id):
    application = _own(request, public_id)
    try:
        lifecycle.withdraw(application, request.resident)
    except TransitionRefused:
        pass
    return redirect("applications:detail", code, application.public_id)


@never_cache
@resident_required
def my_notices(request, code):
    items = [{"n": n, "text": notices.text(n)} for n in
             Notice.objects.filter(person=request.resident).select_related("application").order_by("-created_at")[:100]]
    return render(request, "applications/notices.html", {"items": items})


@never_cache
@resident_required
def attachment(request, code, public_id, attachment_id):
    """The resident's own attachment, as stored: its sniffed type, always as a download."""
    from django.core.files.storage import default_storage

    application = _own(request, public_id)
    item = application.attachments.filter(pk=attachment_id).first()
    if item is None:
        raise Http404
    response = FileResponse(default_storage.open(item.file.name), as_attachment=True, filename=item.name,
                            content_type=item.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _fee_note(fee_yen) -> str:
    """The fee, as the card step names it beside the purpose: （手数料 600円）."""
    return _("（手数料 %(fee)s）") % {"fee": format_yen(fee_yen, translation.get_language() or "ja")} if fee_yen else ""


def _sign(request, code, application, draft, continue_at):
    """Opens the `sign` ceremony over the draft's document (its digest only when it holds
    individual numbers, which never leave the sealed draft)."""
    return ceremonies.begin(request, "sign", next_url=continue_at, note=_fee_note(draft.fee_yen),
                            reason=forms.text(application.version.definition["title"]),
                            require_card=bool(application.version.definition.get("require_card")),
                            **signing.signature_content(draft))


def _signed(request, here, draft):
    """The draft's document and the CMS of the `sign` ceremony this browser opened to
    continue `here`, taken once (None when it has not completed)."""
    result = ceremonies.take_in_session(request, here)
    return signing.signed_by(draft, result) if result is not None else None


@never_cache
@resident_required
def correct(request, code, public_id):
    """Answering a return for correction: the form again, signed again when the procedure needs it."""
    application = _own(request, public_id, status=Status.RETURNED)
    definition = application.version.definition
    record = preparation.resident_record(request.resident)
    errors, message, in_text = {}, "", []
    regrouped = forms.group_action(definition, request.POST, forms.read(definition, request.POST)) \
        if request.method == "POST" else None  # 「追加」/「削除」 without JavaScript
    if regrouped is not None:
        values = _without_numbers(definition, regrouped)
    elif request.method == "POST":
        data = forms.read(definition, request.POST)
        limit = settings.APPLICATION_ATTACHMENT_MAX_BYTES
        files = request.FILES.getlist("attachments")
        uploads = [common.Upload(f.name, f.read(limit + 1)) for f in files] if files else None
        choice = _text_numbers_choice(request)
        try:
            if definition["assurance"] == "signature":
                draft = lifecycle.save_correction(application, request.resident, data, uploads, text_numbers=choice)
                return _sign(request, code, application, draft,
                                       reverse("applications:corrected", args=[code, application.public_id]))
            if uploads is None:
                uploads = common.draft_uploads(application)
            lifecycle.resubmit(application, request.resident, data, uploads=uploads, text_numbers=choice)
            return redirect("applications:detail", code, application.public_id)
        except common.ApplicationError as exc:
            errors, message = exc.errors, str(exc)
            if exc.code == "individual_number_in_text":  # nothing stored: the form asks
                in_text = list(exc.errors)
            values = _without_numbers(definition, data)
    else:
        values = _without_numbers(definition, drafts.draft_data(application))
    rules = definition.get("attachments") or {}
    context = {"p": _summary(application.version), "correcting": application,
               "sections": forms.sections(definition, values, errors, _members(record)),
               "errors": errors, "message": message, "problems": [], "support_measure": False,
               "text_numbers": _labels(definition, in_text),
               "attachments": {"label": forms.text(rules.get("label")), "max_count": rules.get("max_count", 0),
                               "min_count": 0, "types": ",".join(rules.get("types", [])),
                               "max_mb": round(min(rules.get("max_bytes", 0), settings.APPLICATION_ATTACHMENT_MAX_BYTES)
                                               / 1048576, 1),
                               "errors": [m for p, ms in errors.items() if p.startswith("/attachments") for m in ms],
                               "current": list(application.attachments.order_by("id"))}}
    return render(request, "applications/form.html", context, status=400 if errors and not in_text else 200)


@never_cache
@resident_required
def corrected(request, code, public_id):
    """Where the browser continues after signing a correction."""
    application = _own(request, public_id)
    if application.status != Status.RETURNED:
        return redirect("applications:detail", code, application.public_id)
    draft = common.correction_draft(application)
    if draft is None:
        return redirect("applications:correct", code, application.public_id)
    here = reverse("applications:corrected", args=[code, application.public_id])
    try:
        signed = _signed(request, here, draft)
        if signed is None:
            return redirect("applications:correct", code, application.public_id)
        lifecycle.resubmit_correction(application, request.resident, signed=signed)
    except common.ApplicationError as exc:
        return render(request, "applications/review.html", {
            "p": _summary(draft.version), "draft": draft, "rows": forms.display(draft.version.definition, draft.data),
            "error": str(exc), "signs": True}, status=exc.status)
    return redirect("applications:detail", code, application.public_id)
