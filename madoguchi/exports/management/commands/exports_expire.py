"""`madoguchi exports_expire`: delete the files of expired exports now (the worker also
does it when each export's time comes)."""

from django.core.management.base import BaseCommand

from madoguchi.municipalities.models import Municipality


class Command(BaseCommand):
    help = "delete expired export files (every municipality)"

    def handle(self, *args, **options):
        from madoguchi.exports.services import expire

        total = sum(expire(m) for m in Municipality.objects.order_by("code"))
        self.stdout.write(f"expired {total} export(s)")
