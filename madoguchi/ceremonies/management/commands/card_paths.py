"""`madoguchi card_paths --municipality CODE [--enable NAME …] [--disable NAME …] [--reset]`:
which card paths a municipality offers (docs/card_paths.md). Without a change it lists
every registered path, enabled or not."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from madoguchi.audit.services import record
from madoguchi.ceremonies.cardpaths import CARD_PATHS, enabled_paths
from madoguchi.ceremonies.models import CardPathSetting
from madoguchi.municipalities.models import Municipality
from madoguchi.municipalities.tenancy import tenant


def _usage(message: str) -> CommandError:
    return CommandError(message, returncode=2)


class Command(BaseCommand):
    help = "Show or choose the card paths a municipality offers (card-client, national-app, …)."

    def add_arguments(self, parser):
        parser.add_argument("--municipality", required=True, help="the 6-digit municipality code")
        parser.add_argument("--enable", action="append", default=[], metavar="NAME")
        parser.add_argument("--disable", action="append", default=[], metavar="NAME")
        parser.add_argument("--reset", action="store_true", help="back to the installation's default")

    def handle(self, *args, municipality, enable, disable, reset, **options):
        found = Municipality.objects.filter(code=municipality).first()
        if found is None:
            raise _usage(f"--municipality: no municipality {municipality}")
        for name in enable + disable:
            if name not in CARD_PATHS:
                raise _usage(f"unknown card path {name!r}; known: {', '.join(CARD_PATHS.names())}")
        if set(enable) & set(disable):
            raise _usage("a card path cannot be enabled and disabled at once")
        if reset and (enable or disable):
            raise _usage("--reset takes no --enable/--disable")
        before = enabled_paths(found)
        if enable or disable or reset:
            after = list(settings.CARD_PATHS_ENABLED) if reset else \
                [n for n in before if n not in disable] + [n for n in enable if n not in before]
            if not after:
                raise _usage("at least one card path must stay enabled")
            with tenant(found), transaction.atomic():
                if reset:
                    CardPathSetting.objects.filter().delete()
                else:
                    CardPathSetting.objects.update_or_create(defaults={"enabled": after})
                record("ceremony.card_paths_changed", actor=None, obj=found,
                       data={"before": before, "after": enabled_paths(found), "reset": reset})
        now = enabled_paths(found)
        for entry in CARD_PATHS.entries():
            mark = "enabled " if entry.name in now else "disabled"
            self.stdout.write(f"{mark} {entry.name:<18} {entry.description}")
