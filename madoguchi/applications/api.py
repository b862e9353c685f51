"""The applications JSON API (django-ninja): the resident flow of the pages, for a phone app.

Mounted at /<code>/api/applications/ (OpenAPI at …/openapi.json), its own NinjaAPI beside the
ceremony API: its own error shape {"error", "message", "errors"} and its own auth schemes.
Views are thin: every rule is in services/. docs/applications.md is the reference.

Authentication (either):
- `Authorization: Bearer <access token>` issued by this municipality's OpenID Connect
  provider with the scope `applications` (a relying party registered under the municipal
  service legal basis, PKCE as for every client). No CSRF: the token is not ambient.
- the resident's session cookie of the portal; then unsafe methods need the CSRF token
  (header X-CSRFToken, from GET /session), as Django's CSRF protection checks it.
"""

import base64

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse
from django.middleware.csrf import get_token
from django.urls import reverse
from ninja import Header, NinjaAPI, Path, Query, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from madoguchi.ceremonies import callers as ceremonies
from madoguchi.ceremonies.errors import CeremonyError
from madoguchi.core import jsontext
from madoguchi.core.dates import today_in_japan
from madoguchi.core.ratelimit import allow_all, client_address
from madoguchi.procedures import definition as defn
from madoguchi.identity import sessions

from . import notices
from .services import common, lifecycle, preparation, reading, submission
from .services import drafts as draft_services  # `drafts` is the draft-list endpoint below
from .api_schemas import (
    ApplicationDetailOut, ApplicationOut, ApplyIn, CeremonyOut, DataIn, DraftIn, DraftOut, ErrorOut, NoticeOut,
    PrefillOut, PreparedOut, ProcedureOut, ProcedureSummaryOut, SessionOut, SubmitIn, ValidateOut,
)
from .models import Application

ROW_ID = Path(..., ge=1, le=2**31 - 1)
from .statemachine import Role, Status as AppStatus, TransitionRefused, find


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, errors: dict | None = None):
        self.status, self.code, self.message, self.errors = status, code, message, errors or {}
        super().__init__(message)


ACR_ASSURANCE = {"urn:madoguchi:acr:login": "login", "urn:madoguchi:acr:identify": "identify"}


class ResidentBearer(HttpBearer):
    """An access token of this municipality's OIDC provider with the scope `applications`."""

    def authenticate(self, request, token):
        from madoguchi.oidc.services import bearer

        row, error = bearer(request, "applications")
        if error is not None:
            if error.status_code == 403:
                raise ApiError(403, "insufficient_scope", "このアクセストークンでは申請を扱えません（scope: applications）。")
            return None
        if row.person is None:
            raise ApiError(403, "insufficient_scope", "このアクセストークンは住民のものではありません。")
        request.resident, request.api_auth = row.person, "bearer"
        request.resident_assurance = ACR_ASSURANCE.get(row.acr, "login")
        return row.person


