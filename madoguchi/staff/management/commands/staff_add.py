import argparse
import secrets

from django.core.management.base import BaseCommand, CommandError

from madoguchi.municipalities.models import Municipality
from madoguchi.staff.models import Department, Membership
from madoguchi.staff.services import current_totp, enrol_staff


class Command(BaseCommand):
    help = "Create (or update) a staff account in a municipality and print its TOTP set-up URI."

    def add_arguments(self, parser):
        parser.add_argument("--municipality", required=True, metavar="CODE")
        parser.add_argument("--username", required=True)
        parser.add_argument("--role", required=True, choices=[r.value for r in Membership.Role])
        parser.add_argument("--department", metavar="DEPARTMENT_CODE")
        parser.add_argument("--cashier", action=argparse.BooleanOptionalAction, default=None,
                            help="会計担当: may record counter payments and refunds (--no-cashier takes it away)")

    def handle(self, *args, municipality, username, role, department, cashier=None, **options):
        found = Municipality.objects.filter(code=municipality).first()
        if found is None:
            raise CommandError(f"--municipality {municipality}: no such municipality", returncode=2)
        dept = None
        if department:
            dept = Department.unscoped.filter(municipality=found, code=department).first()
            if dept is None:
                raise CommandError(f"--department {department}: no such department in {municipality}", returncode=2)
        if not username.isascii() or len(username) > 150 or not username.strip():
            raise CommandError("--username must be 1–150 ASCII characters", returncode=2)
        password = secrets.token_urlsafe(18)
        user, membership, device, created = enrol_staff(found, username, role, dept, password=password,
                                                        cashier=cashier)
        cashier_note = " (会計担当 / cashier)" if membership.cashier else ""
        self.stdout.write(f"{'created' if created else 'updated'} {username} in {found.code} as {role}{cashier_note}")
        self.stdout.write(f"password (shown once): {password}")
        self.stdout.write(f"TOTP: {device.config_url}")
        self.stdout.write(f"code now: {current_totp(device)}")
