"""`madoguchi payments reconcile [--date YYYY-MM-DD] [--municipality CODE]`: reconcile a
day's settled transactions (default: yesterday in Japan) for one municipality or all, with
progress; the worker does yesterday's by itself (docs/payments.md, Reconciliation)."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from madoguchi.municipalities.models import Municipality


def iso_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date {value!r}: expected YYYY-MM-DD", returncode=2) from None


class Command(BaseCommand):
    help = "Reconcile a day's settled transactions against payments (収納消込)."

    def add_arguments(self, parser):
        parser.add_argument("--date", metavar="YYYY-MM-DD", help="the day in Japan (default: yesterday)")
        parser.add_argument("--municipality", metavar="CODE", help="one municipality (default: all)")

    def handle(self, *args, date=None, municipality=None, **options):
        from madoguchi.payments import reconciliation

        day = iso_date(date) if date else reconciliation.yesterday_in_japan()
        if day > reconciliation.today_in_japan():
            raise CommandError(f"--date {day.isoformat()}: a day still to come has nothing settled", returncode=2)
        if municipality:
            found = list(Municipality.objects.filter(code=municipality))
            if not found:
                raise CommandError(f"--municipality {municipality}: no such municipality", returncode=2)
        else:
            found = list(Municipality.objects.order_by("code"))
        failed = False
        for m in found:
            with tqdm(desc=f"{m.code} {day.isoformat()}", unit="item", disable=None) as bar:
                def progress(done, total, bar=bar):
                    bar.total = total
                    bar.update(done - bar.n)
                try:
                    runs = reconciliation.reconcile_day(m, day, progress=progress)
                except reconciliation.ReconciliationError as exc:
                    self.stderr.write(f"{m.code}: failed: {exc}")
                    failed = True
                    runs = list(reconciliation.ReconciliationRun.unscoped.filter(
                        municipality=m, day=day, state="done"))
            for run in runs:
                self.stdout.write(f"{m.code} {run.provider} {day.isoformat()}: matched {run.matched}, "
                                  f"missing ours {run.missing_ours}, missing theirs {run.missing_theirs}, "
                                  f"amount differs {run.amount_differs}")
        if failed:
            raise CommandError("some providers could not be reconciled (see above)", returncode=1)
