"""The back office's work on applications (申請管理): the inbox, assignment, comments and
decisions. Applications are read only through madoguchi.applications.queries (the back
office's read module) and changed only through madoguchi.applications.services, its state
machine and applications.assignment; this module adds who may see and do what.

Who sees what: a staff member sees the applications of their own department (the
procedure's department_code, copied onto the application when it is stored); an
application of another department does not exist for them (404). Reviewers of the
department act (accept, return, decide, complete, assign, comment, reveal); administrators
and viewers of the department read. Administrators also read the audit trail of a staff
member and run the audit chain verification.
"""

import base64
import datetime as dt
import hashlib
import unicodedata
import uuid
from dataclasses import dataclass, field

from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _

from madoguchi.applications import assignment, queries
from madoguchi.applications import services as applications
from madoguchi.applications.queries import LISTED, SORTS
from madoguchi.applications.statemachine import Role, Status, TransitionRefused, allowed_targets
from madoguchi.applications.transitions import ListenerRefused
from madoguchi.audit.services import record
from madoguchi.staff.models import Membership

from .models import MAX_COMMENT_CHARS, CaseComment

PAGE_SIZE = 50
COUNT_CAP = 999  # counts above it read "999+"
SEARCH_COUNT_CAP = 200  # under a free-text search
MAX_BULK = 100
from madoguchi.core.dates import JST as TOKYO  # noqa: E402
# A decision the resident must be told the reason of.
REASON_REQUIRED = frozenset({Status.RETURNED, Status.REJECTED, Status.PAYMENT_REQUIRED})
MAX_QUERY_CHARS = 60


class CaseworkError(Exception):
    """A refusal shown to the staff member (a 400 with this message, or 403)."""

    def __init__(self, message: str, status: int = 400):
        self.status = status
        super().__init__(message)


# -- who may do what -----------------------------------------------------------------------


def can_act(membership: Membership, application=None) -> bool:
    """A reviewer of the owning department (the same rule as applications.services)."""
    return (membership.role == Membership.Role.REVIEWER and membership.department is not None
            and (application is None or membership.department.code == application.department_code))


def department_code(membership: Membership) -> str | None:
    return membership.department.code if membership.department is not None else None


def get_for(membership: Membership, public_id):
    """The application of the staff member's department (applications.queries reads it;
    a draft or another department's application does not exist for them: 404)."""
    application = queries.for_department(department_code(membership), public_id)
    if application is None:
        raise Http404("no such application in this department")
    return application


def reviewers(membership: Membership) -> list[Membership]:
    """The department's reviewers (whom an application may be assigned to)."""
    if membership.department is None:
        return []
    return list(Membership.objects.filter(department=membership.department, role=Membership.Role.REVIEWER)
                .select_related("user").order_by("user__username"))


# -- the inbox -----------------------------------------------------------------------------


@dataclass
class InboxQuery:
    procedure: str = ""  # slug
    status: str = ""
    date_from: dt.date | None = None  # submitted, in Japan, inclusive
    date_to: dt.date | None = None
    assignee: str = ""  # "", "me", "none" or a user id
    q: str = ""
    sort: str = "new"
    cursor: str = ""


@dataclass
class InboxPage:
    rows: list
    counts: dict
    total: int
    next_cursor: str = ""
    titles: dict = field(default_factory=dict)
    capped: set = field(default_factory=set)  # statuses with more than COUNT_CAP applications


def _japan_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=TOKYO)


def _cursor_salt(membership: Membership) -> str:
    return f"madoguchi.casework.inbox:{membership.municipality_id}:{membership.pk}"


def make_cursor(membership: Membership, sort: str, after: tuple[dt.datetime, int]) -> str:
    at, pk = after
    return signing.dumps([sort, at.isoformat(), pk], salt=_cursor_salt(membership), compress=True)


