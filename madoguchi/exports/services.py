"""Exports of applications to core systems (基幹連携: 一括取込).

Decisions (docs/exports.md):
- The file's format is an export format registered by name (formats/: CSV UTF-8 with a BOM,
  CSV cp932, JSON Lines); the export stores the name and the worker picks the writer by it.
- Columns are the procedure definitions' `export` mappings (applications.services.export_row),
  after 受付番号, 状態, 受付日時 and 版; versions of a procedure add their columns in order.
- **A character the chosen encoding cannot hold fails the whole export.** The report lists
  every one (受付番号, column, the code points — never the value) and no file is written:
  a core system fed a partial file would silently miss applications, and a replaced
  character would change a name. The operator exports in UTF-8 or has the core system's
  外字 handled first.
- **An export belongs to the department that owns the procedure**, as its applications do in
  casework: only administrators and reviewers of that department request, list and download
  it; for anyone else the procedure's applications do not exist (404, as casework answers).
- Individual numbers are only in the separate `mynumber` export: a reviewer of the owning
  department, each number opened through applications.services.reveal (one audit event per
  number, the authorisation checked again when the worker runs **and at each download**,
  which is itself audited like a reveal).
- A running export has a heartbeat (`heartbeat_at`, written while rows are written); one
  whose heartbeat is older than EXPORT_STALE_SECONDS was left by a killed worker and is
  failed by the sweep every worker runs (abandoned()).
- Every step is an audit event: requested, started, finished / failed, downloaded, expired.
"""

import datetime as dt
import hashlib
import io
import tempfile
import time
from types import SimpleNamespace

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.applications import mynumber, queries
from madoguchi.applications import services as applications
from madoguchi.applications.statemachine import Status
from madoguchi.audit.services import record
from madoguchi.municipalities.tenancy import tenant
from madoguchi.procedures.models import ProcedureVersion
from madoguchi.staff.models import Membership

from .formats import FORMATS
from .models import Export

from madoguchi.core.dates import JST as TOKYO  # noqa: E402
PROGRESS_EVERY = 1000
MAX_PROBLEMS = 1000  # listed in the report; the count is always complete
CHUNK = 2000
BASE_COLUMNS = ["受付番号", "状態", "受付日時", "版"]
MYNUMBER_COLUMNS = ["受付番号", "項目", "個人番号"]
STATUS_CHOICES = [s for s in Status.values if s != Status.DRAFT]
MAX_RANGE_DAYS = 3660


class ExportError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        self.code, self.status = code, status
        super().__init__(message)


def owns(membership, procedure) -> bool:
    """The member belongs to the department that owns the procedure (casework's rule)."""
    return (membership is not None and membership.department is not None
            and membership.department.code == procedure.department_code)


def may_export(membership, procedure, kind: str) -> bool:
    """Administrators and reviewers of the procedure's department; individual numbers only
    for a reviewer of that department (the right to reveal them)."""
    if not owns(membership, procedure):
        return False
    if kind == Export.Kind.MYNUMBER:
        return membership.role == Membership.Role.REVIEWER
    return membership.role in (Membership.Role.ADMINISTRATOR, Membership.Role.REVIEWER)


def may_download(membership, export: Export) -> bool:
    """The same right as requesting it, checked again at each download: a member of the
    owning department (the export's) who may request this kind of export now."""
    return (membership is not None and export.department_id is not None
            and membership.department_id == export.department_id
            and may_export(membership, export.procedure, export.kind))


