from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from madoguchi.audit.models import AuditEvent
from madoguchi.audit.services import verify_chain
from madoguchi.municipalities.codes import InvalidMunicipalityCode, validate_code
from madoguchi.municipalities.models import Municipality


class Command(BaseCommand):
    help = "Recompute the audit hash chains and name the first broken link. Exit 1 when one is broken."

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
        broken = 0
        for target in targets:
            total = AuditEvent.unscoped.filter(municipality=target).count()
            label = target.code if target is not None else "deployment"
            with tqdm(total=total, desc=f"audit {label}", unit="event", disable=None, leave=False) as bar:
                report = verify_chain(target, progress=bar.update)
            if report.ok:
                self.stdout.write(f"OK     {label}: {report.events} events")
            else:
                broken += 1
                self.stdout.write(f"BROKEN {label}: first broken link at seq {report.broken_at}: {report.reason}")
        if broken:
            raise CommandError(f"{broken} audit chain(s) broken", returncode=1)