def read_cursor(membership: Membership, sort: str, cursor: str) -> tuple[dt.datetime, int]:
    try:
        found_sort, at, pk = signing.loads(cursor, salt=_cursor_salt(membership))
        if found_sort != sort:
            raise ValueError("cursor of another sort")
        return dt.datetime.fromisoformat(at), int(pk)
    except (signing.BadSignature, ValueError, TypeError):
        raise CaseworkError(_("ページの指定が正しくありません。最初のページから開き直してください。")) from None


def inbox(membership: Membership, query: InboxQuery, user) -> InboxPage:
    """One page of the department's inbox (applications.queries.inbox: keyset pagination on
    submitted_at, id), the counts per status under the same filters, and the procedures'
    titles. A constant number of queries whatever the page size. The cursor is signed for
    this staff member and sort, so a position cannot be forged or handed on."""
    after = read_cursor(membership, query.sort, query.cursor) if query.cursor else None
    assignee = user.pk if query.assignee == "me" else (query.assignee or None)
    found = queries.inbox(
        queries.InboxFilter(department_code=department_code(membership), procedure=query.procedure,
                            status=query.status, date_from=query.date_from, date_to=query.date_to,
                            assignee=assignee, q=query.q, sort=query.sort, after=after),
        page_size=PAGE_SIZE, count_cap=COUNT_CAP, search_count_cap=SEARCH_COUNT_CAP)
    next_cursor = make_cursor(membership, query.sort, found.next_after) if found.next_after else ""
    return InboxPage(rows=found.rows, counts=found.counts, total=sum(found.counts.values()),
                     next_cursor=next_cursor, titles=procedure_titles(membership), capped=found.capped)


def procedure_titles(membership: Membership) -> dict:
    """slug → title (ja/en) of the department's procedures, newest version's: one query."""
    from madoguchi.procedures.models import ProcedureVersion

    code = department_code(membership)
    titles = {}
    for slug, title in (ProcedureVersion.objects.filter(procedure__department_code=code).order_by("number")
                        .values_list("procedure__slug", "definition__title")):
        titles[slug] = title
    return titles


# -- assignment, comments, transitions -----------------------------------------------------


def _require_actor(membership: Membership, application=None) -> None:
    if not can_act(membership, application):
        raise CaseworkError(_("この操作ができるのは担当課の審査担当だけです。"), status=403)


def _reviewer_user(membership: Membership, user_id) -> object:
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        raise CaseworkError(_("担当者を選んでください。")) from None
    target = Membership.objects.filter(user_id=user_id, department=membership.department,
                                       role=Membership.Role.REVIEWER).select_related("user").first()
    if target is None:
        raise CaseworkError(_("担当者には同じ課の審査担当を選んでください。"))
    return target.user


def assign(membership: Membership, user, application, assignee_id):
    """Assigns an application to a reviewer of its department ("none": unassigns it)."""
    _require_actor(membership, application)
    assignee = None if assignee_id == "none" else _reviewer_user(membership, assignee_id)
    return assignment.assign(application, assignee, user)


def add_comment(membership: Membership, user, application, body: str) -> CaseComment:
    _require_actor(membership, application)
    body = unicodedata.normalize("NFC", (body or "").strip())
    if not body:
        raise CaseworkError(_("メモを入力してください。"))
    if len(body) > MAX_COMMENT_CHARS:
        raise CaseworkError(_("メモは%(n)s文字までです。") % {"n": MAX_COMMENT_CHARS})
    with transaction.atomic():
        comment = CaseComment.objects.create(application=application, author=user, body=body)
        # References only: the comment's text stays in its row, never in the audit trail.
        record("casework.commented", actor=user, obj=application,
               data={"receipt": application.receipt_number, "comment": comment.pk,
                     "sha256": hashlib.sha256(body.encode()).hexdigest()[:16]})
    return comment


def targets_for(membership: Membership, application) -> list[str]:
    """The transitions this staff member may make on this application now."""
    if not can_act(membership, application):
        return []
    targets = allowed_targets(application.status, Role.REVIEWER)
    if Status.PAYMENT_REQUIRED in targets and not exemption_of(application):
        targets.remove(Status.PAYMENT_REQUIRED)  # only a claimed fee exemption not accepted goes back to payment
    return targets


