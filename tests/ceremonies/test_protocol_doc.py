"""docs/ceremony.md's worked example is what the code produces."""

import hashlib
import re
from pathlib import Path

from madoguchi.pki.verify import OID_CEREMONY_BINDING
from madoguchi.protocol.ceremony import DOMAIN_PREFIX, identify_binding_from_digests, to_be_signed

DOC = (Path(__file__).resolve().parents[2] / "docs" / "ceremony.md").read_text(encoding="utf-8")


def field(name: str) -> str:
    return re.search(rf"^{re.escape(name)}\s+(\S+)$", DOC, re.MULTILINE).group(1)


def test_the_documented_example_matches_the_code():
    tbs = to_be_signed(field("ceremony id"), bytes.fromhex(field("challenge")), field("audience"), field("purpose"))
    assert tbs.hex() == field("TBS (hex)")
    assert hashlib.sha256(tbs).hexdigest() == field("SHA-256(TBS)")


def test_the_documented_identify_example_matches_the_code():
    tbs = DOMAIN_PREFIX + identify_binding_from_digests(
        field("identify ceremony id"), bytes.fromhex(field("identify challenge")), field("identify audience"),
        bytes.fromhex(field("auth certificate SHA-256")), bytes.fromhex(field("sign certificate SHA-256")))
    assert tbs.hex() == field("identify TBS (hex)")
    assert hashlib.sha256(tbs).hexdigest() == field("identify SHA-256(TBS)")


def test_the_documented_prefix_and_oid_are_the_codes():
    assert DOMAIN_PREFIX == b"madoguchi-ceremony-v1\x00" and len(DOMAIN_PREFIX) == 22
    assert f"attribute type   {OID_CEREMONY_BINDING}" in DOC


def test_every_error_code_is_documented():
    from madoguchi.ceremonies import errors

    codes = {code for code, _ in errors.VERDICT_CODES.values()}
    codes |= {f().code for f in (errors.not_found, errors.expired, errors.already_used, errors.wrong_audience,
                                 errors.wrong_ceremony, errors.malformed, errors.unknown_card, errors.forbidden,
                                 errors.rate_limited, errors.card_mismatch, errors.card_refused)}
    for code in codes:
        assert f"`{code}`" in DOC, code
