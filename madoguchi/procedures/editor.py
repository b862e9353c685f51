"""The back-office procedure editor: who may edit what, new procedures, editing drafts,
publishing and retiring. The views (`staff_views.py`) only call these.

Department scoping (decided here, documented in docs/applications.md):

- an administrator of the municipality edits, publishes and retires every procedure;
- a reviewer drafts (creates, copies, edits) the procedures of their own department only,
  and a draft of theirs must keep their department; they never publish nor retire —
  an administrator does, after reading the draft;
- a viewer reads the list, the versions and the previews.

Published versions are immutable (the model refuses): a change is a new draft version,
and publishing it retires the previous published version, which the applications made
on it keep. Every change writes an audit event.
"""

import copy
import json

from django.db import transaction
from django.utils.translation import gettext as _

from madoguchi.audit.services import record
from madoguchi.core import jsontext
from madoguchi.municipalities.tenancy import tenant

from . import services
from .definition import LONE_SURROGATE, MAX_DEFINITION_BYTES, definition_errors, iter_fields
from .models import Procedure, ProcedureVersion


class EditRefused(PermissionError):
    """The staff member may not make this change."""


# ---------------------------------------------------------------------------------------
# Rights


def _department(membership) -> str:
    return membership.department.code if membership.department_id else ""


def can_publish(membership) -> bool:
    return membership.is_administrator


def can_draft(membership, department_code: str | None = None) -> bool:
    """May this member draft a procedure of `department_code` (None: of some department)?"""
    if membership.is_administrator:
        return True
    if membership.role != membership.Role.REVIEWER or not membership.department_id:
        return False
    return department_code is None or department_code == _department(membership)


def can_edit(membership, procedure: Procedure) -> bool:
    return can_draft(membership, procedure.department_code)


# ---------------------------------------------------------------------------------------
# Reading definitions typed by staff


def parse_definition(text: str) -> dict:
    """A definition from the JSON editor; DefinitionInvalid with a line/column otherwise."""
    if len(text.encode("utf-8", errors="replace")) > MAX_DEFINITION_BYTES:
        raise services.DefinitionInvalid([f"/: a definition is at most {MAX_DEFINITION_BYTES} bytes"])
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise services.DefinitionInvalid([f"line {exc.lineno} column {exc.colno}: not JSON: {exc.msg}"]) from None
    except RecursionError:
        raise services.DefinitionInvalid(["/: nested too deeply"]) from None
    if not isinstance(value, dict):
        raise services.DefinitionInvalid(["/: a definition is a JSON object"])
    lone = jsontext.lone_surrogates(value)
    if lone:
        raise services.DefinitionInvalid([f"{p}: {LONE_SURROGATE}" for p in lone])
    return value


def pretty(definition) -> str:
    return json.dumps(definition, ensure_ascii=False, indent=2)


def blank_definition(slug: str, department: str) -> dict:
    """The blank template: the smallest definition that can be published, to be filled in."""
    return {
        "format": 1, "slug": slug,
        "title": {"ja": "新しい手続き", "en": "New procedure"},
        "description": {"ja": "（住民向けの説明を記入）", "en": "(a description for residents)"},
        "department": department,
        "legal_basis": {"ja": "（根拠法令を記入）", "en": "(legal basis)"},
        "retention": "5y", "assurance": "login",
        "eligibility": {"residents_only": True},
        "one_open_per": "none",
        "fee": {"kind": "none"},
        "schema": {"type": "object", "additionalProperties": False,
                   "properties": {"applicant_name": {"type": "string", "minLength": 1, "maxLength": 200}},
                   "required": ["applicant_name"]},
        "form": {"sections": [{"id": "applicant", "title": {"ja": "申請する人", "en": "Applicant"},
                               "fields": [{"name": "applicant_name", "label": {"ja": "氏名", "en": "Name"},
                                           "widget": "text", "prefill": "name"}]}]},
    }


def catalog_definitions() -> dict[str, dict]:
    """The starter catalog by slug (read from the package, checked)."""
    return {d["slug"]: d for _, d in services.read_definitions(services.catalog_dir())}


def own_errors(definition) -> list[str]:
    """The definition's checks, and the editor's: a repeatable group with no field of its
    own would show the resident empty blocks."""
    errors = definition_errors(definition)
    if not errors:
        errors += [f"/form/fields/{f['name']}: a group needs fields" for f in iter_fields(definition)
                   if f.get("widget") == "group" and not f.get("fields")]
    return errors


def publish_errors(municipality, definition) -> list[str]:
    """Why this definition cannot be published here: the definition's own checks, and
    its department must be one of the municipality's."""
    errors = own_errors(definition)
    if not errors:
        from madoguchi.staff.models import Department

        if not Department.unscoped.filter(municipality=municipality, code=definition["department"]).exists():
            errors.append(f"/department: {definition['department']!r} is not a department of this municipality")
    return errors


# ---------------------------------------------------------------------------------------
# Changes (each audited)