def exemption_of(application) -> dict | None:
    """The fee exemption (手数料免除) the resident claims: its reason's label and the fee it
    takes off, for the review page; None without a claim."""
    from madoguchi.procedures import definition as defn
    from madoguchi.procedures import forms as procedure_forms

    definition = application.version.definition
    code = defn.exemption_claimed(definition, application.data)
    if not code:
        return None
    return {"code": code, "label": procedure_forms.text(defn.exemption_label(definition, code)),
            "gross_yen": defn.gross_fee_yen(definition, application.data)}


def decide(membership: Membership, user, application, target: str, comment: str = ""):
    """One transition through the state machine, as a reviewer of the owning department.
    Returning for correction and rejecting need a message to the resident."""
    _require_actor(membership, application)
    if target not in Status.values:
        raise CaseworkError(_("この操作はできません。"))
    comment = unicodedata.normalize("NFC", (comment or "").strip())
    if len(comment) > MAX_COMMENT_CHARS:
        raise CaseworkError(_("理由は%(n)s文字までです。") % {"n": MAX_COMMENT_CHARS})
    if target in REASON_REQUIRED and not comment:
        raise CaseworkError(_("申請者に伝える理由を入力してください。"))
    try:
        return applications.transition(application, target, role=Role.REVIEWER, actor=user, comment=comment)
    except TransitionRefused:
        raise CaseworkError(_("この申請は今の状態（%(status)s）からはその操作ができません。")
                            % {"status": Status(application.status).label}, status=409) from None
    except ListenerRefused as exc:
        raise CaseworkError(str(exc), status=409) from None
    except PermissionDenied:
        raise CaseworkError(_("この操作ができるのは担当課の審査担当だけです。"), status=403) from None


@dataclass
class BulkResult:
    done: list = field(default_factory=list)  # receipt numbers
    refused: list = field(default_factory=list)  # (receipt number, reason)


def _bulk_targets(membership: Membership, ids) -> list:
    if not ids:
        raise CaseworkError(_("申請を選んでください。"))
    if len(ids) > MAX_BULK:
        raise CaseworkError(_("一度に処理できるのは%(n)s件までです。") % {"n": MAX_BULK})
    try:
        uuids = sorted({str(uuid.UUID(str(i))) for i in ids})
    except ValueError:
        raise CaseworkError(_("申請の指定が正しくありません。")) from None
    return queries.many_for_department(department_code(membership), uuids)


def bulk(membership: Membership, user, ids, action: str, value: str = "", comment: str = "") -> BulkResult:
    """Assign or transition many applications; each in its own transaction (one refused
    application does not hold back the others), each audited like a single action."""
    _require_actor(membership)
    items = _bulk_targets(membership, ids)
    result = BulkResult()
    for application in items:
        try:
            if action == "assign":
                assign(membership, user, application, value)
            elif action == "transition":
                decide(membership, user, application, value, comment)
            else:
                raise CaseworkError(_("この操作はできません。"))
        except CaseworkError as exc:
            if action not in ("assign", "transition"):
                raise
            result.refused.append((application.receipt_number, str(exc)))
        else:
            result.done.append(application.receipt_number)
    return result


def reveal(membership: Membership, user, application, pointer: str) -> str:
    """The individual number at `pointer` (applications.services.reveal audits it)."""
    _require_actor(membership, application)
    try:
        return applications.reveal(application, pointer, user)
    except applications.ApplicationError as exc:
        raise CaseworkError(str(exc), status=exc.status) from None
    except PermissionDenied:
        raise CaseworkError(_("この操作ができるのは担当課の審査担当だけです。"), status=403) from None


# -- the review page's panels --------------------------------------------------------------


def mynumber_fields(application) -> list[dict]:
    """The sealed individual numbers' places, with the form's label (masked values only)."""
    from madoguchi.procedures.forms import text
    from madoguchi.procedures import definition as defn

    from madoguchi.procedures.labels import pointer_label

    definition = application.version.definition
    labels = {}
    for field_ in defn.iter_fields(definition):
        labels[field_["name"]] = text(field_.get("label"))
    rows = queries.mynumber_fields(application, labels)
    for row in rows:  # the place in words: 「子ども（1人目）の個人番号」, not /children/0/mynumber
        row["label"] = pointer_label(definition, row["pointer"])
    return rows


