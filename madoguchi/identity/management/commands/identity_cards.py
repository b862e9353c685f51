"""`madoguchi identity_cards list | check [--refuse] | release SHA256`: the operator's view of
card certificates refused as two-card mixtures (docs/ceremony.md, "One card")."""

import re

from cryptography import x509
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from madoguchi.identity.models import CardCredential, RefusedCertificate
from madoguchi.identity.services import CertificateRef, refuse_mixture, release_card
from madoguchi.pki import pairing
from madoguchi.pki.commands import load_trust


def _usage(message: str) -> CommandError:
    return CommandError(message, returncode=2)


class Command(BaseCommand):
    help = "Card certificates refused as two-card mixtures: list them, check existing links, release one."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        sub.add_parser("list", help="the refused certificates (SHA-256, purpose, reason, when)")
        check = sub.add_parser("check", help="linked credentials whose Person has no signature certificate of "
                                             "the same card; with --refuse, list them as refused")
        check.add_argument("--refuse", action="store_true")
        release = sub.add_parser("release", help="release a refused certificate after checking the card in person")
        release.add_argument("sha256")

    def handle(self, *args, action, **options):
        if action == "list":
            for r in RefusedCertificate.objects.order_by("refused_at"):
                self.stdout.write(f"{r.sha256} {r.purpose} {r.reason} {r.refused_at.isoformat()} x{r.times}")
            return
        if action == "release":
            sha256 = options["sha256"].lower()
            if not re.fullmatch(r"[0-9a-f]{64}", sha256):
                raise _usage("release: SHA256 is 64 hex digits")
            if not release_card(sha256):
                raise _usage(f"release: {sha256} is not a refused certificate")
            self.stdout.write(f"released {sha256}")
            return
        self._check(options["refuse"])

    def _check(self, refuse: bool) -> None:
        """Every Person's authentication credentials against its signature credentials: one
        of them must be of the same card (a signature certificate re-issued later for the
        same card passes, as `identify` accepts it for a known card)."""
        trust = load_trust(str(settings.DATA_DIR))
        by_person: dict[int, dict[str, list]] = {}
        for c in CardCredential.objects.order_by("pk"):
            by_person.setdefault(c.person_id, {"auth": [], "sign": []})[c.purpose].append(c)
        checked = flagged = 0
        for person_id, creds in by_person.items():
            for auth_cred in creds["auth"]:
                checked += 1
                reason = self._reason(trust, auth_cred, creds["sign"])
                if reason is None:
                    continue
                flagged += 1
                self.stdout.write(f"person {auth_cred.person.public_id}: auth {auth_cred.sha256} {reason}")
                if refuse and creds["sign"]:
                    refuse_mixture(CertificateRef.from_der(bytes(auth_cred.certificate)),
                                   CertificateRef.from_der(bytes(creds["sign"][0].certificate)), reason)
        self.stdout.write(f"{checked} authentication credentials checked, {flagged} without a signature "
                          f"certificate of the same card{' (listed as refused)' if refuse and flagged else ''}")

    @staticmethod
    def _reason(trust, auth_cred, sign_creds) -> str | None:
        auth = x509.load_der_x509_certificate(bytes(auth_cred.certificate))
        auth_ca = trust.issuer_of(auth, "auth")
        reasons = []
        for sign_cred in sign_creds:
            sign = x509.load_der_x509_certificate(bytes(sign_cred.certificate))
            sign_ca = trust.issuer_of(sign, "sign")
            if auth_ca is None or sign_ca is None:
                reasons.append("untrusted")
                continue
            reason = pairing.mismatch(auth, auth_ca.cert, sign, sign_ca.cert)
            if reason is None or (reason == pairing.NOT_BEFORE
                                  and sign.not_valid_before_utc > auth.not_valid_before_utc):
                return None
            reasons.append(reason)
        return reasons[0] if reasons else "no_signature_certificate"
