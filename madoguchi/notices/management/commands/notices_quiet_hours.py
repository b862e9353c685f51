import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from madoguchi.municipalities.models import Municipality
from madoguchi.notices import quiet


def hhmm(value: str) -> dt.time:
    try:
        return dt.datetime.strptime(value, "%H:%M").time()
    except ValueError:
        raise CommandError(f"{value!r}: not a time HH:MM (Japan time)", returncode=2) from None


class Command(BaseCommand):
    help = ("Sets a municipality's quiet hours (Japan time), during which push notices that are not 防災・緊急 wait "
            "until they end: --from 21:00 --until 08:00; --off removes them.")

    def add_arguments(self, parser):
        parser.add_argument("code", help="the municipality's code (全国地方公共団体コード)")
        parser.add_argument("--from", dest="start", metavar="HH:MM")
        parser.add_argument("--until", dest="end", metavar="HH:MM")
        parser.add_argument("--off", action="store_true", help="no quiet hours")

    def handle(self, *args, code, start, end, off, **options):
        municipality = Municipality.objects.filter(code=code).first()
        if municipality is None:
            raise CommandError(f"code {code}: no such municipality", returncode=2)
        if off:
            if start or end:
                raise CommandError("--off takes no --from/--until", returncode=2)
            quiet.set_hours(municipality, None, None)
            self.stdout.write(f"{code}: no quiet hours")
            return
        if not (start and end):
            raise CommandError("give --from HH:MM and --until HH:MM, or --off", returncode=2)
        start_t, end_t = hhmm(start), hhmm(end)
        if start_t == end_t:
            raise CommandError("--from and --until are the same time", returncode=2)
        quiet.set_hours(municipality, start_t, end_t)
        self.stdout.write(f"{code}: quiet hours {start_t:%H:%M}–{end_t:%H:%M} (Japan time) for push")