def legal_birth(value) -> str:
    """A birth date (ISO or YYYYMMDD, as certificates and records give it) in the era and the
    Western year, in the page's language; the value as given when it is not a date."""
    from django.utils import translation

    from madoguchi.core.dates import format_legal_date, parse_legal_date

    if not value:
        return ""
    try:
        date = value if isinstance(value, dt.date) else parse_legal_date(str(value))
        return format_legal_date(date, translation.get_language() or "ja")
    except ValueError:
        return str(value)


def _certificate(der: bytes) -> dict:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_der_x509_certificate(der)

    def name(n):
        parts = [a.value for a in n.get_attributes_for_oid(NameOID.COMMON_NAME)] or [n.rfc4514_string()]
        return parts[0] if parts else ""

    return {"subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
            "issuer_cn": name(cert.issuer), "serial": f"{cert.serial_number:X}",
            "not_before": cert.not_valid_before_utc, "not_after": cert.not_valid_after_utc,
            "sha256": hashlib.sha256(der).hexdigest()}


def _parse_time(value) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def signature_panel(application, now: dt.datetime | None = None) -> dict | None:
    """The signature as verified when the application was stored (its verification
    record), and separately the signer certificate's status now. A signature certificate
    is revoked whenever the holder's name or address changes — a 転出届 revokes its own
    signer's certificate once processed — so "revoked now" after "valid at verification"
    is expected: the legal validity is the verification time's."""
    from madoguchi.pki.validation import MESSAGES, Verdict

    signature = queries.signature_record(application)
    if signature is None:
        return None
    sign = signature.sign
    chain = []
    for item in sign.get("chain") or []:
        try:
            chain.append(_certificate(base64.b64decode(item)))
        except ValueError:
            chain.append({"subject": _("（読み取れない証明書）")})
    revocation = sign.get("revocation") or {}
    facts = sign.get("facts") or {}
    panel = {
        "verified_at": _parse_time(sign.get("verified_at")), "verdict": sign.get("verdict"),
        "valid": sign.get("verdict") == Verdict.VALID.value, "log": sign.get("log", ""),
        "signing_time_claimed": _parse_time(sign.get("signing_time_claimed")),
        "content_sha256": sign.get("content_sha256", ""), "document_sha256": signature.document_sha256,
        "facts": facts, "birth_label": legal_birth(facts.get("birth")), "sex_label": {"1": _("男"), "2": _("女"), "9": _("適用不能")}.get(facts.get("sex"), "—"),
        "chain": chain, "revocation": revocation,
        "revocation_time": _parse_time(revocation.get("crl_this_update")),
    }
    current = None
    if sign.get("chain"):
        from madoguchi.ceremonies.pki import validator

        try:
            result = validator().validate(base64.b64decode(sign["chain"][0]), "sign", now)
        except Exception as exc:  # noqa: BLE001 — shown as "could not check", never a 500
            current = {"verdict": "error", "message": _("現在の状態を確認できませんでした。"), "log": str(exc)[:200]}
        else:
            current = {"verdict": result.verdict.value, "ok": result.ok, "message": MESSAGES[result.verdict][0],
                       "log": result.log, "checked_at": result.checked_at}
    panel["current"] = current
    if current and panel["valid"] and current["verdict"] == Verdict.REVOKED.value:
        panel["explanation"] = _(
            "受付時の検証で有効だったため、この電子署名は有効です。署名用電子証明書は住所や氏名が変わると自動的に"
            "失効します（転出届の処理後に失効するのは想定どおりです）。")
    elif current and panel["valid"] and current["verdict"] == Verdict.EXPIRED.value:
        panel["explanation"] = _("受付時の検証で有効だったため、この電子署名は有効です。その後に有効期限が切れています。")
    elif current and panel["valid"] and not current.get("ok"):
        panel["explanation"] = _("受付時の検証で有効だったため、この電子署名は有効です。現在の状態は参考情報です。")
    return panel