def new_procedure(municipality, membership, *, slug: str, source: dict | None, actor=None) -> ProcedureVersion:
    """A new procedure with its first draft, from `source` (a catalog definition) or blank."""
    from madoguchi.staff.models import Department

    known = set(Department.unscoped.filter(municipality=municipality).values_list("code", flat=True))
    department = _department(membership) or min(known, default="shimin")
    definition = copy.deepcopy(source) if source is not None else blank_definition(slug, department)
    definition["slug"] = slug
    if definition.get("department") not in known:
        # A catalog procedure of a department this municipality does not have is drafted
        # for the member's own department (the basic fields change it).
        definition["department"] = department
    if not can_draft(membership, definition.get("department")):
        if can_draft(membership):
            definition["department"] = _department(membership)  # a reviewer drafts for their department
        else:
            raise EditRefused(_("手続きを作成する権限がありません。"))
    with tenant(municipality), transaction.atomic():
        if Procedure.objects.filter(slug=slug).exists():
            raise services.DefinitionInvalid([_("/slug: この識別名の手続きはすでにあります。その手続きの画面から新しい版を作ってください。")])
        return services.save_draft(municipality, definition, actor=actor)


def new_version_from(version: ProcedureVersion, membership, *, actor=None) -> ProcedureVersion:
    """A new draft version of the procedure, starting from `version` (any status)."""
    if not can_edit(membership, version.procedure):
        raise EditRefused(_("この手続きを編集する権限がありません。"))
    return services.save_draft(version.municipality, copy.deepcopy(version.definition), actor=actor)


def update_draft(version: ProcedureVersion, membership, definition: dict, *, actor=None) -> ProcedureVersion:
    """Replaces a draft's definition. The slug is the procedure's identity and stays; a
    reviewer's draft stays in their department. Drafts may be incomplete."""
    if not can_edit(membership, version.procedure):
        raise EditRefused(_("この手続きを編集する権限がありません。"))
    if not isinstance(definition, dict):
        raise services.DefinitionInvalid(["/: a definition is a JSON object"])
    if definition.get("slug") != version.procedure.slug:
        raise services.DefinitionInvalid([f"/slug: a version keeps its procedure's slug {version.procedure.slug!r}"])
    if not can_draft(membership, definition.get("department")):
        raise services.DefinitionInvalid([f"/department: you draft for your department {_department(membership)!r} only"])
    with tenant(version.municipality), transaction.atomic():
        locked = ProcedureVersion.objects.select_for_update().get(pk=version.pk)
        if locked.status != ProcedureVersion.Status.DRAFT:
            raise services.DefinitionInvalid([f"/: version {locked.number} is {locked.status}: make a new version"])
        sha = services.definition_sha256(definition)
        if sha == locked.definition_sha256:
            return locked
        locked.definition = definition
        locked.definition_sha256 = sha
        locked.save(update_fields=["definition", "definition_sha256"])
        record("procedures.draft_updated", actor=actor, obj=locked,
               data={"slug": version.procedure.slug, "version": locked.number, "sha256": sha})
    return locked


def publish(version: ProcedureVersion, membership, *, actor=None) -> ProcedureVersion:
    if not can_publish(membership):
        raise EditRefused(_("公開できるのは管理者だけです。"))
    with tenant(version.municipality), transaction.atomic():
        # Lock the draft so two publishes (or a publish and a save) cannot interleave, and
        # check what is stored, not what the caller holds.
        locked = ProcedureVersion.objects.select_for_update().get(pk=version.pk)
        errors = publish_errors(locked.municipality, locked.definition)
        if errors:
            raise services.DefinitionInvalid(errors, version.procedure.slug)
        return services.publish(locked, actor=actor)


def retire(procedure: Procedure, membership, *, actor=None) -> ProcedureVersion | None:
    """Closes a procedure: its published version is retired (residents no longer see it;
    applications made on it keep it). Publishing a version opens it again."""
    if not can_publish(membership):
        raise EditRefused(_("公開を終了できるのは管理者だけです。"))
    with tenant(procedure.municipality), transaction.atomic():
        Procedure.objects.select_for_update().get(pk=procedure.pk)
        current = procedure.current_version()
        if current is None:
            return None
        current.status = ProcedureVersion.Status.RETIRED
        current.save(update_fields=["status"])
        record("procedures.retired", actor=actor, obj=current,
               data={"slug": procedure.slug, "version": current.number})
    return current


def discard_draft(version: ProcedureVersion, membership, *, actor=None) -> None:
    if not can_edit(membership, version.procedure):
        raise EditRefused(_("この手続きを編集する権限がありません。"))
    with tenant(version.municipality), transaction.atomic():
        locked = ProcedureVersion.objects.select_for_update().get(pk=version.pk)
        if locked.status != ProcedureVersion.Status.DRAFT:
            raise services.DefinitionInvalid([f"/: version {locked.number} is {locked.status}: it is kept"])
        record("procedures.draft_discarded", actor=actor, obj=locked,
               data={"slug": version.procedure.slug, "version": locked.number})
        locked.delete()
