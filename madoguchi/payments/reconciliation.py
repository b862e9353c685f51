"""Reconciliation (収納消込): a day's settled transactions of each provider matched against
our payments and refunds, and the accounting office's daily report.

A run is one municipality, one provider, one day in Japan (JST 00:00 to 24:00). Its items
compare what the provider settled (`Provider.settlements`) with what we recorded:

- **matched**: the same reference, the same amount in yen;
- **amount differs**: the same reference, another amount (or a currency other than JPY);
- **missing on our side** (当方の記録なし): the provider settled something we have no
  payment or refund for;
- **missing on theirs** (決済事業者の記録なし): we recorded a payment succeeded or a refund
  that day, and the provider did not settle it that day (nor was it matched by another
  day's run: a payment at 23:59 settled at 00:01 is matched the next day, and that closes
  the earlier item by itself).

Running a day again brings its one run up to date (the run is unique per
municipality/provider/day, its items per kind and reference): nothing is duplicated, an
open item may change its outcome (audited), a resolved one is kept. An item that is not
matched stays open until a member of staff resolves it with a note (audited).

窓口払い (provider `counter`): the till records staff enter are their own truth — there is
no other system to compare them with — so a counter run lists the day's counter payments
and refunds as matched items (reference: the payment's id; transaction: the till's receipt
number), for the daily report and for the accountant to tick against the till's journal.
"""

import csv
import datetime as dt
import io
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.audit.services import record, record_many
from madoguchi.core.dates import today_in_japan
from madoguchi.municipalities.tenancy import tenant

from .models import PAID, Outcome, Payment, ReconciliationItem, ReconciliationRun, Refund
from .providers import base as providers
from .providers.base import Settlement

log = logging.getLogger(__name__)
JST = dt.timezone(dt.timedelta(hours=9), "JST")
COUNTER = "counter"
BATCH = 2000


class ReconciliationError(Exception):
    """A refusal the caller shows: `field` names the input at fault (a 400), else a state (409)."""

    def __init__(self, code: str, message: str, *, status: int = 409, field: str | None = None):
        self.code, self.status, self.field = code, status, field
        super().__init__(message)


