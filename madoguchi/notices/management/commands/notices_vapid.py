from django.core.management.base import BaseCommand, CommandError

from madoguchi.municipalities.models import Municipality
from madoguchi.notices import vapid


class Command(BaseCommand):
    help = "Creates (or with --rotate replaces) a municipality's VAPID key for Web Push and prints its public key."

    def add_arguments(self, parser):
        parser.add_argument("code", help="the municipality's code (全国地方公共団体コード)")
        parser.add_argument("--rotate", action="store_true",
                            help="replace the key (devices subscribed with the old key must subscribe again)")

    def handle(self, *args, code, rotate, **options):
        if not Municipality.objects.filter(code=code).exists():
            raise CommandError(f"code {code}: no such municipality", returncode=2)
        written = vapid.ensure(code, rotate=rotate)
        self.stdout.write(f"{'created' if written else 'kept'} {vapid.path_of(code)}\n{vapid.public_key(code)}")