def request_export(membership, user, procedure, *, kind: str, fmt: str, status: str = "",
                   date_from: dt.date | None = None, date_to: dt.date | None = None) -> Export:
    if kind not in Export.Kind.values or fmt not in FORMATS:
        raise ExportError("invalid", _("出力の種類または形式が正しくありません。"))
    if status and status not in STATUS_CHOICES:
        raise ExportError("invalid", _("状態の指定が正しくありません。"))
    if date_from and date_to and date_from > date_to:
        raise ExportError("invalid", _("期間の始まりが終わりより後になっています。"))
    if date_from and date_to and (date_to - date_from).days > MAX_RANGE_DAYS:
        raise ExportError("invalid", _("期間が長すぎます（10年まで）。"))
    if not owns(membership, procedure):
        # Another department's procedure: its applications do not exist for this member.
        raise Http404("no such procedure in this department")
    if not may_export(membership, procedure, kind):
        raise PermissionDenied("export")
    if kind == Export.Kind.MYNUMBER and not _has_mynumber_task(procedure):
        raise ExportError("no_mynumber", _("この手続きは個人番号を扱いません。"))
    with transaction.atomic():
        export = Export.objects.create(
            requested_by=user, department=membership.department, procedure=procedure, kind=kind, format=fmt,
            status_filter=status, date_from=date_from, date_to=date_to)
        record("exports.requested", actor=user, obj=export, data={
            "procedure": procedure.slug, "kind": kind, "format": fmt, "status": status,
            "from": date_from.isoformat() if date_from else "", "to": date_to.isoformat() if date_to else ""})
        from .tasks import run_export

        run_export.enqueue(export.municipality.code, str(export.public_id))
    return export


def _has_mynumber_task(procedure) -> bool:
    return any("mynumber_task" in v.definition for v in ProcedureVersion.objects.filter(procedure=procedure))


def covered(export: Export) -> queries.ExportFilter:
    """The applications an export covers: the procedure's, of the owning department (exactly
    what casework shows that department), never drafts or correction drafts — as
    applications.queries reads them."""
    return queries.ExportFilter(procedure_id=export.procedure_id, department_code=export.procedure.department_code,
                                status=export.status_filter, date_from=export.date_from, date_to=export.date_to)


def columns_for(procedure) -> tuple[list[str], dict]:
    """The header (base columns, then every version's mapped columns in order) and the versions by id."""
    versions = {v.pk: v for v in ProcedureVersion.objects.filter(procedure=procedure).order_by("number")}
    header = list(BASE_COLUMNS)
    for version in versions.values():
        for column in version.definition.get("export", []):
            if column["column"] not in header:
                header.append(column["column"])
    return header, versions


def ordinary_rows(export: Export, header: list[str], versions: dict):
    for item in queries.export_applications(covered(export), CHUNK):
        # The row through the applications service's own mapping; a plain namespace instead
        # of a model instance (no query, no re-parsed definition per row).
        version = versions[item.version_id]
        row = applications.export_row(SimpleNamespace(receipt_number=item.receipt_number, status=item.status,
                                                      data=item.data, version=version))
        row["受付日時"] = item.submitted_at.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M:%S")
        row["版"] = version.number
        yield item.receipt_number, [row.get(c, "") for c in header]


def mynumber_rows(export: Export, user):
    for application, pointer in queries.export_numbers(covered(export), CHUNK):
        value = applications.reveal(application, pointer, user)  # checked and audited per number
        yield application.receipt_number, [application.receipt_number, pointer, value]


def unencodable(values: list, encoding: str) -> dict[int, list[str]]:
    """{column index: code points} of the characters `encoding` cannot hold."""
    found = {}
    for i, value in enumerate(values):
        if isinstance(value, str):
            try:
                value.encode(encoding)
            except UnicodeEncodeError:
                bad = []
                for char in value:
                    try:
                        char.encode(encoding)
                    except UnicodeEncodeError:
                        point = f"U+{ord(char):04X}"
                        if point not in bad:
                            bad.append(point)
                found[i] = bad
    return found


def _progress(export: Export, **fields) -> None:
    Export.objects.filter(pk=export.pk).update(**fields)
    for k, v in fields.items():
        setattr(export, k, v)


class Abandoned(Exception):
    """The export is no longer "running" (the sweep failed it while this worker was stalled):
    the worker stops and leaves no file."""


def heartbeat_seconds() -> float:
    # Several heartbeats fit in the stale bound, so one slow write never looks like a dead worker.
    return min(5.0, settings.EXPORT_STALE_SECONDS / 4)


def _beat(export: Export, **fields) -> None:
    """Progress and heartbeat of a running export, only while it is still running."""
    fields["heartbeat_at"] = timezone.now()
    if not Export.objects.filter(pk=export.pk, state=Export.State.RUNNING).update(**fields):
        raise Abandoned(str(export.public_id))
    for k, v in fields.items():
        setattr(export, k, v)


