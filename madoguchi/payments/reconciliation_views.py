"""Back office: reconciliation runs (収納消込), their items and the resolve form, and the
accounting office's daily report (画面, CSV cp932 / UTF-8). For an administrator or a
reviewer of the municipality: reconciliation is the municipality's accounts, one list for
every department; its pages show references and amounts, no resident's data."""

import datetime as dt

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from madoguchi.staff.decorators import staff_member_required

from . import reconciliation
from .models import Outcome, ReconciliationItem, ReconciliationRun

ROLES = ("administrator", "reviewer")
SHOWN_RUNS = 90


def _day(value: str):
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


@never_cache
@staff_member_required(*ROLES)
def runs(request, code):
    """The latest runs, newest day first; a day asked for with ?date= to see or run."""
    errors, status = {}, 200
    if request.method == "POST":
        day = _day(request.POST.get("date", ""))
        if day is None or day > reconciliation.today_in_japan():
            errors, status = {"date": _("対象日を今日以前の日付（YYYY-MM-DD）で入力してください。")}, 400
        else:
            try:
                reconciliation.reconcile_day(request.municipality, day, actor=request.user)
            except reconciliation.ReconciliationError:
                pass  # the failed run says so on the list
            return redirect("payments_staff:reconciliation_report", code, day.isoformat())
    listed = list(ReconciliationRun.objects.order_by("-day", "provider")[:SHOWN_RUNS])
    return render(request, "payments/reconciliation_runs.html", {
        "runs": listed, "errors": errors, "post": request.POST,
        "yesterday": reconciliation.yesterday_in_japan().isoformat()}, status=status)


@never_cache
@staff_member_required(*ROLES)
def run_detail(request, code, run_id):
    run = get_object_or_404(ReconciliationRun, pk=run_id)
    errors, status = {}, 200
    if request.method == "POST":
        item = ReconciliationItem.objects.filter(run=run, pk=_int(request.POST.get("item"))).first()
        try:
            if item is None:
                raise reconciliation.ReconciliationError("not_found", _("この項目はありません。"), status=400,
                                                         field="item")
            reconciliation.resolve(item, request.user, note=request.POST.get("note", ""))
        except reconciliation.ReconciliationError as exc:
            errors, status = {"item": item.pk if item else None, exc.field or "form": str(exc)}, exc.status
        else:
            return redirect("payments_staff:reconciliation_run", code, run.pk)
    show = request.GET.get("show", "open")
    items = ReconciliationItem.objects.filter(run=run).select_related("resolved_by").order_by("outcome", "id")
    if show == "open":
        items = items.exclude(outcome=Outcome.MATCHED).filter(resolved_at__isnull=True)
    elif show == "unmatched":
        items = items.exclude(outcome=Outcome.MATCHED)
    else:
        show = "all"
    return render(request, "payments/reconciliation_run.html", {
        "run": run, "items": items[:500], "show": show, "errors": errors, "post": request.POST,
        "provider": reconciliation.PROVIDER_LABELS.get(run.provider, run.provider)}, status=status)


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@never_cache
@staff_member_required(*ROLES)
def report(request, code, day):
    """The daily report: a table, or CSV with ?encoding=cp932|utf-8."""
    parsed = _day(day)
    if parsed is None:
        raise Http404
    rows = reconciliation.daily_report(request.municipality, parsed)
    encoding = request.GET.get("encoding")
    if encoding is not None:
        try:
            body, replaced = reconciliation.report_csv(rows, parsed, encoding)
        except reconciliation.ReconciliationError as exc:
            return HttpResponse(f"{exc.field}: {exc}\n", status=exc.status, content_type="text/plain; charset=utf-8")
        charset = "Shift_JIS" if encoding == "cp932" else "utf-8"
        response = HttpResponse(body, content_type=f"text/csv; charset={charset}")
        response["Content-Disposition"] = (f'attachment; filename="nikkei-{code}-{parsed.isoformat()}-'
                                           f'{encoding}.csv"')
        response["X-Replaced-Characters"] = str(replaced)
        return response
    return render(request, "payments/reconciliation_report.html", {
        "day": parsed, "rows": rows[:-1], "total": rows[-1],
        "runs": ReconciliationRun.objects.filter(day=parsed).order_by("provider"),
        "not_in_cp932": reconciliation.not_in_cp932(rows),
        "providers": reconciliation.PROVIDER_LABELS})