class ResidentSession(APIKeyCookie):
    """The portal's resident session; unsafe methods need the CSRF token."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request):
        key = request.COOKIES.get(self.param_name)
        if key and request.method not in ("GET", "HEAD", "OPTIONS", "TRACE") and check_csrf(request):
            raise ApiError(403, "csrf", "CSRF トークンがないか、正しくありません（X-CSRFToken ヘッダー）。")
        return key

    def authenticate(self, request, key):
        signed_in = sessions.current(request) if key else None
        if signed_in is None:
            return None
        request.resident, request.resident_assurance = signed_in
        request.api_auth = "session"
        return signed_in[0]


api = NinjaAPI(title="madoguchi applications", version="1", urls_namespace="applications_api", docs_url=None,
               parser=jsontext.StrictJsonParser(),
               auth=[ResidentBearer(), ResidentSession()],
               description="The resident's online applications (docs/applications.md). Errors: "
                           '{"error": code, "message": Japanese text, "errors": {JSON pointer: [messages]}}.')

E = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 413: ErrorOut, 429: ErrorOut}
PUBLIC_E = {400: ErrorOut, 404: ErrorOut, 413: ErrorOut, 429: ErrorOut}


def _error(request, status: int, code: str, message: str, errors: dict | None = None):
    return api.create_response(request, {"error": code, "message": message, "errors": errors or {}}, status=status)


@api.exception_handler(ApiError)
def _api_error(request, exc: ApiError):
    return _error(request, exc.status, exc.code, exc.message, exc.errors)


@api.exception_handler(common.ApplicationError)
def _application_error(request, exc: common.ApplicationError):
    return _error(request, exc.status, exc.code, str(exc), exc.errors)


@api.exception_handler(TransitionRefused)
def _transition_refused(request, exc: TransitionRefused):
    return _error(request, 409, exc.code, "この申請は今の状態ではその操作ができません。")


@api.exception_handler(CeremonyError)
def _ceremony_error(request, exc: CeremonyError):
    return _error(request, exc.status, exc.code, exc.message_ja)


LONE_SURROGATE_MESSAGE = "使えない文字（対になっていないサロゲート）が含まれています。"

FIELD_MESSAGES = {
    "missing": "必須の項目です。",
    "extra_forbidden": "この項目は受け付けていません。",
    "string_too_long": "長すぎます。",
}


@api.exception_handler(ValidationError)
def _validation_error(request, exc: ValidationError):
    errors: dict[str, list[str]] = {}
    for e in exc.errors:
        loc = [str(p) for p in e.get("loc", [])]
        if loc and loc[0] == "body" and len(loc) > 1 and loc[1] in ("body", "payload"):
            loc = loc[2:]  # the body parameter itself
        elif loc:
            loc = loc[1:]
        pointer = "/" + "/".join(loc)
        errors.setdefault(pointer, []).append(FIELD_MESSAGES.get(e.get("type"), "形式が正しくありません。"))
    return _error(request, 400, "invalid", "送られた内容を確かめてください。", errors)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    response = _error(request, 401, "unauthorized",
                      "ログインしていません。アクセストークン（Bearer）またはログイン中のセッションが必要です。")
    response["WWW-Authenticate"] = 'Bearer scope="applications"'
    return response


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    lone = jsontext.pointers_of(exc)
    if lone is not None:  # pointers into `data` for the data, into the body for the request's own fields
        return _error(request, 400, "invalid", "送られた内容を確かめてください。",
                      {(p[len("/data"):] if p.startswith("/data/") else p): [LONE_SURROGATE_MESSAGE] for p in lone})
    return _error(request, exc.status_code if 400 <= exc.status_code < 500 else 400, "malformed",
                  "送られた内容を読み取れませんでした。")


@api.exception_handler(RequestDataTooBig)
def _too_big(request, exc):
    return _error(request, 413, "too_large", "送られた内容が大きすぎます。")


@api.exception_handler(TooManyFieldsSent)
def _too_many(request, exc):
    return _error(request, 413, "too_large", "送られた項目が多すぎます。")


def _throttle(request, action: str) -> None:
    rate = settings.APPLICATION_API_RATE
    if not allow_all([(f"applications.api.{action}", client_address(request), rate, 60),
                      (f"applications.api.{action}.person", str(request.resident.public_id), rate, 60)]):
        raise ApiError(429, "rate_limited", "短時間に操作が集中しています。しばらく待ってからやり直してください。")


# ---- serialisations -------------------------------------------------------------------

def _attachments(request, application) -> list[dict]:
    code = request.municipality.code
    return [{"id": a.pk, "name": a.name, "sha256": a.sha256, "size": a.size, "type": a.content_type,
             "sanitisation": a.sanitisation,
             "url": reverse("applications_api:attachment", args=[code, application.public_id, a.pk])}
            for a in application.attachments.order_by("id")]


def _application(request, a: Application) -> dict:
    return {"id": str(a.public_id), "procedure": a.procedure.slug, "version": a.version.number,
            "title": a.version.definition["title"], "status": a.status, "receipt_number": a.receipt_number,
            "fee_yen": a.fee_yen, "data": a.data, "document_sha256": a.document_sha256,
            "signed": a.signature is not None, "attachments": _attachments(request, a), "created_at": a.created_at,
            "updated_at": a.updated_at, "submitted_at": a.submitted_at}


def _draft(request, d: Application) -> dict:
    return {**_application(request, d), "needs_signature": d.version.definition["assurance"] == "signature",
            "corrects": str(d.corrects.public_id) if d.corrects_id else None}


def _detail(request, a: Application) -> dict:
    withdraw = find(a.status, AppStatus.WITHDRAWN)
    correction = common.correction_draft(a) if a.status == AppStatus.RETURNED else None
    return {**_application(request, a),
            "history": [{"from_status": e.from_status, "to_status": e.to_status, "role": e.role, "signed": e.signed,
                         "at": e.at, "comment": e.comment if e.to_status == AppStatus.RETURNED else ""}
                        for e in a.events.order_by("at", "id")],
            "return_comment": reading.return_comment(a) if a.status == AppStatus.RETURNED else "",
            "withdrawable": withdraw is not None and Role.RESIDENT in withdraw.roles,
            "correctable": a.status == AppStatus.RETURNED,
            "correction_draft": str(correction.public_id) if correction else None}


def _documents(request, a: Application) -> list[dict]:
    """The signed PDFs issued for the application (受付票, 決定通知書), with their download."""
    code = request.municipality.code
    return [{"id": str(d.public_id), "kind": d.kind, "decision": d.decision, "sha256": d.sha256, "size": d.size,
             "created_at": d.created_at,
             "url": reverse("applications_api:document", args=[code, a.public_id, d.public_id])}
            for d in a.documents.order_by("created_at", "id")]


def _summary(version) -> dict:
    d = version.definition
    return {"slug": d["slug"], "version": version.number, "title": d["title"],
            "description": d.get("description") or {}, "legal_basis": d["legal_basis"], "assurance": d["assurance"],
            "fee": d.get("fee") or {"kind": "none"}, "open": defn.is_open(d, today_in_japan()),
            "mynumber": "mynumber_task" in d}


def _key(header: str | None, field: str | None) -> str:
    if header is not None and field is not None and header != field:
        raise ApiError(400, "invalid_idempotency_key", "Idempotency-Key ヘッダーと idempotency_key が違います。",
                       {"/idempotency_key": ["ヘッダーと同じ値にしてください。"]})
    key = header if header is not None else field
    if key is None:
        raise ApiError(400, "invalid_idempotency_key", "申請の識別子（Idempotency-Key）を指定してください。",
                       {"/idempotency_key": ["必須の項目です。"]})
    return key


# ---- the catalog (public) ---------------------------------------------------------------

@api.get("/procedures", auth=None, response={200: list[ProcedureSummaryOut], **PUBLIC_E}, url_name="catalog",
         summary="Published procedures, with a search")
def catalog(request, q: str = Query("", max_length=100)):
    return [_summary(v) for v in reading.catalog(q)]


@api.get("/procedures/{slug}", auth=None, response={200: ProcedureOut, **PUBLIC_E}, url_name="procedure",
         summary="One procedure's definition", by_alias=True)
def procedure(request, slug: str):
    version = reading.published(slug)
    d = version.definition
    return {**_summary(version), "schema": d["schema"], "form": d["form"], "attachments": d.get("attachments"),
            "eligibility": d.get("eligibility"), "open_period": d.get("open_period"),
            "one_open_per": d.get("one_open_per", "none")}


# ---- the signed-in resident -------------------------------------------------------------

@api.get("/session", response={200: SessionOut, **E}, url_name="session", summary="Who is signed in, how")
def session(request):
    return {"auth": request.api_auth, "assurance": request.resident_assurance,
            "csrf_token": get_token(request) if request.api_auth == "session" else None}


@api.get("/procedures/{slug}/prefill", response={200: PrefillOut, **E}, url_name="prefill",
         summary="Initial values from the verified four facts and the resident record")
def prefill(request, slug: str):
    version = reading.published(slug)
    record = preparation.resident_record(request.resident)
    return {"data": preparation.prefill(version, request.resident, record),
            "support_measure": bool(record and record.support_measure)}


@api.post("/procedures/{slug}/validate", response={200: ValidateOut, **E}, url_name="validate",
          summary="Check data (field-level errors), store nothing")
def validate(request, slug: str, body: DataIn):
    _throttle(request, "prepare")
    prepared = preparation.prepare(reading.published(slug), request.resident, body.data,
                                text_numbers=body.individual_number_in_text)
    return {"valid": True, "fee_yen": prepared.fee_yen, "needs_signature": prepared.needs_signature}


# ---- drafts -----------------------------------------------------------------------------

@api.get("/drafts", response={200: list[DraftOut], **E}, url_name="drafts", summary="My drafts")
def drafts(request):
    rows = (Application.objects.filter(person=request.resident, status=AppStatus.DRAFT, corrects__isnull=True)
            .select_related("version", "procedure").order_by("-updated_at")[:100])
    return [_draft(request, d) for d in rows]


@api.post("/drafts", response={201: DraftOut, **E}, url_name="draft_create", summary="Start a draft")
def draft_create(request, body: DraftIn):
    draft = draft_services.save_draft(reading.published(body.procedure), request.resident, body.data, [], partial=True,
                                text_numbers=body.individual_number_in_text)
    return Status(201, _draft(request, draft))


@api.get("/drafts/{draft_id}", response={200: DraftOut, **E}, url_name="draft", summary="One draft")
def draft_get(request, draft_id: str):
    return _draft(request, reading.own(request.resident, draft_id, draft=True))


@api.put("/drafts/{draft_id}", response={200: DraftOut, **E}, url_name="draft_update",
         summary="Replace a draft's data (its attachments stay)")
def draft_update(request, draft_id: str, body: DataIn):
    draft = reading.own(request.resident, draft_id, draft=True)
    draft = draft_services.save_draft(draft.version, request.resident, body.data, None, draft=draft, corrects=draft.corrects,
                                partial=True, text_numbers=body.individual_number_in_text)
    return _draft(request, draft)


@api.delete("/drafts/{draft_id}", response={204: None, **E}, url_name="draft_delete", summary="Discard a draft")
def draft_delete(request, draft_id: str):
    draft_services.delete_draft(reading.own(request.resident, draft_id, draft=True), request.resident)
    return Status(204, None)


UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary",
                            "description": "PDF, JPEG or PNG (sniffed from the content), within the "
                                           "procedure's size limit"}}}}}}}


@api.post("/drafts/{draft_id}/attachments", response={201: DraftOut, **E}, url_name="attachment_add",
          summary="Attach a file to a draft (multipart, field `file`)", openapi_extra=UPLOAD_BODY)
def attachment_add(request, draft_id: str):
    draft = reading.own(request.resident, draft_id, draft=True)
    limit = settings.APPLICATION_ATTACHMENT_MAX_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit + 64 * 1024:  # refused before the body is read
        raise ApiError(413, "too_large", "ファイルが大きすぎます。",
                       {"/file": [f"ファイルが大きすぎます（{limit:,}バイトまで）。"]})
    if not (request.content_type or "").startswith("multipart/form-data"):
        raise ApiError(400, "invalid", "multipart/form-data の file で送ってください。", {"/file": ["必須の項目です。"]})
    files = request.FILES.getlist("file")
    if len(files) != 1 or set(request.FILES) - {"file"} or set(request.POST):
        raise ApiError(400, "invalid", "ファイルを1件、file として送ってください。", {"/file": ["必須の項目です。"]})
    upload = files[0]
    draft = draft_services.add_attachment(draft, request.resident, common.Upload(upload.name, upload.read(limit + 1)))
    return Status(201, _draft(request, draft))


@api.delete("/drafts/{draft_id}/attachments/{attachment_id}", response={200: DraftOut, **E},
            url_name="attachment_remove", summary="Remove a file from a draft")
def attachment_remove(request, draft_id: str, attachment_id: int = ROW_ID):
    draft = reading.own(request.resident, draft_id, draft=True)
    return _draft(request, draft_services.remove_attachment(draft, request.resident, attachment_id))


@api.post("/drafts/{draft_id}/prepare", response={200: PreparedOut, **E}, url_name="prepare",
          summary="The canonical document to sign (or its digest) and the fee")
def prepare(request, draft_id: str):
    _throttle(request, "prepare")
    draft = reading.own(request.resident, draft_id, draft=True)
    prepared = draft_services.prepare_draft(draft, request.resident)
    return {"document_sha256": draft.document_sha256, "size": len(prepared.document),
            "document": None if draft.document_key_id else base64.urlsafe_b64encode(prepared.document).decode(),
            "fee_yen": prepared.fee_yen, "needs_signature": prepared.needs_signature}


@api.post("/drafts/{draft_id}/sign", response={201: CeremonyOut, **E}, url_name="sign",
          summary="Open the `sign` ceremony over the draft's document (the card client completes it)")
def sign(request, draft_id: str):
    _throttle(request, "prepare")
    draft = reading.own(request.resident, draft_id, draft=True)
    return Status(201, ceremonies.opened_json(request, draft_services.open_signature(draft, request.resident)))


@api.post("/drafts/{draft_id}/submit", response={200: ApplicationDetailOut, 201: ApplicationDetailOut, **E},
          url_name="submit", summary="Submit a draft (signed through its completed ceremony); idempotent")
def submit(request, draft_id: str, body: SubmitIn,
           idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=64)):
    _throttle(request, "submit")
    key = _key(idempotency_key, body.idempotency_key)
    draft = reading.own(request.resident, draft_id)
    if draft.corrects_id is not None:
        raise common.ApplicationError("not_found", "この申請はありません。", status=404)
    application, created = submission.submit_draft_signed(draft, request.resident, idempotency_key=key,
                                                        ceremony_id=body.ceremony_id, poll_token=body.poll_token)
    return Status(201 if created else 200, _detail(request, application))


# ---- applications -----------------------------------------------------------------------

@api.post("/applications", response={200: ApplicationDetailOut, 201: ApplicationDetailOut, **E},
          url_name="apply", summary="Submit in one request (procedures without a signature or attachments)")
def apply(request, body: ApplyIn,
          idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=64)):
    _throttle(request, "submit")
    key = _key(idempotency_key, body.idempotency_key)
    version = reading.published(body.procedure)
    if version.definition["assurance"] == "signature":
        raise common.ApplicationError("signature_required", "この手続きには電子署名が必要です。下書きから署名して提出してください。")
    application, created = submission.submit(version, request.resident, body.data, idempotency_key=key,
                                           text_numbers=body.individual_number_in_text)
    return Status(201 if created else 200, _detail(request, application))


@api.get("/applications", response={200: list[ApplicationOut], **E}, url_name="applications",
         summary="My applications")
def applications(request):
    rows = (Application.objects.filter(person=request.resident, corrects__isnull=True)
            .exclude(status=AppStatus.DRAFT).select_related("version", "procedure").order_by("-created_at")[:100])
    return [_application(request, a) for a in rows]


@api.get("/applications/{application_id}", response={200: ApplicationDetailOut, **E}, url_name="application",
         summary="One application with its status history")
def application(request, application_id: str):
    application = reading.own(request.resident, application_id, draft=False)
    return {**_detail(request, application), "documents": _documents(request, application)}


@api.post("/applications/{application_id}/withdraw", response={200: ApplicationDetailOut, **E},
          url_name="withdraw", summary="Withdraw before review")
def withdraw(request, application_id: str):
    application = reading.own(request.resident, application_id, draft=False)
    return _detail(request, lifecycle.withdraw(application, request.resident))


@api.put("/applications/{application_id}/correction", response={200: DraftOut, **E}, url_name="correction",
         summary="Answer a return for correction: the corrected data, kept as a draft")
def correction(request, application_id: str, body: DataIn):
    application = reading.own(request.resident, application_id, draft=False)
    return _draft(request, lifecycle.save_correction(application, request.resident, body.data,
                                                    text_numbers=body.individual_number_in_text))


@api.post("/applications/{application_id}/correction/sign", response={201: CeremonyOut, **E},
          url_name="correction_sign", summary="Open the `sign` ceremony over the correction")
def correction_sign(request, application_id: str):
    _throttle(request, "prepare")
    application = reading.own(request.resident, application_id, draft=False)
    draft = common.correction_draft(application) if application.status == AppStatus.RETURNED else None
    if draft is None:
        raise common.ApplicationError("no_correction", "補正の内容がまだ保存されていません。", status=409)
    return Status(201, ceremonies.opened_json(request, draft_services.open_signature(draft, request.resident)))


@api.post("/applications/{application_id}/correction/submit", response={200: ApplicationDetailOut, **E},
          url_name="correction_submit", summary="Resubmit the correction (signed again when the procedure needs it)")
def correction_submit(request, application_id: str, body: SubmitIn):
    _throttle(request, "submit")
    application = reading.own(request.resident, application_id, draft=False)
    application = lifecycle.resubmit_correction_signed(application, request.resident, ceremony_id=body.ceremony_id,
                                                      poll_token=body.poll_token)
    return _detail(request, application)


DOWNLOAD = {"responses": {200: {"description": "the file as stored (its sniffed type), as a download",
                                "content": {t: {"schema": {"type": "string", "format": "binary"}}
                                            for t in ("application/pdf", "image/jpeg", "image/png")}}}}


@api.get("/applications/{application_id}/attachments/{attachment_id}", response={**E}, url_name="attachment",
         summary="Download an attachment of my application or draft", openapi_extra=DOWNLOAD)
def attachment(request, application_id: str, attachment_id: int = ROW_ID) -> HttpResponse:
    application = reading.own(request.resident, application_id)
    item = application.attachments.filter(pk=attachment_id).first()
    if item is None:
        raise common.ApplicationError("not_found", "この添付ファイルはありません。", status=404)
    response = FileResponse(default_storage.open(item.file.name), as_attachment=True, filename=item.name,
                            content_type=item.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@api.get("/applications/{application_id}/documents/{document_id}", response={**E}, url_name="document",
         summary="Download a signed document (受付票, 決定通知書) of my application", openapi_extra=DOWNLOAD)
def document(request, application_id: str, document_id: str) -> HttpResponse:
    # The document row is read through the reverse relation and its file straight from
    # storage, as attachments are: applications sits below documents and never imports it.
    application = reading.own(request.resident, application_id)
    item = next((d for d in application.documents.all() if str(d.public_id) == document_id), None)
    if item is None:
        raise common.ApplicationError("not_found", "この文書はありません。", status=404)
    response = FileResponse(default_storage.open(item.file), as_attachment=True, filename=item.filename(),
                            content_type="application/pdf")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


# ---- notices ----------------------------------------------------------------------------

def _notice(n) -> dict:
    return {"id": n.pk, "kind": n.kind, "text": notices.text(n),
            "application": str(n.application.public_id) if n.application else None,
            "receipt_number": n.application.receipt_number if n.application else "", "created_at": n.created_at,
            "read_at": n.read_at}


@api.get("/notices", response={200: list[NoticeOut], **E}, url_name="notices", summary="My notices")
def notice_list(request):
    return [_notice(n) for n in reading.notices_of(request.resident)[:100]]


@api.post("/notices/{notice_id}/read", response={200: NoticeOut, **E}, url_name="notice_read",
          summary="Mark a notice read")
def notice_read(request, notice_id: int = ROW_ID):
    return _notice(reading.mark_notice_read(request.resident, notice_id))
