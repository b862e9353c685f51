"""Seeds a real server for the live self-checkout test (a separate process with the server's
environment): `python -m tests.library.seed_live DATA_DIR CARDS_DIR TERMINAL_PUBLIC_KEY_FILE`.

What tests.citizencard.seed_live seeds (窓口 花子's card and a revoked one, an
administrator; the terminal with the given key is the library's self-checkout kiosk), then: the library card offered, 中央図書館
(`chuo`) with a credential written to DATA_DIR/library-credential, 花子's 利用者番号 A0012345
linked, a renewed card of 花子 (a new card, the same Person) and a card of someone who linked
nothing. Prints JSON: what the citizen card seed prints, the credential file and the number."""

import json
import sys
from pathlib import Path

from tests.citizencard import seed_live  # noqa: I001  (sets Django up)

from madoguchi.card import virtual  # noqa: E402
from madoguchi.citizencard import services as cards  # noqa: E402
from madoguchi.identity.models import CardCredential, Person  # noqa: E402
from madoguchi.identity.services import CertificateRef  # noqa: E402
from madoguchi.library import services  # noqa: E402
from madoguchi.municipalities.models import Municipality  # noqa: E402
from madoguchi.municipalities.tenancy import tenant  # noqa: E402
from madoguchi.pki.devca import DevCA  # noqa: E402
from madoguchi.staff.models import Membership  # noqa: E402

PATRON_NUMBER = "A0012345"
STRANGER = virtual.Holder(name="見本\u3000次郎", address="東京都窓口市本町二丁目2番2号",
                          birth=seed_live.HOLDER.birth, sex="1")


def main(data_dir: Path, cards_dir: Path, terminal_key: Path) -> dict:
    seed = seed_live.main(data_dir, cards_dir, terminal_key, terminal_service="library")
    ca = DevCA.open(data_dir)
    renewed = virtual.issue(cards_dir / "hanako-renewed", ca, seed_live.HOLDER, "1234", "ABC123", "5678")
    virtual.issue(cards_dir / "stranger", ca, STRANGER, "1234", "ABC123", "5678")
    municipality = Municipality.objects.get(code="139998")
    user = Membership.unscoped.get(municipality=municipality).user
    with tenant(municipality):
        cards.set_enabled(user, "library", True)
        _library, credential = services.create_library(user, code="chuo", name="中央図書館")
        hanako = Person.objects.get()
        services.link(hanako, "chuo", PATRON_NUMBER)
        ref = CertificateRef.from_der(seed_live.auth_der(renewed))  # she signed in once with her new card
        CardCredential.objects.create(person=hanako, purpose="auth", certificate=ref.der, sha256=ref.sha256,
                                      issuer_key_id=ref.issuer_key_id, serial=ref.serial, not_after=ref.not_after)
    credential_file = data_dir / "library-credential"
    credential_file.write_text(credential)
    return dict(seed, library="chuo", library_credential_file=str(credential_file), patron_number=PATRON_NUMBER)


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))))
