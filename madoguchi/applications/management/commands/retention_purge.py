import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from madoguchi.applications.retention import purge
from madoguchi.municipalities.models import Municipality


def iso_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--as-of {value!r}: expected YYYY-MM-DD", returncode=2) from None


class Command(BaseCommand):
    help = "Delete applications whose retention has run out, and abandoned drafts (docs/applications.md)."

    def add_arguments(self, parser):
        parser.add_argument("--municipality", metavar="CODE", help="one municipality (default: all)")
        parser.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
        parser.add_argument("--as-of", metavar="YYYY-MM-DD", help="the day to judge retention on (default: today in Japan)")

    def handle(self, *args, municipality=None, dry_run=False, as_of=None, **options):
        today = iso_date(as_of) if as_of else None
        if municipality:
            found = list(Municipality.objects.filter(code=municipality))
            if not found:
                raise CommandError(f"--municipality {municipality}: no such municipality", returncode=2)
        else:
            found = list(Municipality.objects.order_by("code"))
        failed = False
        for m in found:
            with tqdm(desc=f"{m.code} {'checking' if dry_run else 'deleting'}", unit="application", disable=None) as bar:
                def progress(done, total, bar=bar):
                    bar.total = total
                    bar.update(done - bar.n)
                report = purge(m, today=today, dry_run=dry_run, progress=progress)
            verb = "would delete" if dry_run else "deleted"
            self.stdout.write(f"{m.code}: {verb} {report.count('retention')} past retention, "
                              f"{report.count('draft_expired')} expired drafts; kept {len(report.kept)}")
            for label, reason in report.deleted if dry_run else ():
                self.stdout.write(f"  {label} {reason}")
            for label, why in report.kept:
                self.stderr.write(f"  kept application {label}: {why}")
                failed = True
        if failed:
            raise CommandError("some applications could not be deleted (see above)", returncode=1)