def _address_key(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text or "").split())


def resident_match(application) -> dict:
    """The applicant's resident record (their link in this municipality) beside the
    signer's four facts, with each difference marked. A record under 支援措置 keeps its
    address hidden; only whether it matches is shown."""
    from madoguchi.identity.services import resident_link_of
    from madoguchi.residents.names import search_key

    person = application.person
    link = resident_link_of(person)
    signature = queries.signature_record(application)
    facts = signature.facts if signature else {}
    signer = {"name": facts.get("name") or person.verified_name,
              "birth": facts.get("birth") or person.verified_birth_date.isoformat(),
              "sex": facts.get("sex") or person.verified_sex,
              "address": facts.get("address") or person.verified_address,
              "source": "certificate" if facts else "identity"}
    if link is None:
        return {"record": None, "signer": signer, "rows": []}
    r = link.record
    sexes = {"1": _("男"), "2": _("女"), "9": _("適用不能")}
    rows = [
        {"label": _("氏名"), "signer": signer["name"], "record": r.name,
         "same": search_key(signer["name"]) in {r.name_key, r.alternative_key} - {""}},
        {"label": _("生年月日"), "signer": legal_birth(signer["birth"]), "record": legal_birth(r.birth_date),
         "same": signer["birth"] == r.birth_date.isoformat()},
        {"label": _("性別"), "signer": sexes.get(signer["sex"], signer["sex"]), "record": r.get_sex_display(),
         "same": signer["sex"] == r.sex},
        {"label": _("住所"), "signer": signer["address"],
         "record": r.address if r.address_disclosable else _("（支援措置のため非表示）"),
         "same": _address_key(signer["address"]) == _address_key(r.address)},
    ]
    return {"record": r, "link": link, "signer": signer, "rows": rows,
            "differences": sum(1 for row in rows if not row["same"])}


def attachment_of(application, attachment_id: int):
    item = queries.attachment_of(application, attachment_id)
    if item is None:
        raise Http404("no such attachment")
    return item


attachments_of = queries.attachments_of
events_of = queries.events_of

PREVIEWABLE = frozenset({"image/png", "image/jpeg"})


def audit_trail(application, action: str = ""):
    """The application's audit events (newest first), optionally one action's."""
    from madoguchi.audit.models import AuditEvent

    qs = AuditEvent.objects.filter(object_type=queries.AUDIT_OBJECT_TYPE, object_id=str(application.pk))
    if action:
        qs = qs.filter(action=action)
    return qs.order_by("-seq")


def staff_trail(user_id: int, action: str = "", date_from=None, date_to=None, limit: int = 200):
    from madoguchi.audit.models import AuditEvent

    qs = AuditEvent.objects.filter(actor_type=AuditEvent.ActorType.STAFF, actor_id=str(user_id))
    if action:
        qs = qs.filter(action=action)
    if date_from:
        qs = qs.filter(occurred_at__gte=_japan_midnight(date_from))
    if date_to:
        qs = qs.filter(occurred_at__lt=_japan_midnight(date_to + dt.timedelta(days=1)))
    return qs.order_by("-seq")[:limit]


def verify_audit(municipality, user):
    """The same verification as `madoguchi audit verify --municipality CODE`, checkpoints
    included; the run itself is an audit event (after the check, so it never verifies its
    own record)."""
    from madoguchi.audit.services import verify_chain

    report = verify_chain(municipality)
    record("audit.verified_from_back_office", actor=user, obj=municipality,
           data={"events": report.events, "ok": report.ok, "broken_at": report.broken_at,
                 "checkpoint_seq": report.checkpoint.seq if report.checkpoint else None,
                 "checkpoint_problems": len(report.checkpoint_problems)})
    return report


__all__ = ["CaseworkError", "InboxQuery", "inbox", "assign", "add_comment", "decide", "bulk", "reveal",
           "signature_panel", "resident_match", "get_for", "LISTED", "SORTS"]