def run(export: Export) -> Export:
    """Writes the export (in the worker). Idempotent on a finished export."""
    municipality = export.municipality
    with tenant(municipality):
        export = Export.objects.select_related("procedure", "requested_by", "department").get(pk=export.pk)
        if export.state != Export.State.QUEUED:
            return export
        now = timezone.now()
        if not Export.objects.filter(pk=export.pk, state=Export.State.QUEUED).update(
                state=Export.State.RUNNING, started_at=now, heartbeat_at=now):
            return export  # taken by another worker meanwhile
        export.state, export.started_at, export.heartbeat_at = Export.State.RUNNING, now, now
        record("exports.started", obj=export, data={"procedure": export.procedure.slug, "kind": export.kind})
        try:
            return _write(export, municipality)
        except Abandoned:
            export.refresh_from_db()
            return export


def _write(export: Export, municipality) -> Export:
    user = export.requested_by
    membership = Membership.objects.select_related("department").filter(user=user).first()
    if not may_export(membership, export.procedure, export.kind) or membership.department_id != export.department_id:
        return _fail(export, "permission", _("出力を依頼した職員に、もうこの出力の権限がありません。"))
    if export.kind == Export.Kind.MYNUMBER:
        header = MYNUMBER_COLUMNS
        total = queries.export_number_count(covered(export))
        rows = mynumber_rows(export, user)
    else:
        header, versions = columns_for(export.procedure)
        total = queries.export_count(covered(export))
        rows = ordinary_rows(export, header, versions)
    _beat(export, total=total)
    fmt = FORMATS.get(export.format)
    encoding = fmt.strict_encoding
    problems, problem_count, done = [], 0, 0
    tmp_dir = settings.DATA_DIR / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    sealed = export.kind == Export.Kind.MYNUMBER
    every = heartbeat_seconds()
    last_beat = time.monotonic()
    # A My Number export is written in memory: individual numbers never touch the disk in clear.
    with (io.BytesIO() if sealed else tempfile.TemporaryFile(dir=tmp_dir, prefix="export-")) as out:
        writer = fmt.writer(header, out)
        for receipt, values in rows:
            if encoding:
                bad = unencodable(values, encoding)
                if bad:
                    for index, points in bad.items():
                        problem_count += 1
                        if len(problems) < MAX_PROBLEMS:
                            problems.append({"receipt": receipt, "column": header[index],
                                             "characters": points})
                    done += 1
                    continue
            if not problems:
                writer.row(values)
            done += 1
            # The heartbeat: every PROGRESS_EVERY rows, and at least every few seconds
            # however slow the rows are (a My Number row is a reveal, audited).
            if done % PROGRESS_EVERY == 0 or time.monotonic() - last_beat >= every:
                _beat(export, done=done)
                last_beat = time.monotonic()
        writer.close()
        if problems:
            _beat(export, done=done, problems=problems)
            return _fail(export, "unencodable", _("%(encoding)sで表せない文字が%(n)s箇所あります。") % {
                "encoding": fmt.encoding_label, "n": f"{problem_count:,}"}, count=problem_count)
        _beat(export, done=done)
        target = f"exports/{municipality.code}/{export.public_id}.{export.extension}"
        if sealed:
            content = out.getvalue()
            digest, size = hashlib.sha256(content), len(content)
            name = default_storage.save(target + ".sealed", ContentFile(seal_file(export, content)))
        else:
            size = out.tell()
            out.seek(0)
            digest = hashlib.sha256()
            for block in iter(lambda: out.read(1 << 20), b""):
                digest.update(block)
            out.seek(0)
            name = default_storage.save(target, File(out))
    expires = timezone.now() + dt.timedelta(hours=settings.EXPORT_EXPIRY_HOURS)
    with transaction.atomic():
        finished = Export.objects.filter(pk=export.pk, state=Export.State.RUNNING).update(
            state=Export.State.DONE, done=done, file=name, sha256=digest.hexdigest(), size=size,
            finished_at=timezone.now(), expires_at=expires, heartbeat_at=timezone.now())
        if finished:
            export.refresh_from_db()
            record("exports.finished", obj=export, data={"rows": done, "sha256": export.sha256, "size": size,
                                                          "expires_at": expires.isoformat()})
            from .tasks import expire_exports

            expire_exports.using(run_after=expires + dt.timedelta(seconds=5)).enqueue()
    if not finished:
        # Failed by the sweep while this worker was stalled: the page already says so.
        default_storage.delete(name)
        raise Abandoned(str(export.public_id))
    return export


