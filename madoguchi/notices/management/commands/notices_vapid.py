from django.core.management.base import BaseCommand, CommandError

from madoguchi.municipalities.models import Municipality
from madoguchi.notices import vapid


class Command(BaseCommand):
    help = ("Creates (or with --rotate replaces, keeping the old key for the devices subscribed with it) a "
            "municipality's VAPID key for Web Push and prints its public key; --retire-previous deletes the "
            "kept keys and the subscriptions bound to them.")

    def add_arguments(self, parser):
        parser.add_argument("code", help="the municipality's code (全国地方公共団体コード)")
        parser.add_argument("--rotate", action="store_true",
                            help="a new key for new subscriptions; devices subscribed with the old key keep "
                                 "receiving with it until they subscribe again")
        parser.add_argument("--retire-previous", action="store_true",
                            help="delete the kept previous keys and the subscriptions still bound to them "
                                 "(those devices must subscribe again)")

    def handle(self, *args, code, rotate, retire_previous, **options):
        if not Municipality.objects.filter(code=code).exists():
            raise CommandError(f"code {code}: no such municipality", returncode=2)
        if rotate and retire_previous:
            raise CommandError("--rotate and --retire-previous: one at a time (retire once devices re-subscribed)",
                               returncode=2)
        if retire_previous:
            removed = vapid.retire(code)
            self.stdout.write(f"retired the previous keys of {code}; {removed} subscriptions removed")
            return
        written = vapid.ensure(code, rotate=rotate)
        kept = len(vapid.known_public_keys(code)) - 1
        self.stdout.write(f"{'created' if written else 'kept'} {vapid.path_of(code)}\n{vapid.public_key(code)}"
                          + (f"\n{kept} previous key(s) kept for earlier subscriptions" if kept else ""))
