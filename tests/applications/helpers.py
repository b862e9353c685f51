import datetime as dt
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from madoguchi.pki import cms
from madoguchi.pki.verify import ceremony_attribute


def key() -> str:
    return uuid.uuid4().hex


def sign(card, version, person, data, uploads=(), ceremony_id=None, challenge=b"\0" * 32,
         audience=None, document=None):
    """What a `sign` ceremony yields: the prepared canonical bytes and the card's CMS over them.
    Without a ceremony_id a real `sign` ceremony of the version's municipality is opened over
    the document's digest and completed with the CMS (as the card client does), since
    submit() checks the CMS's binding against it; with one, the CMS names that (fake) one."""
    # Imported here: this module's number helpers serve processes without Django set up
    # (tests/individual_numbers.py in a benchmark's database drop).
    from madoguchi.applications.services import Signed, prepare

    document = document if document is not None else prepare(version, person, data, uploads).document
    audience = audience or f"{version.municipality.code}:portal"
    if ceremony_id is not None:
        return Signed(document=document, cms=card_cms(card, document, ceremony_id, challenge, audience))
    import base64
    import hashlib

    from madoguchi.ceremonies import errors, services as ceremonies
    from madoguchi.municipalities.tenancy import tenant

    with tenant(version.municipality):
        ceremony, _token = ceremonies.open_ceremony("sign", audience=audience, requester="test", reason="test",
                                                    document_sha256=hashlib.sha256(document).hexdigest())
        cms_bytes = card_cms(card, document, ceremony.public_id, bytes(ceremony.challenge), audience)
        try:
            ceremonies.complete(ceremony.public_id, {"audience": audience,
                                                     "cms": base64.urlsafe_b64encode(cms_bytes).decode()})
        except errors.CeremonyError:
            pass  # what submit() then says about it is under test
    return Signed(document=document, cms=cms_bytes)


def card_cms(card, document: bytes, ceremony_id: str, challenge: bytes, audience: str) -> bytes:
    """The detached CAdES-BES a card's signature key makes in a `sign` ceremony (docs/ceremony.md)."""
    def signer(digest_info: bytes) -> bytes:
        return card.issued.sign_key.sign(digest_info[-32:], padding.PKCS1v15(), Prehashed(hashes.SHA256()))

    return cms.sign_detached(document, card.issued.sign_cert.public_bytes(serialization.Encoding.DER), signer,
                             extra_attributes=[ceremony_attribute(ceremony_id, challenge, audience, "sign")],
                             signing_time=dt.datetime.now(dt.timezone.utc))


JUMINHYO = {"applicant_name": "窓口　太郎", "applicant_birth_date": "1980-04-01",
            "applicant_address": "東京都窓口市本町一丁目1番1号", "phone": "03-0000-0000", "scope": "household",
            "copies": 2, "purpose": "employment", "delivery": "registered"}
SODAI = {"applicant_name": "窓口　太郎", "collection_address": "東京都窓口市本町一丁目1番1号", "phone": "03-0000-0000",
         "items": "タンス1、自転車1", "small_items": 1, "large_items": 1, "collection_date": None}
RISAI = {"applicant_name": "窓口　太郎", "applicant_birth_date": "1980-04-01",
         "applicant_address": "東京都窓口市本町一丁目1番1号", "phone": "03-0000-0000", "disaster": "令和8年台風第10号",
         "damage_date": "2026-09-01", "property_address": "東京都窓口市本町一丁目1番1号", "property_kind": "dwelling",
         "relation": "owner", "damage": ["flood_below_floor"], "copies": 1}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def synthetic_number(seed: int) -> str:
    """A 12-digit number with a check digit by the published rule, computed here independently
    of the code under test. Made at run time: no individual number, real-looking or not, is
    committed."""
    body = f"{(seed * 7919 + 12345678901) % 10**11:011d}"
    r = sum(int(d) * w for d, w in zip(body, (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2))) % 11
    return body + str(0 if r <= 1 else 11 - r)


def wrong_check_digit(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def masked(number: str) -> str:
    return f"{number[:4]} **** ****"


def as_typed(number: str) -> str:
    """As a phone keyboard may type it: full-width digits in groups of four."""
    wide = number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    return f"{wide[:4]} {wide[4:8]} {wide[8:]}"