# A My Number export file is stored sealed (AES-256-GCM with the individual-number keys,
# applications/mynumber.py) and opened only to be downloaded: MAGIC, key id, NUL, blob.
SEALED_MAGIC = b"madoguchi-sealed-export-v1\0"


def _export_aad(export: Export) -> bytes:
    return f"export:{export.municipality.code}:{export.public_id}".encode()


def seal_file(export: Export, content: bytes) -> bytes:
    kid, blob = mynumber.seal(content, _export_aad(export))
    return SEALED_MAGIC + kid.encode() + b"\0" + blob


def open_file(export: Export) -> bytes | None:
    """The file's content for a download of a sealed export (None for an ordinary export,
    which is streamed from storage as it is)."""
    if not export.file.endswith(".sealed"):
        return None
    with default_storage.open(export.file) as fh:
        stored = fh.read()
    if not stored.startswith(SEALED_MAGIC):
        raise ValueError("not a sealed export")
    kid, _, blob = stored[len(SEALED_MAGIC):].partition(b"\0")
    return mynumber.unseal(kid.decode(), blob, _export_aad(export))


def _fail(export: Export, code: str, message: str, count: int | None = None) -> Export:
    """Marks a queued or running export failed (once: a finished or already failed export is
    left as it is) and audits it."""
    with transaction.atomic():
        changed = Export.objects.filter(pk=export.pk, state__in=(Export.State.QUEUED, Export.State.RUNNING)).update(
            state=Export.State.FAILED, error=message[:200], finished_at=timezone.now())
        if changed:
            data = {"reason": code}
            if count is not None:
                data["problems"] = count
            export.state, export.error = Export.State.FAILED, message[:200]
            record("exports.failed", obj=export, data=data)
    return export


def downloaded(export: Export, user) -> None:
    """Each download is audited. A My Number export's download discloses every number in it,
    so it is recorded as reveals are: who, which export and how many numbers (never one)."""
    if export.kind == Export.Kind.MYNUMBER:
        record("exports.mynumber_downloaded", actor=user, obj=export, data={
            "export": str(export.public_id), "procedure": export.procedure.slug, "numbers": export.done,
            "sha256": export.sha256})
    else:
        record("exports.downloaded", actor=user, obj=export, data={"sha256": export.sha256, "kind": export.kind})


def is_available(export: Export) -> bool:
    return export.state == Export.State.DONE and export.expires_at is not None and export.expires_at > timezone.now()


def expire(municipality, now: dt.datetime | None = None) -> int:
    """Deletes the files of finished exports past their time; each is an audit event.
    Also fails exports left "running" by a worker that stopped midway (abandoned())."""
    now = now or timezone.now()
    count = 0
    abandoned(municipality, now)
    with tenant(municipality):
        for export in Export.objects.filter(state=Export.State.DONE, expires_at__lte=now):
            with transaction.atomic():
                if export.file:
                    try:
                        default_storage.delete(export.file)
                    except OSError:
                        pass
                _progress(export, state=Export.State.EXPIRED, file="")
                record("exports.expired", obj=export, data={"sha256": export.sha256})
            count += 1
    return count


def abandoned(municipality, now: dt.datetime | None = None) -> int:
    """Exports "running" whose heartbeat is older than EXPORT_STALE_SECONDS were left by a
    worker that stopped (killed, machine restarted): they are marked failed, so the page
    stops polling and says to ask again. A live worker beats every few seconds."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.EXPORT_STALE_SECONDS)
    count = 0
    with tenant(municipality):
        stale = Export.objects.filter(state=Export.State.RUNNING).filter(
            Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff))
        for export in stale:
            if _fail(export, "abandoned", _("出力の作成が途中で止まりました。もう一度依頼してください。")).state \
                    == Export.State.FAILED:
                count += 1
    return count


def sweep() -> dict:
    """abandoned() in every municipality: run by every worker at start and periodically."""
    from madoguchi.municipalities.models import Municipality

    return {m.code: abandoned(m) for m in Municipality.objects.order_by("code")}