def day_window(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The day in Japan as [start, end) instants."""
    start = dt.datetime.combine(day, dt.time(), JST)
    return start, start + dt.timedelta(days=1)


def yesterday_in_japan() -> dt.date:
    return today_in_japan() - dt.timedelta(days=1)


@dataclass
class _Ours:
    reference: str
    amount_yen: int
    payment_id: int
    transaction: str = ""


def _ours_of_day(municipality, name: str, start, end) -> dict[tuple[str, str], _Ours]:
    """Our payments that succeeded and refunds made in [start, end) with this provider."""
    found = {}
    charges = (Payment.unscoped.filter(municipality=municipality, provider=name, status__in=sorted(PAID),
                                       succeeded_at__gte=start, succeeded_at__lt=end)
               .values_list("pk", "public_id", "provider_reference", "amount_yen", "till_receipt"))
    for pk, public_id, reference, amount, till in charges.iterator(chunk_size=BATCH):
        key = str(public_id) if name == COUNTER else reference
        found[("charge", key)] = _Ours(key, amount, pk, till)
    refunds = (Refund.unscoped.filter(municipality=municipality, payment__provider=name, created_at__gte=start,
                                      created_at__lt=end)
               .values_list("pk", "provider_reference", "amount_yen", "payment_id"))
    for pk, reference, amount, payment_id in refunds.iterator(chunk_size=BATCH):
        key = f"refund-{pk}" if name == COUNTER or not reference else reference
        found[("refund", key)] = _Ours(key, amount, payment_id)
    return found


def _ours_elsewhere(municipality, name: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str], _Ours]:
    """Our records of other days for the settled references not found among the day's."""
    found = {}
    charges = [reference for kind, reference in keys if kind == "charge"]
    refunds = [reference for kind, reference in keys if kind == "refund"]
    for i in range(0, len(charges), BATCH):
        for pk, reference, amount in (Payment.unscoped.filter(
                municipality=municipality, provider=name, provider_reference__in=charges[i:i + BATCH],
                status__in=sorted(PAID)).values_list("pk", "provider_reference", "amount_yen")):
            found[("charge", reference)] = _Ours(reference, amount, pk)
    for i in range(0, len(refunds), BATCH):
        for reference, amount, payment_id in (Refund.unscoped.filter(
                municipality=municipality, payment__provider=name, provider_reference__in=refunds[i:i + BATCH])
                .values_list("provider_reference", "amount_yen", "payment_id")):
            found[("refund", reference)] = _Ours(reference, amount, payment_id)
    return found


def _counter_settlements(ours: dict) -> list[Settlement]:
    return [Settlement(kind, o.reference, o.amount_yen, 0, "jpy", transaction=o.transaction)
            for (kind, _ref), o in ours.items()]


@dataclass
class _Item:
    kind: str
    reference: str
    transaction: str = ""
    payment_id: int | None = None
    ours_yen: int | None = None
    theirs_yen: int | None = None
    fee_yen: int = 0
    currency: str = "jpy"
    outcome: str = field(default="")


def compare(theirs: list[Settlement], ours: dict[tuple[str, str], _Ours]) -> dict[tuple[str, str], _Item]:
    """The matching itself (a dict join on kind and reference): pure, so the benchmark can
    measure it beside the database's part."""
    items: dict[tuple[str, str], _Item] = {}
    for s in theirs:
        key = (s.kind, s.reference)
        item = items.get(key)
        if item is None:
            item = items[key] = _Item(s.kind, s.reference, s.transaction, theirs_yen=0, currency=s.currency)
        else:  # settled in parts: the parts add up
            item.transaction = item.transaction or s.transaction
        item.theirs_yen += s.amount_yen
        item.fee_yen += s.fee_yen
        if s.currency != "jpy":
            item.currency = s.currency
    for key, item in items.items():
        o = ours.get(key)
        if o is None:
            item.outcome = Outcome.MISSING_OURS
            continue
        item.payment_id, item.ours_yen = o.payment_id, o.amount_yen
        item.transaction = item.transaction or o.transaction
        item.outcome = Outcome.MATCHED if (o.amount_yen == item.theirs_yen and item.currency == "jpy") \
            else Outcome.AMOUNT_DIFFERS
    for key, o in ours.items():
        if key not in items:
            items[key] = _Item(key[0], o.reference, o.transaction, o.payment_id, ours_yen=o.amount_yen,
                               outcome=Outcome.MISSING_THEIRS)
    return items


def providers_of_day(municipality, start, end) -> list[str]:
    """The providers to reconcile: the municipality's configured one, and any that took or
    refunded a payment that day (a provider changed meanwhile, 窓口払い)."""
    names = set(Payment.unscoped.filter(municipality=municipality, succeeded_at__gte=start, succeeded_at__lt=end)
                .values_list("provider", flat=True).distinct())
    names |= set(Refund.unscoped.filter(municipality=municipality, created_at__gte=start, created_at__lt=end)
                 .values_list("payment__provider", flat=True).distinct())
    names.add(providers.name_for(municipality))
    return sorted(names)


def reconcile(municipality, name: str, day: dt.date, *, progress=None, actor=None) -> ReconciliationRun:
    """Reconciles one provider's day for the municipality; the same day again updates its
    one run. A provider that cannot be asked (refused here, down, answering an error)
    leaves the run failed with the error's class, and raises."""
    start, end = day_window(day)
    with tenant(municipality):
        run, _created = ReconciliationRun.objects.get_or_create(municipality=municipality, provider=name, day=day)
        ReconciliationRun.objects.filter(pk=run.pk).update(state=ReconciliationRun.State.RUNNING,
                                                           started_at=timezone.now())
        try:
            ours = _ours_of_day(municipality, name, start, end)
            if name == COUNTER:
                theirs = _counter_settlements(ours)
            else:
                theirs = list(providers.get(name).settlements(municipality, day, start=start, end=end))
            missing = [(s.kind, s.reference) for s in theirs if (s.kind, s.reference) not in ours]
            ours_all = {**_ours_elsewhere(municipality, name, missing), **ours}
            items = compare(theirs, ours_all)
            return _store(municipality, run, items, progress=progress, actor=actor)
        except Exception as exc:
            ReconciliationRun.objects.filter(pk=run.pk).update(
                state=ReconciliationRun.State.FAILED, error=type(exc).__name__[:200], finished_at=timezone.now())
            record("payments.reconciliation_failed", actor=actor, obj=run,
                   data={"provider": name, "day": day.isoformat(), "error": type(exc).__name__})
            raise


def _store(municipality, run, items: dict[tuple[str, str], _Item], *, progress, actor) -> ReconciliationRun:
    total = len(items)
    with transaction.atomic():
        run = ReconciliationRun.objects.select_for_update().get(pk=run.pk)  # one writer per run
        existing = {(kind, reference): (pk, outcome, ours, theirs, fee, resolved)
                    for pk, kind, reference, outcome, ours, theirs, fee, resolved in ReconciliationItem.objects.filter(
                        run=run).values_list("pk", "kind", "reference", "outcome", "ours_yen", "theirs_yen",
                                             "fee_yen", "resolved_at").iterator(chunk_size=BATCH)}
        # Items other runs left open that this day settles or records: matched elsewhere.
        mine = {key for key, item in items.items() if item.outcome != Outcome.MISSING_THEIRS}
        elsewhere = _matched_elsewhere(run, items)
        new, changed, events, done = [], [], [], 0
        for key, item in items.items():
            if item.outcome == Outcome.MISSING_THEIRS and key in elsewhere:
                continue  # settled on another day and matched there
            old = existing.get(key)
            if old is None:
                new.append((municipality.pk, run.pk, item.kind, item.reference, item.transaction, item.payment_id,
                            item.ours_yen, item.theirs_yen, item.fee_yen, str(item.outcome), ""))
            elif old[5] is None and old[1:5] != (item.outcome, item.ours_yen, item.theirs_yen, item.fee_yen):
                changed.append(ReconciliationItem(pk=old[0], municipality=municipality, outcome=item.outcome,
                                                  ours_yen=item.ours_yen, theirs_yen=item.theirs_yen,
                                                  fee_yen=item.fee_yen, payment_id=item.payment_id,
                                                  transaction=item.transaction))
                events.append({"action": "payments.reconciliation_changed", "actor": actor,
                               "obj": ("payments.reconciliationitem", str(old[0])),
                               "data": {"run": run.pk, "from": old[1], "to": item.outcome}})
            done += 1
            if len(new) >= BATCH * 5 or (done == total and new):
                _insert_items(new)
                new = []
                if progress:
                    progress(done, total)
        _insert_items(new)
        if changed:
            ReconciliationItem.objects.bulk_update(changed, ["outcome", "ours_yen", "theirs_yen", "fee_yen",
                                                             "payment_id", "transaction"], batch_size=BATCH)
        events += _close_elsewhere(run, mine, actor)
        counts = dict(ReconciliationItem.objects.filter(run=run).values_list("outcome").annotate(n=Count("pk"))
                      .values_list("outcome", "n"))
        sums = ReconciliationItem.objects.filter(run=run).aggregate(
            charged=Sum("theirs_yen", filter=Q(kind="charge")), refunded=Sum("theirs_yen", filter=Q(kind="refund")),
            fee=Sum("fee_yen"))
        run.matched = counts.get(Outcome.MATCHED, 0)
        run.missing_ours = counts.get(Outcome.MISSING_OURS, 0)
        run.missing_theirs = counts.get(Outcome.MISSING_THEIRS, 0)
        run.amount_differs = counts.get(Outcome.AMOUNT_DIFFERS, 0)
        run.settled_yen = (sums["charged"] or 0) - (sums["refunded"] or 0)
        run.fee_yen = sums["fee"] or 0
        run.state, run.error, run.finished_at = ReconciliationRun.State.DONE, "", timezone.now()
        run.runs += 1
        run.save()
        events.append({"action": "payments.reconciled", "actor": actor, "obj": run, "data": {
            "provider": run.provider, "day": run.day.isoformat(), "matched": run.matched,
            "missing_ours": run.missing_ours, "missing_theirs": run.missing_theirs,
            "amount_differs": run.amount_differs, "runs": run.runs}})
        record_many(events, municipality=municipality)
    return run


_ITEM_COLUMNS = ("municipality_id", "run_id", "kind", "reference", "transaction", "payment_id", "ours_yen",
                 "theirs_yen", "fee_yen", "outcome", "resolution")


def _insert_items(rows: list[tuple]) -> None:
    """New items written as they are: COPY on PostgreSQL (a run may hold 100,000 items;
    bench/payments_reconcile.py), bulk_create elsewhere."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(ReconciliationItem._meta.db_table)
        columns = ", ".join(connection.ops.quote_name(c) for c in _ITEM_COLUMNS)
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    ReconciliationItem.objects.bulk_create([ReconciliationItem(**dict(zip(_ITEM_COLUMNS, row))) for row in rows],
                                           batch_size=BATCH)


NEIGHBOUR_DAYS = 3  # how far a settlement may lag (or lead) our record of it


def _matched_elsewhere(run, items) -> set[tuple[str, str]]:
    """Of our records the provider did not settle this day, those a run of a neighbouring
    day settled (through the unique index of run, kind, reference)."""
    keys = [key for key, item in items.items() if item.outcome == Outcome.MISSING_THEIRS]
    runs = list(ReconciliationRun.objects.filter(
        provider=run.provider, day__gte=run.day - dt.timedelta(days=NEIGHBOUR_DAYS),
        day__lte=run.day + dt.timedelta(days=NEIGHBOUR_DAYS)).exclude(pk=run.pk).values_list("pk", flat=True))
    found = set()
    for i in range(0, len(keys) if runs else 0, BATCH):
        part = keys[i:i + BATCH]
        found |= set(ReconciliationItem.objects.filter(
            run__in=runs, reference__in=[r for _k, r in part], theirs_yen__isnull=False)
            .values_list("kind", "reference"))
    return found


def _close_elsewhere(run, keys: set[tuple[str, str]], actor) -> list[dict]:
    """Other days' open 'missing on theirs' items this day's settlement matches: resolved.
    Open items are few (staff resolve them), so they are read and intersected here."""
    events, now = [], timezone.now()
    stale = [pk for pk, kind, reference in ReconciliationItem.objects.filter(
        run__provider=run.provider, outcome=Outcome.MISSING_THEIRS, resolved_at__isnull=True)
        .exclude(run=run).values_list("pk", "kind", "reference") if (kind, reference) in keys]
    for pk in stale:
        ReconciliationItem.objects.filter(pk=pk).update(
            resolved_at=now, resolution=f"{run.day.isoformat()} の照合で一致（自動）")
        events.append({"action": "payments.reconciliation_resolved", "actor": actor,
                       "obj": ("payments.reconciliationitem", str(pk)), "data": {"run": run.pk, "automatic": True}})
    return events


def reconcile_day(municipality, day: dt.date, *, progress=None, actor=None,
                  skip_idle_ledgers: bool = False) -> list[ReconciliationRun]:
    """Every provider of the municipality's day (see providers_of_day). A provider that may
    not run here and took nothing that day is skipped; any other failure fails its run.
    `skip_idle_ledgers` (the daily job): a provider whose ledger is our own database (the
    counter's till records, the demo's checkouts) and that moved nothing that day is not
    reconciled — nothing can be missing on either side, and an empty run would only add an
    audit event per municipality every day. Stripe is always asked: money we never heard of
    is exactly what reconciliation finds."""
    start, end = day_window(day)
    runs, failed = [], []
    for name in providers_of_day(municipality, start, end):
        if skip_idle_ledgers and name in LOCAL_LEDGERS and _ledger_idle(municipality, name, start, end):
            continue
        if name != COUNTER:
            try:
                providers.get(name)
            except ImproperlyConfigured:
                if not _took_anything(municipality, name, start, end):
                    continue  # configured, refused here (demo in production, no keys) and unused
        try:
            runs.append(reconcile(municipality, name, day, progress=progress, actor=actor))
        except Exception:
            log.exception("reconciliation of %s %s %s failed", municipality.code, name, day)
            failed.append(name)
    if failed:
        raise ReconciliationError("provider_failed", ", ".join(failed))
    return runs


LOCAL_LEDGERS = frozenset({COUNTER, "demo"})


def _ledger_idle(municipality, name, start, end) -> bool:
    if _took_anything(municipality, name, start, end):
        return False
    if name == "demo":
        from .models import DemoCheckout, DemoRefund

        return not (DemoCheckout.unscoped.filter(municipality=municipality, paid_at__gte=start, paid_at__lt=end)
                    .exists() or DemoRefund.unscoped.filter(municipality=municipality, created_at__gte=start,
                                                            created_at__lt=end).exists())
    return True


def _took_anything(municipality, name, start, end) -> bool:
    return (Payment.unscoped.filter(municipality=municipality, provider=name, succeeded_at__gte=start,
                                    succeeded_at__lt=end).exists()
            or Refund.unscoped.filter(municipality=municipality, payment__provider=name, created_at__gte=start,
                                      created_at__lt=end).exists())


def sweep() -> None:
    """The worker's daily job: yesterday (in Japan) reconciled once for every municipality;
    a failed day is tried again an hour later. Cheap when done: one query per municipality."""
    from madoguchi.municipalities.models import Municipality

    day = yesterday_in_japan()
    retry_before = timezone.now() - dt.timedelta(hours=1)
    for municipality in Municipality.objects.order_by("code"):
        runs = ReconciliationRun.unscoped.filter(municipality=municipality, day=day)
        if runs.exists() and not runs.filter(state=ReconciliationRun.State.FAILED,
                                             finished_at__lt=retry_before).exists():
            continue
        try:
            reconcile_day(municipality, day, skip_idle_ledgers=True)
        except Exception:  # the next municipality still runs; the run says what failed
            log.exception("daily reconciliation of %s failed", municipality.code)


# --- Staff: resolving an item ---------------------------------------------------------


def resolve(item: ReconciliationItem, user, *, note: str) -> ReconciliationItem:
    """A member of staff closes an open item with a note (1–500 characters); audited."""
    note = (note or "").strip()
    if not note or len(note) > 500:
        raise ReconciliationError("invalid_note", _("処理内容を500文字以内で入力してください。"), status=400, field="note")
    with tenant(item.municipality), transaction.atomic():
        item = ReconciliationItem.objects.select_for_update().select_related("run").get(pk=item.pk)
        if not item.is_open:
            raise ReconciliationError("not_open", _("この項目は処理済みです。"))
        item.resolved_at, item.resolved_by, item.resolution = timezone.now(), user, note
        item.save(update_fields=["resolved_at", "resolved_by", "resolution"])
        record("payments.reconciliation_resolved", actor=user, obj=item,
               data={"run": item.run_id, "outcome": item.outcome, "kind": item.kind})
    return item


# --- The accounting office's daily report (日計表) --------------------------------------

PROVIDER_LABELS = {"counter": "窓口払い", "demo": "デモ", "stripe": "Stripe"}
UNKNOWN_PROCEDURE = "（照合できない入金）"
HEADER = ["対象日", "手続き", "決済手段", "件数", "金額", "決済手数料", "返金件数", "返金額", "差引", "未処理の不一致"]


@dataclass
class ReportRow:
    procedure: str
    provider: str
    count: int = 0
    amount_yen: int = 0
    fee_yen: int = 0
    refunds: int = 0
    refunded_yen: int = 0
    open_items: int = 0

    @property
    def net_yen(self) -> int:
        return self.amount_yen - self.refunded_yen - self.fee_yen


def _title(definition_title) -> str:
    if isinstance(definition_title, dict):
        return definition_title.get("ja") or next(iter(definition_title.values()), "")
    return str(definition_title or "")


def daily_report(municipality, day: dt.date) -> list[ReportRow]:
    """Per procedure and provider, what the providers settled on the day: charges (count,
    amount), the providers' fees, refunds; and the items still open. The last row is the
    total (procedure 合計)."""
    rows: dict[tuple[str, str], ReportRow] = {}
    items = (ReconciliationItem.unscoped.filter(municipality=municipality, run__day=day)
             .values_list("kind", "outcome", "theirs_yen", "ours_yen", "fee_yen", "resolved_at", "run__provider",
                          "payment__application__version__definition__title"))
    for kind, outcome, theirs, ours, fee, resolved, provider, title in items.iterator(chunk_size=BATCH):
        procedure = _title(title) if title is not None else UNKNOWN_PROCEDURE
        row = rows.get((procedure, provider))
        if row is None:
            row = rows[(procedure, provider)] = ReportRow(procedure, PROVIDER_LABELS.get(provider, provider))
        if outcome != Outcome.MATCHED and resolved is None:
            row.open_items += 1
        if theirs is None:
            continue  # not settled that day: no money moved
        row.fee_yen += fee
        if kind == "charge":
            row.count += 1
            row.amount_yen += theirs
        else:
            row.refunds += 1
            row.refunded_yen += theirs
    ordered = [rows[k] for k in sorted(rows)]
    total = ReportRow("合計", "")
    for r in ordered:
        for name in ("count", "amount_yen", "fee_yen", "refunds", "refunded_yen", "open_items"):
            setattr(total, name, getattr(total, name) + getattr(r, name))
    return [*ordered, total]


GETA = "〓"  # the customary mark for a character a Japanese code page cannot show


def report_csv(rows: list[ReportRow], day: dt.date, encoding: str) -> tuple[bytes, int]:
    """The report as CSV bytes: `cp932` (Shift_JIS as Windows and Excel read it) or
    `utf-8` (with a BOM, so Excel reads it as UTF-8 too). A character cp932 cannot encode
    becomes 〓; returns the bytes and how many characters were replaced."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for r in rows:
        writer.writerow([day.isoformat(), r.procedure, r.provider, r.count, r.amount_yen, r.fee_yen, r.refunds,
                         r.refunded_yen, r.net_yen, r.open_items])
    text = out.getvalue()
    if encoding == "utf-8":
        return ("\ufeff" + text).encode("utf-8"), 0
    if encoding != "cp932":
        raise ReconciliationError("invalid_encoding", "encoding: cp932 or utf-8", status=400, field="encoding")
    replaced = 0
    encoded = []
    for ch in text:
        try:
            encoded.append(ch.encode("cp932"))
        except UnicodeEncodeError:
            replaced += 1
            encoded.append(GETA.encode("cp932"))
    return b"".join(encoded), replaced


def not_in_cp932(rows: list[ReportRow]) -> int:
    return sum(1 for r in rows for ch in f"{r.procedure}{r.provider}" if not _encodable(ch))


def _encodable(ch: str) -> bool:
    try:
        ch.encode("cp932")
    except UnicodeEncodeError:
        return False
    return True
