"""Seeds a real server's data for the live terminal test (run as a separate process with the
server's environment): `python -m tests.citizencard.seed_live DATA_DIR CARDS_DIR [TERMINAL_PUBLIC_KEY_FILE]`.

The server's development CA issues two virtual cards (the second one's authentication
certificate revoked), their CRLs are imported into the server's CRL store (as `madoguchi pki
crl import` does), an administrator is enrolled, tickets are offered and a ticket type made,
and 窓口 花子 — signed in earlier with the first card — holds a ticket bound to it; with a
public key file, a gate terminal is registered with it.
Prints JSON: the administrator's password and TOTP secret, the ticket type's id."""

import base64
import datetime as dt
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")

import django  # noqa: E402

django.setup()

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

from madoguchi.card import virtual  # noqa: E402
from madoguchi.citizencard import services  # noqa: E402
from madoguchi.core.dates import today_in_japan  # noqa: E402
from madoguchi.identity.models import CardCredential, Person  # noqa: E402
from madoguchi.identity.services import CertificateRef  # noqa: E402
from madoguchi.municipalities.models import Municipality  # noqa: E402
from madoguchi.municipalities.tenancy import tenant  # noqa: E402
from madoguchi.pki.commands import load_trust  # noqa: E402
from madoguchi.pki.crlindex import RevocationStore, crl_dir  # noqa: E402
from madoguchi.pki.devca import DevCA  # noqa: E402
from madoguchi.staff.models import Membership  # noqa: E402
from madoguchi.staff.services import enrol_staff  # noqa: E402

PASSWORD = "a-long-seed-password"
HOLDER = virtual.Holder(name="窓口\u3000花子", address="東京都窓口市本町一丁目1番1号", birth=dt.date(1990, 1, 2), sex="2")


def auth_der(card_dir: Path) -> bytes:
    return base64.b64decode(json.loads((card_dir / "card.json").read_text())["jpki"]["auth_cert"])


def main(data_dir: Path, cards: Path, terminal_key: Path | None = None, terminal_service: str = "tickets") -> dict:
    ca = DevCA.open(data_dir)
    good = virtual.issue(cards / "hanako", ca, HOLDER, "1234", "ABC123", "5678")
    revoked = virtual.issue(cards / "revoked", ca, HOLDER, "1234", "ABC123", "5678")
    ca.revoke(x509.load_der_x509_certificate(auth_der(revoked)).serial_number, x509.ReasonFlags.key_compromise)
    trust, store = load_trust(str(data_dir)), RevocationStore(crl_dir(data_dir))
    for purpose in ("auth", "sign"):
        store.import_crl(ca.crl(purpose).public_bytes(serialization.Encoding.DER), trust)

    municipality = Municipality.objects.create(code="139998", name="窓口市", name_kana="まどぐちし")
    user, _, device, _ = enrol_staff(municipality, "ticket-admin", Membership.Role.ADMINISTRATOR, None,
                                     password=PASSWORD)
    with tenant(municipality):
        services.set_enabled(user, "tickets", True)
        concert = services.create_ticket_type(user, event="市民音楽祭", day=today_in_japan(), admission="一般")
        person = Person.objects.create(verified_name=HOLDER.name, verified_birth_date=HOLDER.birth, verified_sex="2",
                                       verified_address=HOLDER.address, verified_at=dt.datetime.now(dt.timezone.utc))
        ref = CertificateRef.from_der(auth_der(good))
        CardCredential.objects.create(person=person, purpose="auth", certificate=ref.der, sha256=ref.sha256,
                                      issuer_key_id=ref.issuer_key_id, serial=ref.serial, not_after=ref.not_after)
        ticket = services.bind_ticket(person, concert.public_id)
        terminal = None
        if terminal_key is not None:  # registered as staff do on the terminals page
            gate = terminal_service == "tickets"
            terminal = services.register_terminal(user, name="東口ゲート" if gate else "自動貸出機",
                                                  place="市民ホール" if gate else "中央図書館",
                                                  service_key=terminal_service, public_key=terminal_key.read_text(),
                                                  ticket_type_id=concert.pk if gate else None)
    return {"username": "ticket-admin", "password": PASSWORD, "totp": base64.b32encode(device.bin_key).decode(),
            "ticket_type": concert.pk, "ticket": str(ticket.public_id),
            "terminal": str(terminal.public_id) if terminal else None}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]) if len(sys.argv) > 3 else None)))
