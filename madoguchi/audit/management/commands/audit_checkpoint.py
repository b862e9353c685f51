from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from madoguchi.audit.checkpoints import CheckpointKeyError, write_checkpoints
from madoguchi.audit.sinks import SinkError


class Command(BaseCommand):
    help = ("Write a signed checkpoint of each audit chain whose head moved (every chain with --all) to the "
            "checkpoint sink. Exit 1 when a chain is shorter than its last checkpoint.")

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", dest="all_chains",
                            help="checkpoint every chain, moved or not (after moving the sink)")
        parser.add_argument("--schedule", action="store_true",
                            help="instead, queue the worker's periodic checkpoint task now unless one is queued "
                                 "(`madoguchi worker` does this at start)")

    def handle(self, *args, all_chains=False, schedule=False, **options):
        if schedule:
            from madoguchi.audit.tasks import schedule_checkpoints

            queued = schedule_checkpoints()
            if options.get("verbosity", 1) > 0:
                self.stdout.write("checkpoint task queued" if queued else "checkpoint task already queued")
            return
        try:
            result = write_checkpoints(all_chains=all_chains)
        except (SinkError, CheckpointKeyError, ImproperlyConfigured) as exc:
            raise CommandError(str(exc), returncode=2) from None
        for checkpoint in result.written:
            self.stdout.write(f"WROTE  {checkpoint.municipality or checkpoint.chain}: seq {checkpoint.seq}")
        if result.unstamped:
            self.stdout.write(f"WARN   written without RFC 3161 time-stamps: {result.unstamped}")
        for message in result.refused:
            self.stdout.write(f"REFUSED {message}")
        self.stdout.write(f"{len(result.written)} checkpoint(s) written, {result.unchanged} chain(s) unchanged")
        if result.refused:
            raise CommandError(f"{len(result.refused)} chain(s) went back behind their checkpoint", returncode=1)
