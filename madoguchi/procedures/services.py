"""Drafting, publishing and installing procedure definitions."""

import hashlib
import json
from importlib import resources
from pathlib import Path

import rfc8785
from django.db import transaction
from django.utils import timezone

from madoguchi.audit.services import record
from madoguchi.municipalities.tenancy import tenant

from .definition import definition_errors
from .models import Procedure, ProcedureVersion

CATALOG_PACKAGE = "madoguchi.procedures.catalog"


class DefinitionInvalid(ValueError):
    """A definition that cannot be published; `errors` says why, one line each."""

    def __init__(self, errors: list[str], source: str = ""):
        self.errors = errors
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{errors[0]}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""))


def definition_sha256(definition: dict) -> str:
    return hashlib.sha256(rfc8785.dumps(definition)).hexdigest()


def save_draft(municipality, definition: dict, *, actor=None) -> ProcedureVersion:
    """A new draft version (a new procedure for a new slug). Drafts may be incomplete, but
    must at least be an object with a slug."""
    if not isinstance(definition, dict) or not isinstance(definition.get("slug"), str):
        raise DefinitionInvalid(["/slug: a definition is an object with a slug"])
    with tenant(municipality), transaction.atomic():
        procedure = Procedure.objects.filter(slug=definition["slug"]).first()
        if procedure is None:
            procedure = Procedure.objects.create(slug=definition["slug"],
                                                 department_code=str(definition.get("department", ""))[:32])
        last = procedure.versions.order_by("-number").values_list("number", flat=True).first() or 0
        version = ProcedureVersion.objects.create(procedure=procedure, number=last + 1, definition=definition,
                                                  definition_sha256=definition_sha256(definition))
        record("procedures.draft_saved", actor=actor, obj=version, data={"slug": procedure.slug, "version": version.number})
    return version


def publish(version: ProcedureVersion, *, actor=None) -> ProcedureVersion:
    """Publishes a draft after checking it; the previous published version is retired
    (applications made on it keep it)."""
    errors = definition_errors(version.definition)
    if errors:
        raise DefinitionInvalid(errors, version.definition.get("slug", "") if isinstance(version.definition, dict) else "")
    if version.status != ProcedureVersion.Status.DRAFT:
        raise DefinitionInvalid([f"/: version {version.number} is {version.status}, not a draft"])
    with tenant(version.municipality), transaction.atomic():
        procedure = Procedure.objects.select_for_update().get(pk=version.procedure_id)
        for previous in ProcedureVersion.objects.filter(procedure=procedure, status=ProcedureVersion.Status.PUBLISHED):
            previous.status = ProcedureVersion.Status.RETIRED
            previous.save(update_fields=["status"])
        version.status = ProcedureVersion.Status.PUBLISHED
        version.published_at = timezone.now()
        version.save(update_fields=["status", "published_at"])
        if procedure.department_code != version.definition["department"]:
            procedure.department_code = version.definition["department"]
            procedure.save(update_fields=["department_code"])
        record("procedures.published", actor=actor, obj=version, data={"slug": procedure.slug, "version": version.number})
    return version


def install(municipality, definition: dict, *, actor=None, source: str = "") -> tuple[ProcedureVersion, bool]:
    """Publishes `definition` unless the current published version is the same.
    Returns (version, changed). All checks happen before anything is written."""
    errors = definition_errors(definition)
    if errors:
        raise DefinitionInvalid(errors, source)
    with tenant(municipality), transaction.atomic():
        procedure = Procedure.objects.filter(slug=definition["slug"]).first()
        current = procedure.current_version() if procedure else None
        if current is not None and current.definition_sha256 == definition_sha256(definition):
            return current, False
        version = save_draft(municipality, definition, actor=actor)
        return publish(version, actor=actor), True


def read_definition_file(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionInvalid([f"cannot read: {exc}"], str(path)) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DefinitionInvalid([f"line {exc.lineno}: not JSON: {exc.msg}"], str(path)) from None


def read_definitions(path: Path) -> list[tuple[str, dict]]:
    """(source, definition) pairs from a file or every *.json of a directory; each is
    checked, and slugs must not repeat, so a bad one stops the whole load before anything is stored."""
    if path.is_dir():
        files = sorted(path.glob("*.json"))
        if not files:
            raise DefinitionInvalid(["no *.json definitions here"], str(path))
    elif path.exists():
        files = [path]
    else:
        raise DefinitionInvalid(["no such file or directory"], str(path))
    found, slugs = [], {}
    for file in files:
        definition = read_definition_file(file)
        errors = definition_errors(definition)
        if errors:
            raise DefinitionInvalid(errors, str(file))
        if definition["slug"] in slugs:
            raise DefinitionInvalid([f"slug {definition['slug']!r} is also in {slugs[definition['slug']]}"], str(file))
        slugs[definition["slug"]] = str(file)
        found.append((str(file), definition))
    return found


def load(municipality, path: Path, *, actor=None) -> list[tuple[ProcedureVersion, bool]]:
    """Installs every definition at `path`, all or nothing."""
    definitions = read_definitions(path)
    with transaction.atomic():
        return [install(municipality, d, actor=actor, source=s) for s, d in definitions]


def catalog_dir() -> Path:
    return Path(str(resources.files(CATALOG_PACKAGE)))


def install_catalog(municipality, *, actor=None) -> list[tuple[ProcedureVersion, bool]]:
    """The starter catalog (ten real procedures), idempotent."""
    return load(municipality, catalog_dir(), actor=actor)
