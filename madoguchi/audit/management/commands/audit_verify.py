from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from madoguchi.audit.checkpoints import check_marks, load_index
from madoguchi.audit.models import DEPLOYMENT_CHAIN, AuditEvent
from madoguchi.audit.services import chain_key, verify_chain
from madoguchi.municipalities.codes import InvalidMunicipalityCode, validate_code
from madoguchi.municipalities.models import Municipality


class Command(BaseCommand):
    help = ("Recompute the audit hash chains and check them against the signed checkpoints outside the "
            "database; name the first broken link. Exit 1 when one is broken.")

    def add_arguments(self, parser):
        parser.add_argument("--municipality", metavar="CODE", help="verify only this municipality's chain")

    def handle(self, *args, municipality=None, **options):
        if municipality is not None:
            try:
                validate_code(municipality)
            except InvalidMunicipalityCode as exc:
                raise CommandError(f"--municipality {municipality}: {exc}", returncode=2) from None
            found = Municipality.objects.filter(code=municipality).first()
            if found is None:
                raise CommandError(f"--municipality {municipality}: no such municipality", returncode=2)
            targets = [found]
        else:
            targets = [None, *Municipality.objects.order_by("code")]
        index = load_index()
        chains = [chain_key(t) for t in targets]
        check_marks(index, chains)
        broken = 0
        # Problems of the sink itself (a cut-short file, an unreadable line, no key) concern every chain.
        for problem in index.problems.get(None, []):
            broken += 1
            self.stdout.write(f"BROKEN checkpoints: {problem}")
        for target in targets:
            total = AuditEvent.unscoped.filter(municipality=target).count()
            label = target.code if target is not None else DEPLOYMENT_CHAIN
            with tqdm(total=total, desc=f"audit {label}", unit="event", disable=None, leave=False) as bar:
                report = verify_chain(target, progress=bar.update, index=index)
            own_problems = index.problems.get(report.chain, [])
            if report.broken_at is None:
                anchor = report.checkpoint
                stamped = f" (time-stamped {anchor.stamped_at})" if anchor is not None and anchor.stamped_at else ""
                against = f"; checkpoint seq {anchor.seq} of {anchor.at}{stamped} matches" if anchor is not None else ""
                self.stdout.write(f"OK     {label}: {report.events} events{against}")
            else:
                broken += 1
                self.stdout.write(f"BROKEN {label}: first broken link at seq {report.broken_at}: {report.reason}")
            for problem in own_problems:
                broken += 1
                self.stdout.write(f"BROKEN {label}: checkpoints: {problem}")
            if report.warning:
                self.stdout.write(f"WARN   {label}: {report.warning}")
        if municipality is None:
            # A checkpointed chain whose municipality is gone entirely (its events deleted, then the row).
            known = set(chains)
            for chain in sorted(set(index.latest) - known):
                anchor = index.latest[chain]
                broken += 1
                self.stdout.write(f"BROKEN {anchor.municipality or chain}: checkpoint {anchor.where} records seq "
                                  f"{anchor.seq} of a municipality the database no longer has")
        if broken:
            raise CommandError(f"{broken} audit problem(s): see the BROKEN lines", returncode=1)
