"""`madoguchi documents install-key`: install a municipality's real document-signing key and
certificate (replacing the development LGPKI identity)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from madoguchi.audit.services import record
from madoguchi.municipalities.models import Municipality
from madoguchi.pki import lgpki


class Command(BaseCommand):
    help = "install a municipality's document-signing key and certificate (PEM)"

    def add_arguments(self, parser):
        parser.add_argument("--municipality", required=True)
        parser.add_argument("--key", required=True, help="private key, PEM (PKCS#8 or traditional)")
        parser.add_argument("--cert", required=True, help="certificate, PEM (intermediates may follow)")
        parser.add_argument("--chain", default="", help="intermediate CA certificates, PEM")

    def handle(self, *args, municipality, key, cert, chain, **options):
        found = Municipality.objects.filter(code=municipality).first()
        if found is None:
            raise CommandError(f"no municipality {municipality}", returncode=2)
        try:
            key_pem, cert_pem = Path(key).read_bytes(), Path(cert).read_bytes()
            chain_pem = Path(chain).read_bytes() if chain else b""
        except OSError as exc:
            raise CommandError(f"cannot read {exc.filename}: {exc.strerror}", returncode=2) from None
        try:
            identity = lgpki.install(settings.DATA_DIR, found.code, key_pem, cert_pem, chain_pem)
        except lgpki.LGPKIError as exc:
            raise CommandError(str(exc), returncode=2) from None
        from madoguchi.documents import services

        services.forget_signers()
        record("documents.signing_key_installed", municipality=found, data={
            "subject": identity.certificate.subject.rfc4514_string()[:200],
            "serial": format(identity.certificate.serial_number, "x"),
            "not_after": identity.certificate.not_valid_after_utc.isoformat()})
        self.stdout.write(f"installed the document-signing key of {found.code}: "
                          f"{identity.certificate.subject.rfc4514_string()} "
                          f"(valid until {identity.certificate.not_valid_after_utc:%Y-%m-%d})")
